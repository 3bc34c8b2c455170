// Package payments provides paygate's two payment handlers: payments
// (module http.handlers.payments, directive payments), the small upstream
// that the whole pipeline protects, which serves paygate's payment API
// (internal/payapi) on Stripe (payment intents, setup intents, saved cards,
// the right to deletion), computing every amount from the server's catalog;
// and payment_events (module http.handlers.payment_events, directive
// payment_events), which processes the Stripe events that the webhook stage
// has verified.
//
// The caller is the user of Caddy's {http.auth.user.id} placeholder, set by
// the authentication stage before this handler runs. The handler keeps the
// user -> Stripe customer mapping and writes the ownership index
// (internal/ownership) that the policy stage reads, and checks ownership
// itself too: an unknown or foreign ID is 404 resource_missing either way.
package payments

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/catalog"
	"github.com/paygate/paygate/internal/noexec"
	"github.com/paygate/paygate/internal/ownership"
	"github.com/paygate/paygate/internal/secretref"
	"github.com/paygate/paygate/internal/store"
)

func init() {
	caddy.RegisterModule(Handler{})
	caddy.RegisterModule(EventProcessor{})
}

// Defaults and bounds of the configuration.
const (
	defaultTimeout    = 10 * time.Second
	defaultRetries    = 2
	maxNetworkRetries = 10
)

// Handler serves the payment API.
type Handler struct {
	// StripeKey is the Stripe secret (sk_) or restricted (rk_) key, given
	// only as one {env.NAME} or {file.PATH} placeholder, never literally.
	// Required. A live key (sk_live_, rk_live_) is refused
	// unless api_base is https and the server this handler runs in serves
	// TLS (or BehindTLSProxy is set).
	StripeKey string `json:"stripe_key,omitempty"`

	// APIBase is the origin of Stripe's API: default
	// https://api.stripe.com; stripe-mock's in tests and `make run`.
	// Placeholders are replaced at start-up.
	APIBase string `json:"api_base,omitempty"`

	// Catalog is the path of the price catalog (see internal/catalog), the
	// only source of amounts. Required; placeholders are
	// replaced at start-up.
	Catalog string `json:"catalog,omitempty"`

	// Timeout bounds each Stripe call, its network retries included.
	// Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// MaxNetworkRetries is how many times stripe-go retries a call that
	// failed in a way Stripe documents as safe to retry (a connection
	// error, 409, 503, ...), with the same Idempotency-Key. Default: 2;
	// at most 10.
	MaxNetworkRetries *int `json:"max_network_retries,omitempty"`

	// BehindTLSProxy declares that, on a server without TLS, this handler
	// is reached only through a load balancer that terminated TLS: the
	// server's trusted_proxies name it, and tls_enforce before this handler
	// refuses whatever it did not forward as https. A live key is then
	// accepted on that server. Default: false (a live key on a server
	// without TLS is refused).
	BehindTLSProxy bool `json:"behind_tls_proxy,omitempty"`

	store   store.Store
	catalog *catalog.Catalog
	stripe  *stripeAPI
	logger  *zap.Logger
	audit   *zap.Logger
	// live is set for a live Stripe key, which is used only over TLS.
	live bool
	// plainServer is set when the server this handler runs in has no TLS
	// connection policy, so that it serves plain HTTP only.
	plainServer bool
	// apiBaseHTTPS is set when api_base is an https origin.
	apiBaseHTTPS bool
	// unregisterResolver ends this handler's service as the store's
	// ownership resolver (heal.go).
	unregisterResolver func()
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.payments",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision resolves the key, the API base and the catalog, and sets up the
// Stripe client; Validate then refuses what is unsafe.
func (h *Handler) Provision(ctx caddy.Context) error {
	if err := registerMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("payments: %w", err)
	}
	s, err := store.FromContext(ctx)
	if err != nil {
		return fmt.Errorf("payments: %w", err)
	}
	// Which server runs this handler is known while it is provisioned;
	// one without TLS connection policies serves plain HTTP only.
	if srv, ok := ctx.Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server); ok {
		h.plainServer = len(srv.TLSConnPolicies) == 0
	}
	if err := h.setUp(s, ctx.Logger(), audit.Logger(ctx), caddy.NewReplacer()); err != nil {
		return err
	}
	// Owners the store lost are found on Stripe, by the policy stage's
	// lookups as well as this handler's.
	if hl := ownership.HealerOf(s); hl != nil {
		h.unregisterResolver = hl.Register(h)
	}
	return nil
}

// setUp is Provision without Caddy's context: tests call it with their own
// store and loggers.
func (h *Handler) setUp(s store.Store, logger, auditLogger *zap.Logger, repl *caddy.Replacer) error {
	h.store, h.logger, h.audit = s, logger, auditLogger
	// The checks that need nothing resolved come first, so that a
	// missing option is reported as such rather than as what it breaks.
	if err := h.checkConfig(); err != nil {
		return err
	}
	if h.APIBase == "" {
		h.APIBase = defaultAPIBase
	}
	if h.Timeout == 0 {
		h.Timeout = caddy.Duration(defaultTimeout)
	}
	if h.MaxNetworkRetries == nil {
		n := defaultRetries
		h.MaxNetworkRetries = &n
	}

	key, err := repl.ReplaceOrErr(h.StripeKey, false, true)
	if err != nil {
		return fmt.Errorf("payments: stripe_key: %w", err)
	}
	h.live = isLiveKey(key)

	base, err := repl.ReplaceOrErr(h.APIBase, true, true)
	if err != nil {
		return fmt.Errorf("payments: api_base: %w", err)
	}
	u, err := parseAPIBase(base)
	if err != nil {
		return fmt.Errorf("payments: %w", err)
	}
	h.apiBaseHTTPS = u.Scheme == "https"

	path, err := repl.ReplaceOrErr(h.Catalog, true, true)
	if err != nil {
		return fmt.Errorf("payments: catalog: %w", err)
	}
	if h.catalog, err = catalog.Load(path); err != nil {
		return fmt.Errorf("payments: %w", err)
	}

	if err := checkKey(key); err != nil {
		return fmt.Errorf("payments: %w", err)
	}
	h.stripe = newStripeAPI(key, u.Scheme+"://"+u.Host, int64(*h.MaxNetworkRetries))
	return nil
}

// Validate refuses an unsafe or incomplete configuration: the checks of
// the options themselves, and those of a live key against where it would
// be sent and served.
func (h *Handler) Validate() error {
	if err := h.checkConfig(); err != nil {
		return err
	}
	switch {
	case h.live && !h.apiBaseHTTPS:
		return errors.New("payments: a live Stripe key is only sent to an https api_base")
	case h.live && h.plainServer && !h.BehindTLSProxy:
		return errors.New("payments: a live Stripe key on a server without TLS: serve this site over HTTPS, or set behind_tls_proxy behind a load balancer that terminates TLS")
	}
	return nil
}

// checkConfig checks the options as configured, before anything is
// resolved.
func (h *Handler) checkConfig() error {
	switch {
	case h.StripeKey == "":
		return errors.New("payments: stripe_key is required")
	case !secretref.Valid(h.StripeKey):
		return errors.New("payments: stripe_key must be one {env.NAME} or {file.PATH} placeholder, never the key itself")
	case h.Catalog == "":
		return errors.New("payments: catalog is required")
	case h.Timeout < 0:
		return errors.New("payments: timeout must not be negative")
	case h.MaxNetworkRetries != nil && (*h.MaxNetworkRetries < 0 || *h.MaxNetworkRetries > maxNetworkRetries):
		return fmt.Errorf("payments: max_network_retries must be 0 to %d", maxNetworkRetries)
	}
	return nil
}

// Cleanup stops resolving owners for the store and closes the Stripe
// client's idle connections.
func (h *Handler) Cleanup() error {
	if h.unregisterResolver != nil {
		h.unregisterResolver()
	}
	if h.stripe != nil {
		h.stripe.transport.CloseIdleConnections()
	}
	return nil
}

// ServeHTTP serves the payment API; it never calls the next handler.
// Responses are never cacheable.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	w.Header().Set("Cache-Control", "no-store")
	err := h.serveAPI(w, r)
	if err != nil && !calledStripe(r) {
		// Refused before anything was done: the idempotency stage does
		// not keep this answer, so the corrected request may run under
		// the same key.
		noexec.Mark(r)
	}
	return err
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ ownership.Resolver          = (*Handler)(nil)
)
