package opaauthz

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/payapi"
	"github.com/paygate/paygate/internal/store"
)

// Results of a request, stable codes that are also the values of the
// result label of paygate_policy_decisions_total and the reason of the
// audit event of a refusal (a deny's reason is the policy's).
const (
	resultAllow = "allow"
	// resultDeny: the policy answered with allow other than true.
	resultDeny = "deny"
	// resultUndefined: the query had no result.
	resultUndefined = "undefined"
	// resultInvalid: the query had more than one result, or its value was
	// not an object.
	resultInvalid = "invalid_result"
	// resultEvalError: the evaluation failed.
	resultEvalError = "eval_error"
	// resultInvalidPath: the path was refused before evaluation.
	resultInvalidPath = "invalid_path"
	// resultUnavailable: no policy has activated yet.
	resultUnavailable = "policy_unavailable"
	// resultStoreUnavailable: the owner could not be looked up.
	resultStoreUnavailable = "store_unavailable"
)

// results lists every result, so that each counter exists from the start.
var results = []string{resultAllow, resultDeny, resultUndefined, resultInvalid, resultEvalError, resultInvalidPath, resultUnavailable, resultStoreUnavailable}

// The errors the handler returns. errResourceMissing is, field for field,
// the error a client gets for a resource that does not exist (apierror's
// answer to a 404), so that a denied resource and an absent one cannot be
// told apart.
var (
	errResourceMissing   = apierror.ResourceMissing
	errForbidden         = apierror.New(http.StatusForbidden, apierror.TypePermission, "forbidden", "You are not allowed to do this.")
	errInvalidPath       = apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, "invalid_path", "The request path is not valid.")
	errPolicyUnavailable = apierror.New(http.StatusServiceUnavailable, apierror.TypeAPI, "policy_unavailable", "The service is temporarily unavailable. Please retry.")
)

// decision is the outcome for one request.
type decision struct {
	// result is one of the result constants.
	result string
	// reason is the policy's reason for a deny, as it gave it.
	reason string
	// id is the decision ID, as in the decision log; "" when no policy ran.
	id string
	// err is the internal cause (evaluation error, path or store error).
	err error
}

func (d decision) allowed() bool { return d.result == resultAllow }

// interpret turns the query's results into a decision: only a single
// object result whose "allow" is true allows.
func interpret(rs rego.ResultSet, err error) decision {
	switch {
	case err != nil:
		return decision{result: resultEvalError, err: err}
	case len(rs) == 0:
		return decision{result: resultUndefined}
	case len(rs) > 1:
		return decision{result: resultInvalid, err: fmt.Errorf("%d results, want one", len(rs))}
	}
	obj, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return decision{result: resultInvalid, err: fmt.Errorf("the decision is a %T, want an object", rs[0].Expressions[0].Value)}
	}
	reason, _ := obj["reason"].(string)
	if allow, _ := obj["allow"].(bool); allow {
		return decision{result: resultAllow, reason: reason}
	}
	return decision{result: resultDeny, reason: reason}
}

// refusalFor is the decision for a request refused before evaluation.
func refusalFor(err error) decision {
	if errors.Is(err, payapi.ErrAmbiguousPath) {
		return decision{result: resultInvalidPath, err: err}
	}
	// Every other failure of the owner lookup fails closed like an
	// unavailable store: the answer must not depend on why.
	if !errors.Is(err, store.ErrUnavailable) {
		err = fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return decision{result: resultStoreUnavailable, err: err}
}

// apiError is the error the client gets for a refused request; on a
// resource route a deny is indistinguishable from a missing resource.
func (d decision) apiError(resourceRoute bool) *apierror.Error {
	switch d.result {
	case resultInvalidPath:
		return errInvalidPath.WithCause(d.err)
	case resultStoreUnavailable:
		return apierror.StoreUnavailable.WithCause(d.err)
	case resultUnavailable:
		return errPolicyUnavailable.WithCause(errors.New("no policy is active"))
	}
	cause := fmt.Errorf("policy decision %s: %s, reason %q", d.id, d.result, d.reason)
	if d.err != nil {
		cause = fmt.Errorf("%w: %w", cause, d.err)
	}
	if resourceRoute {
		return errResourceMissing.WithCause(cause)
	}
	return errForbidden.WithCause(cause)
}

// auditReason is the reason code of the audit event: the policy's reason
// for a deny (when it is a short code), else the result.
func (d decision) auditReason() string {
	if d.result == resultDeny && validReason(d.reason) {
		return d.reason
	}
	return d.result
}

// validReason reports whether a policy's reason is a code fit for the audit
// log: 1 to 64 lower-case letters, digits, '_', '.' or '-'.
func validReason(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}
