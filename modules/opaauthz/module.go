// Package opaauthz provides the opa_authz HTTP handler: it asks an embedded
// OPA (Open Policy Agent) whether the authenticated caller may perform the
// request, with the owner of the addressed resource looked up in paygate's
// ownership index, and refuses the request when the policy does not allow
// it.
//
// Each request takes three small steps, as in OPA's Envoy plug-in:
// request -> input document (input.go), evaluation of a query prepared once
// per policy activation (engine.go), decision -> response (decision.go).
// Policies come from a local directory or from an OPA bundle service
// (polling with ETag, signature verification, persistence of the last good
// bundle); decisions are logged through OPA's decision-log plug-in with
// masking.
package opaauthz

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/claimname"
	"github.com/paygate/paygate/internal/health"
	pgmetrics "github.com/paygate/paygate/internal/metrics"
	"github.com/paygate/paygate/internal/offline"
	"github.com/paygate/paygate/internal/ownership"
	"github.com/paygate/paygate/internal/payapi"
	"github.com/paygate/paygate/internal/reqid"
	"github.com/paygate/paygate/internal/store"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler decides, by policy, whether the caller may perform the request.
//
// A request is refused before the policy runs when its path could be read
// two ways (400 invalid_path): any percent-encoding, a character other than
// '/' and RFC 3986's unreserved ones (so no backslash, ';' or NUL), a dot
// or empty segment, or a case variant of a route template's literal.
//
// The policy's decision must be an object whose "allow" is true; anything
// else (false, undefined, an evaluation error, another type) is a deny. A
// deny on a route that addresses one resource is 404 resource_missing, the
// same response as for a resource that does not exist, so that a caller
// cannot learn which IDs exist; any other deny is 403 forbidden. Until a
// policy is active the handler refuses every request with 503
// policy_unavailable.
//
// Method-override headers (X-HTTP-Method-Override, X-HTTP-Method,
// X-Method-Override, in any case and with '_' for '-') are removed from every
// request, so that no later stage or upstream acts on a method other than the
// one the policy saw.
type Handler struct {
	// PolicyDir is a directory of Rego policies and JSON/YAML data (or an
	// OPA bundle .tar.gz file) loaded at each config load; a policy that does
	// not compile makes the config invalid. Test files (*_test.rego) are
	// skipped; placeholders are resolved. Exactly one of PolicyDir and
	// Bundle is required.
	PolicyDir string `json:"policy_dir,omitempty"`

	// Bundle downloads the policy from an OPA bundle service and keeps
	// polling it for new revisions.
	Bundle *BundleConfig `json:"bundle,omitempty"`

	// Query is the Rego query whose single value is the decision, normally a
	// reference to a rule. Default: data.paygate.authz.decision.
	Query string `json:"query,omitempty"`

	// StartupWait is how long a config load waits for the first policy to
	// activate (a bundle to download, verify and compile). After it the
	// config runs anyway and the handler refuses requests with 503
	// policy_unavailable until a policy activates. Default: 10s. Handlers
	// that share one bundle engine (the same bundle settings on two sites,
	// or a reload that keeps them) wait once, counted from when the engine
	// started.
	StartupWait caddy.Duration `json:"startup_wait,omitempty"`

	// MaxBundleAge bounds how long ago the bundle service may last have
	// confirmed the active bundle (by serving it, or answering 304 Not
	// Modified for it) before the readiness check "policy" fails: for that
	// long, updates have kept failing (the service unreachable, or its new
	// bundles refused). A bundle that has not changed is confirmed at every
	// poll and never grows old. Only with Bundle. Default: ten times the
	// longest polling delay (20m with the default polling); a negative value
	// turns the bound off.
	MaxBundleAge caddy.Duration `json:"max_bundle_age,omitempty"`

	// Claims lists the claims of the authenticated user copied into
	// input.user.claims, each from the {http.auth.user.<claim>} placeholder
	// that the authentication provider set. Default: none.
	Claims []string `json:"claims,omitempty"`

	// Routes maps path templates to resource types, for an API other than
	// paygate's; a template's "{id}" segment is the resource ID whose owner
	// is looked up. Configured routes replace the default ones, which are
	// paygate's payment API (internal/payapi).
	Routes []Route `json:"routes,omitempty"`

	// DecisionLog configures OPA's decision log. Default: every decision is
	// written to the Caddy log (logger http.handlers.opa_authz.decision_log),
	// masked by the policy's data.paygate.log.mask rule.
	DecisionLog *DecisionLogConfig `json:"decision_log,omitempty"`

	routes  *payapi.Table
	query   *parsedQuery
	engine  *engine
	poolKey string
	store   store.Store
	logger  *zap.Logger
	audit   *zap.Logger
	headers headerSelection
	now     func() time.Time
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.opa_authz",
		New: func() caddy.Module { return new(Handler) },
	}
}

// defaultQuery is the decision the shipped policy (policies/paygate) defines.
const defaultQuery = "data.paygate.authz.decision"

// defaultStartupWait is the default of StartupWait.
const defaultStartupWait = 10 * time.Second

// Provision loads the policy (or starts the bundle downloader) and waits up
// to StartupWait for it to activate. In offline validation (package
// offline) a bundle is neither downloaded nor waited for: its settings and
// keys are checked, and OPA reads its configuration.
func (h *Handler) Provision(ctx caddy.Context) error {
	s, err := store.FromContext(ctx)
	if err != nil {
		return fmt.Errorf("opa_authz: %w", err)
	}
	return h.provision(ctx, ctx.Logger(), audit.Logger(ctx), ctx.GetMetricsRegistry(), s)
}

// provision is Provision with its dependencies passed in.
func (h *Handler) provision(ctx context.Context, logger, auditLogger *zap.Logger, reg prometheus.Registerer, s store.Store) error {
	h.logger, h.audit = logger, auditLogger
	h.store = s
	h.now = time.Now
	if h.Query == "" {
		h.Query = defaultQuery
	}
	if h.StartupWait == 0 {
		h.StartupWait = caddy.Duration(defaultStartupWait)
	}
	if err := h.Validate(); err != nil {
		return err
	}
	// Validate has parsed both; Provision keeps the results.
	h.routes, _ = routeTable(h.Routes)
	h.query, _ = parseQuery(h.Query)
	if err := pgmetrics.Register(reg, collectors()...); err != nil {
		return fmt.Errorf("opa_authz: registering metrics: %w", err)
	}

	cfg, err := h.opaConfig(caddy.NewReplacer())
	if err != nil {
		return fmt.Errorf("opa_authz: %w", err)
	}
	if h.DecisionLog != nil {
		h.headers = newHeaderSelection(h.DecisionLog.Headers)
	}
	// A policy directory is local: offline validation compiles it too.
	if h.Bundle != nil && offline.Skip(h.logger, "the policy bundle's download and the start-up wait", zap.String("bundle", h.source())) {
		if err := checkEngineConfig(cfg, h.logger); err != nil {
			return fmt.Errorf("opa_authz: %w", err)
		}
		return nil
	}
	if err := h.startEngine(cfg); err != nil {
		return fmt.Errorf("opa_authz: %w", err)
	}
	if err := h.waitForPolicy(ctx); err != nil {
		return err
	}
	// Registered once the wait is over: during a reload, the running
	// configuration's check answers until then.
	health.Register(h, "policy", h.source(), h.health)
	return nil
}

// waitForPolicy waits for the first activation until StartupWait after the
// engine started: a handler sharing an engine that another handler (the
// config's other site, or an earlier config) has already waited for waits
// only what is left, or not at all. Not getting one is not an error: the
// handler fails closed until it comes.
func (h *Handler) waitForPolicy(ctx context.Context) error {
	select {
	case <-h.engine.ready:
		return nil
	default:
	}
	if left := h.engine.started.Add(time.Duration(h.StartupWait)).Sub(h.now()); left > 0 {
		timer := time.NewTimer(left)
		defer timer.Stop()
		select {
		case <-h.engine.ready:
			return nil
		case <-timer.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	h.logger.Error("no policy active after the start-up wait; refusing requests with 503 policy_unavailable until a bundle activates",
		zap.Duration("startup_wait", time.Duration(h.StartupWait)))
	return nil
}

// Validate checks the configuration without side effects.
func (h *Handler) Validate() error {
	if (h.PolicyDir == "") == (h.Bundle == nil) {
		return errors.New("opa_authz: exactly one of policy_dir and bundle is required")
	}
	if h.Bundle != nil {
		if err := h.Bundle.validate(); err != nil {
			return fmt.Errorf("opa_authz: bundle: %w", err)
		}
	}
	if h.DecisionLog != nil {
		if err := h.DecisionLog.validate(); err != nil {
			return fmt.Errorf("opa_authz: decision_log: %w", err)
		}
	}
	if _, err := parseQuery(h.Query); err != nil {
		return fmt.Errorf("opa_authz: query: %w", err)
	}
	if h.StartupWait < 0 {
		return errors.New("opa_authz: startup_wait must not be negative")
	}
	if h.MaxBundleAge != 0 && h.Bundle == nil {
		return errors.New("opa_authz: max_bundle_age applies to a bundle only")
	}
	if h.MaxBundleAge > 0 && time.Duration(h.MaxBundleAge) <= h.Bundle.longestPoll() {
		return fmt.Errorf("opa_authz: max_bundle_age %s must be longer than the longest polling delay (%s)", time.Duration(h.MaxBundleAge), h.Bundle.longestPoll())
	}
	for _, c := range h.Claims {
		if !claimname.Valid(c) {
			return fmt.Errorf("opa_authz: claims: invalid claim name %q", c)
		}
	}
	if _, err := routeTable(h.Routes); err != nil {
		return fmt.Errorf("opa_authz: %w", err)
	}
	return nil
}

// Cleanup withdraws the readiness check and releases this config's hold on
// the policy engine.
func (h *Handler) Cleanup() error {
	health.Unregister(h)
	return h.releaseEngine()
}

// ServeHTTP builds the input, evaluates the policy and passes the request on
// only when the policy allows it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	stripMethodOverrides(r.Header)
	in, err := h.buildInput(r)
	if err != nil {
		if gone := apierror.ClientGone(r); gone != nil {
			return gone
		}
		return h.refuse(r, in, refusalFor(err))
	}
	d := h.engine.decide(r.Context(), in, h.headers.record(r.Header), reqid.From(r))
	if !d.allowed() {
		return h.refuse(r, in, d)
	}
	decisions.WithLabelValues(resultAllow).Inc()
	if in.resourceID != "" {
		// The handler behind serves an object's owner only, unless the
		// policy allowed this request on it (the support role's read).
		ownership.GrantForRequest(r.Context(), in.resourceID)
	}
	return next.ServeHTTP(w, r)
}

// refuse counts, audits and returns the refusal for d.
func (h *Handler) refuse(r *http.Request, in *input, d decision) error {
	decisions.WithLabelValues(d.result).Inc()
	e := d.apiError(in.resourceRoute())
	audit.Log(h.audit, r, audit.Event{
		Action:     "policy_denied",
		Outcome:    audit.Denied,
		Actor:      in.sub,
		Resource:   in.auditResource(),
		Reason:     d.auditReason(),
		DecisionID: d.id,
	})
	return caddyhttp.Error(e.Status, e)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
