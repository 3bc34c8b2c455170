package payments

import (
	"errors"
	"io"
	"net/http"
	"unicode"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/mediatype"
	"github.com/paygate/paygate/internal/payapi"
	"github.com/paygate/paygate/internal/scheme"
)

// maxBody bounds a request body of the payment API.
const maxBody = 64 << 10

// userPlaceholder is the authenticated user, set by any Caddy
// authentication provider (jwt_auth, basic_auth).
const userPlaceholder = "http.auth.user.id"

// maxUserID bounds a user ID: it goes into store keys and Stripe metadata
// (whose values hold at most 500 characters).
const maxUserID = 255

// call is one request to the payment API, as the endpoint handlers see it.
type call struct {
	w    http.ResponseWriter
	r    *http.Request
	user string
	// id is the object ID of the path, if the route has one.
	id   string
	body []byte
	// resource is what the audit event names: the object acted on.
	resource string
}

// endpoints serve the payment API's endpoints (internal/payapi), by
// action.
var endpoints = map[string]func(h *Handler, c *call) error{
	"payment_intent.create":  (*Handler).createPaymentIntent,
	"payment_intent.get":     (*Handler).getPaymentIntent,
	"payment_intent.confirm": (*Handler).confirmPaymentIntent,
	"payment_intent.cancel":  (*Handler).cancelPaymentIntent,
	"setup_intent.create":    (*Handler).createSetupIntent,
	"setup_intent.get":       (*Handler).getSetupIntent,
	"payment_method.list":    (*Handler).listPaymentMethods,
	"payment_method.detach":  (*Handler).detachPaymentMethod,
	"customer.erase":         (*Handler).eraseCustomer,
}

// Errors of the dispatch.
var (
	errNotFound        = apierror.ResourceMissing
	errUnauthenticated = apierror.New(http.StatusUnauthorized, apierror.TypeAuthentication, "unauthorized", "Authentication is required.")
	errBodyTooLarge    = apierror.New(http.StatusRequestEntityTooLarge, apierror.TypeInvalidRequest, "body_too_large", "The request body is too large.")
	errLiveKeyPlain    = apierror.New(http.StatusInternalServerError, apierror.TypeAPI, "internal_error", "An internal error occurred.")
)

// serveAPI dispatches a request to its endpoint, then counts and audits it.
func (h *Handler) serveAPI(w http.ResponseWriter, r *http.Request) error {
	if h.live && scheme.Of(r) != "https" {
		// Validate refused live keys on servers without TLS (unless behind
		// a TLS proxy); a request that reached this handler over plain HTTP
		// from anyone but a trusted proxy that says https never uses it.
		h.logger.Error("live Stripe key: refusing a request that did not arrive over TLS",
			zap.Bool("alert", true), zap.String("path", r.URL.Path))
		return caddyhttp.Error(errLiveKeyPlain.Status, errLiveKeyPlain.WithCause(errors.New("live Stripe key on a plain-HTTP request")))
	}
	// An ambiguous path (escaped, dot segments, case variants) names no
	// endpoint; IDs never need escaping.
	m, err := payapi.Default().MatchRequest(r)
	switch {
	case err != nil:
		return caddyhttp.Error(errNotFound.Status, errNotFound.WithCause(err))
	case m.Route == nil:
		return caddyhttp.Error(errNotFound.Status, errNotFound.WithCause(errors.New("no such endpoint")))
	case m.Endpoint == nil:
		e := payapi.MethodNotAllowed(m.Route.Allow())
		return caddyhttp.Error(e.Status, e)
	}

	action := m.Endpoint.Action
	c := &call{w: w, r: r, id: m.ID, resource: m.ID}
	err = h.prepare(c, m.Route)
	if err == nil && m.Endpoint.KeyRequired {
		err = requireIdempotencyKey(r)
	}
	if err == nil {
		err = endpoints[action](h, c)
	}
	h.record(r, action, c.user, c.resource, err)
	if err != nil {
		e := apierror.Resolve(err, http.StatusInternalServerError)
		return caddyhttp.Error(e.Status, err)
	}
	return nil
}

// prepare finds the user, checks the path's ID against the route and reads
// the body.
func (h *Handler) prepare(c *call, rt *payapi.Route) error {
	repl, _ := c.r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl != nil {
		c.user, _ = repl.GetString(userPlaceholder)
	}
	if !validUserID(c.user) {
		c.user = ""
		return errUnauthenticated.WithCause(errors.New("no valid {http.auth.user.id}: is an authentication stage before payments?"))
	}
	if c.id != "" && !rt.ValidID(c.id) {
		// Not an ID: client text that the audit event must not carry.
		c.resource = ""
		return errNotFound.WithCause(errors.New("malformed object ID"))
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errBodyTooLarge.WithCause(err)
		}
		return apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, "bad_request", "The request could not be read.").WithCause(err)
	}
	if len(body) > 0 {
		if err := mediatype.CheckJSON(c.r.Header.Values("Content-Type")); err != nil {
			return apierror.UnsupportedMediaType.WithCause(err)
		}
	}
	c.body = body
	return nil
}

// validUserID accepts what an authentication stage may reasonably set: 1 to
// 255 bytes without control characters.
func validUserID(id string) bool {
	if id == "" || len(id) > maxUserID {
		return false
	}
	for _, r := range id {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return false
		}
	}
	return true
}

// record counts an action and writes its audit event.
func (h *Handler) record(r *http.Request, action, user, resource string, err error) {
	outcome, auditOutcome, code := outcomeSucceeded, audit.Succeeded, ""
	if err != nil {
		e := apierror.Resolve(err, http.StatusInternalServerError)
		code = e.Code
		switch {
		case e.Status == http.StatusPaymentRequired:
			outcome, auditOutcome = outcomeDeclined, audit.Failed
		case e.Status == http.StatusUnauthorized || e.Status == http.StatusNotFound:
			outcome, auditOutcome = outcomeRejected, audit.Denied
		case e.Status < 500:
			outcome, auditOutcome = outcomeRejected, audit.Failed
		default:
			outcome, auditOutcome = outcomeError, audit.Failed
		}
	}
	observe(action, outcome, code)
	audit.Log(h.audit, r, audit.Event{Action: action, Outcome: auditOutcome, Actor: user, Resource: resource, Reason: code})
}
