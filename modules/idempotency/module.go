// Package idempotency provides the http.handlers.idempotency module
// (directive idempotency): a request with an Idempotency-Key runs once,
// however often, wherever and whenever it is retried, and its retries get
// the original answer back (Stripe's idempotent requests; the IETF
// Idempotency-Key draft).
//
// The record of a key lives in the shared store, keyed by the authenticated
// user, the method, the route template and the key: absent -> in flight (a
// lease, renewed while the request runs) -> completed (the response, sealed
// with AES-256-GCM). Each transition is one atomic store call, and every
// release or completion is conditional on the holder's own lease token.
//
// The stage may hold the per-user rate limits (a redis_rate_limit stage, in
// its limits block): a request under a key then takes the lease and is
// decided by the zones in one store round trip (store.AcquireLimit), and a
// replay or a request whose key is in flight never charges them.
package idempotency

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/idemkey"
	"github.com/paygate/paygate/internal/noexec"
	"github.com/paygate/paygate/internal/payapi"
	"github.com/paygate/paygate/internal/ratezone"
	"github.com/paygate/paygate/internal/reqid"
	"github.com/paygate/paygate/internal/secretref"
	"github.com/paygate/paygate/internal/store"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Defaults and bounds of the configuration.
const (
	defaultRetention   = 24 * time.Hour
	defaultLease       = 30 * time.Second
	minLease           = time.Second
	defaultMaxResponse = 64 << 10
	maxMaxResponse     = 1 << 20
	// maxRequestBody bounds the body read for the fingerprint, whatever
	// request_body allows (the API's own limit is lower).
	maxRequestBody = 1 << 20
	// endBudget bounds the store call that ends a request's lease, which
	// runs after the request's own context may be gone.
	endBudget = 5 * time.Second
)

// Handler enforces idempotency on the configured routes.
type Handler struct {
	// Routes are the endpoints the stage applies to, of the payment API's
	// route table. Default: every POST endpoint of the table, with the key
	// required where the table requires it (POST /v1/payment_intents).
	Routes []Route `json:"routes,omitempty"`

	// Retention is how long a completed request's response is kept and
	// replayed. Default: 24h.
	Retention caddy.Duration `json:"retention,omitempty"`

	// Lease is the TTL of an in-flight request's lease, renewed every
	// third of it while the request runs, so only a dead instance's lease
	// expires. Default: 30s; at least 1s.
	Lease caddy.Duration `json:"lease,omitempty"`

	// MaxResponse bounds a stored response body, in bytes; a larger one
	// is passed through once and its key answered with 409
	// idempotency_response_unavailable afterwards, never run again.
	// Default: 64 KiB; at most 1 MiB.
	MaxResponse int64 `json:"max_response,omitempty"`

	// SealKeys are the AES-256 keys stored responses are sealed with
	// (32 bytes, standard base64), each given only as one {env.NAME} or
	// {file.PATH} placeholder. The first seals; all of them open, so a key
	// is rolled by putting the new one first and dropping the old one once
	// Retention has passed. At least one is required.
	SealKeys []string `json:"seal_keys,omitempty"`

	// LimitsRaw is a redis_rate_limit stage (its whole handler config,
	// "handler": "redis_rate_limit" included) that runs as if it followed
	// this one: the per-user zones. A request under an Idempotency-Key has
	// its zones decided in the same store round trip as its key's lease,
	// and a replay, or a request whose key is in flight, never charges
	// them; every other request goes through the stage as usual. Default:
	// none.
	LimitsRaw json.RawMessage `json:"limits,omitempty" caddy:"namespace=http.handlers inline_key=handler"`

	// limits is the loaded LimitsRaw, or nil.
	limits ratezone.Gated
	// routes maps "METHOD /template" to whether the key is required.
	routes map[string]bool
	table  *payapi.Table
	sealer *sealer
	store  store.Store
	logger *zap.Logger
}

// Route is one endpoint the stage applies to.
type Route struct {
	// Method and Template name an endpoint of the route table, e.g. POST
	// and /v1/payment_intents.
	Method   string `json:"method"`
	Template string `json:"template"`
	// Key is "required" (a request without an Idempotency-Key is 400
	// idempotency_key_missing) or "optional" (it passes, not
	// de-duplicated). Default: what the route table says.
	Key string `json:"key,omitempty"`
}

// Key requirements of a Route.
const (
	KeyRequired = "required"
	KeyOptional = "optional"
)

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.idempotency",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision applies the defaults, resolves the seal keys and finds the
// store.
func (h *Handler) Provision(ctx caddy.Context) error {
	if err := registerMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("idempotency: %w", err)
	}
	s, err := store.FromContext(ctx)
	if err != nil {
		return fmt.Errorf("idempotency: %w", err)
	}
	if err := h.setUp(s, ctx.Logger(), caddy.NewReplacer()); err != nil {
		return err
	}
	if h.LimitsRaw == nil {
		return nil
	}
	mod, err := ctx.LoadModule(h, "LimitsRaw")
	if err != nil {
		return fmt.Errorf("idempotency: limits: %w", err)
	}
	g, ok := mod.(ratezone.Gated)
	if !ok {
		return fmt.Errorf("idempotency: limits: %T cannot decide its zones with the lease", mod)
	}
	h.limits = g
	return nil
}

// setUp is Provision without Caddy's context: tests call it with their own
// store, logger and replacer.
func (h *Handler) setUp(s store.Store, logger *zap.Logger, repl *caddy.Replacer) error {
	h.store, h.logger, h.table = s, logger, payapi.Default()
	if err := h.checkConfig(); err != nil {
		return err
	}
	if h.Retention == 0 {
		h.Retention = caddy.Duration(defaultRetention)
	}
	if h.Lease == 0 {
		h.Lease = caddy.Duration(defaultLease)
	}
	if h.MaxResponse == 0 {
		h.MaxResponse = defaultMaxResponse
	}
	routes, err := h.resolveRoutes()
	if err != nil {
		return err
	}
	h.routes = routes
	keys := make([]string, len(h.SealKeys))
	for i, ref := range h.SealKeys {
		if keys[i], err = repl.ReplaceOrErr(ref, false, true); err != nil {
			return fmt.Errorf("idempotency: seal key %d: %w", i+1, err)
		}
	}
	if h.sealer, err = newSealer(keys); err != nil {
		return fmt.Errorf("idempotency: %w", err)
	}
	return nil
}

// resolveRoutes checks the configured routes against the route table, or
// takes every POST endpoint of it; the value says whether the key is
// required.
func (h *Handler) resolveRoutes() (map[string]bool, error) {
	routes := map[string]bool{}
	if len(h.Routes) == 0 {
		for _, rt := range h.table.Routes() {
			for _, ep := range rt.Endpoints {
				if ep.Method == http.MethodPost {
					routes[ep.Method+" "+rt.Template] = ep.KeyRequired
				}
			}
		}
		return routes, nil
	}
	for _, cfg := range h.Routes {
		ep := h.endpoint(cfg.Method, cfg.Template)
		switch {
		case ep == nil:
			return nil, fmt.Errorf("idempotency: %s %s is not an endpoint of the payment API's route table", cfg.Method, cfg.Template)
		case cfg.Method != http.MethodPost && cfg.Method != http.MethodPatch:
			// A replayed GET would answer stale data for a day; DELETE is
			// idempotent by itself.
			return nil, fmt.Errorf("idempotency: %s %s: only POST and PATCH endpoints take an Idempotency-Key", cfg.Method, cfg.Template)
		}
		required := ep.KeyRequired
		switch cfg.Key {
		case KeyRequired:
			required = true
		case KeyOptional:
			required = false
		}
		routes[cfg.Method+" "+cfg.Template] = required
	}
	return routes, nil
}

// endpoint is the table's endpoint method on template, or nil.
func (h *Handler) endpoint(method, template string) *payapi.Endpoint {
	for _, rt := range h.table.Routes() {
		if rt.Template != template {
			continue
		}
		for i := range rt.Endpoints {
			if rt.Endpoints[i].Method == method {
				return &rt.Endpoints[i]
			}
		}
	}
	return nil
}

// Validate refuses an incomplete configuration.
func (h *Handler) Validate() error { return h.checkConfig() }

// checkConfig checks the options as configured.
func (h *Handler) checkConfig() error {
	if len(h.SealKeys) == 0 {
		return errors.New("idempotency: at least one seal_key is required (stored responses hold client secrets)")
	}
	for i, ref := range h.SealKeys {
		if !secretref.Valid(ref) {
			return fmt.Errorf("idempotency: seal key %d must be one {env.NAME} or {file.PATH} placeholder, never the key itself", i+1)
		}
	}
	if h.LimitsRaw != nil {
		var head struct {
			Handler string `json:"handler"`
		}
		if err := json.Unmarshal(h.LimitsRaw, &head); err != nil {
			return fmt.Errorf("idempotency: limits: %w", err)
		}
		if head.Handler != limitsHandler {
			return fmt.Errorf("idempotency: limits must be a %s stage, not %q", limitsHandler, head.Handler)
		}
	}
	for _, rt := range h.Routes {
		if rt.Key != "" && rt.Key != KeyRequired && rt.Key != KeyOptional {
			return fmt.Errorf("idempotency: route %s %s: key must be %s or %s", rt.Method, rt.Template, KeyRequired, KeyOptional)
		}
	}
	switch {
	case h.Retention < 0:
		return errors.New("idempotency: retention must not be negative")
	case h.Lease != 0 && time.Duration(h.Lease) < minLease:
		return fmt.Errorf("idempotency: lease must be at least %s", minLease)
	case h.MaxResponse < 0 || h.MaxResponse > maxMaxResponse:
		return fmt.Errorf("idempotency: max_response must be 1 to %d bytes", maxMaxResponse)
	}
	return nil
}

// Errors answered by the stage.
var (
	errKeyMissing = apierror.New(http.StatusBadRequest, apierror.TypeIdempotency, "idempotency_key_missing",
		"This request requires an Idempotency-Key header.")
	errKeyInvalid = apierror.New(http.StatusBadRequest, apierror.TypeIdempotency, "idempotency_key_invalid",
		"The Idempotency-Key header must be 1 to 255 visible ASCII characters, bare or quoted.")
	errKeyInUse = apierror.New(http.StatusConflict, apierror.TypeIdempotency, "idempotency_key_in_use",
		"A request with this Idempotency-Key is still being processed. Please retry.").WithHeader("Retry-After", "1")
	errKeyReused = apierror.New(http.StatusUnprocessableEntity, apierror.TypeIdempotency, "idempotency_key_reused",
		"This Idempotency-Key was used with another request.")
	errUnavailable = apierror.New(http.StatusConflict, apierror.TypeIdempotency, "idempotency_response_unavailable",
		"This request was processed, but its response cannot be returned again.")
	errNoUser = apierror.New(http.StatusInternalServerError, apierror.TypeAPI, "internal_error",
		"An internal error occurred.")
	errBody = apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, "bad_request",
		"The request body could not be read.")
	errBodyTooLarge = apierror.New(http.StatusRequestEntityTooLarge, apierror.TypeInvalidRequest, "body_too_large",
		"The request body is too large.")
)

// userPlaceholder is the authenticated user, set by jwt_auth.
const userPlaceholder = "http.auth.user.id"

// limitsHandler is the only handler the limits block takes.
const limitsHandler = "redis_rate_limit"

// ServeHTTP answers a request on a configured route from its key's record,
// or runs it once under the key's lease and records its response; with
// limits, their zones are decided with the lease.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	m, err := h.table.MatchRequest(r)
	if err != nil || m.Endpoint == nil {
		return h.pass(w, r, next)
	}
	required, applies := h.routes[r.Method+" "+m.Route.Template]
	if !applies {
		return h.pass(w, r, next)
	}
	key, err := idemkey.Parse(r.Header)
	switch {
	case errors.Is(err, idemkey.ErrMissing) && !required:
		return h.pass(w, r, next)
	case errors.Is(err, idemkey.ErrMissing):
		return h.refuse(outcomeMissing, errKeyMissing.WithCause(err))
	case err != nil:
		return h.refuse(outcomeInvalid, errKeyInvalid.WithCause(err))
	}
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	user := ""
	if repl != nil {
		user, _ = repl.GetString(userPlaceholder)
	}
	if user == "" {
		h.logger.Error("configuration error: idempotency runs before authentication; put it after jwt_auth")
		return h.refuse(outcomeMisconfigured, errNoUser.WithCause(errors.New("no authenticated user")))
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return h.refuse(outcomeInvalid, errBodyTooLarge.WithCause(err))
		}
		return h.refuse(outcomeInvalid, errBody.WithCause(err))
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	req := &keyed{storeKey: recordKey(user, r.Method, m.Route.Template, key), holder: rand.Text(), fp: fingerprint(r, body)}
	if h.limits != nil {
		return h.serveLimited(w, r, next, req)
	}
	lease, err := h.store.Acquire(r.Context(), req.storeKey, req.holder, req.fp, time.Duration(h.Lease))
	if err != nil {
		return h.leaseFailed(r, err)
	}
	return h.follow(w, r, next, req, lease)
}

// keyed is a request under an Idempotency-Key: its record's store key, the
// lease token it holds the record with, and its fingerprint.
type keyed struct {
	storeKey, holder string
	fp               []byte
}

// pass hands on a request the stage does not de-duplicate: through the
// limits, when there are, as if they followed the stage.
func (h *Handler) pass(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if h.limits != nil {
		return h.limits.ServeHTTP(w, r, next)
	}
	return next.ServeHTTP(w, r)
}

// leaseFailed is the answer when the store cannot give the lease: 503
// store_unavailable (idempotency fails closed), unless the client left.
func (h *Handler) leaseFailed(r *http.Request, err error) error {
	if gone := apierror.ClientGone(r); gone != nil {
		return gone
	}
	return h.refuse(outcomeStoreUnavailable, apierror.StoreUnavailable.WithCause(fmt.Errorf("idempotency lease: %w", err)))
}

// follow acts on the lease the request found: a key in flight is 409 (422
// under another request), a completed one replays, an acquired one runs.
func (h *Handler) follow(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, req *keyed, lease store.Lease) error {
	switch lease.State {
	case store.Held:
		if !bytes.Equal(lease.Value, req.fp) {
			return h.refuse(outcomeReused, errKeyReused.WithCause(errors.New("key in flight with another request")))
		}
		return h.refuse(outcomeInUse, errKeyInUse.WithCause(errors.New("key in flight")))
	case store.Completed:
		return h.replay(w, req.storeKey, req.fp, lease.Value)
	}
	return h.execute(w, r, next, req.storeKey, req.holder, req.fp)
}

// serveLimited runs a keyed request through the limits, whose zones are
// decided by the store call that takes the lease (the gate). The two parts
// are not atomic together on Redis, so they are evened out: what the zones
// charged a lease found held or completed is owed back by the limits (a
// replay never charges; the units return with the user's next store call,
// or by a flush within a quarter of a second), and a lease taken for a
// request the limits refuse (429) or that otherwise never reaches next is
// released. Until then, another request may find the lease taken (409) or
// the units spent. When the
// limits hand the request on without asking the gate (no zone applies, no
// user key), the lease is taken on its own before it runs: no request runs
// without it.
func (h *Handler) serveLimited(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, req *keyed) error {
	var (
		lease     store.Lease
		leased    bool // lease holds what the store answered
		reachedIt bool // the limits handed the request on
	)
	gate := func(ctx context.Context, reqs []store.LimitRequest) ([]store.LimitResult, bool, error) {
		l, results, err := h.store.AcquireLimit(ctx, req.storeKey, req.holder, req.fp, time.Duration(h.Lease), reqs)
		if err != nil {
			return nil, false, h.leaseFailed(r, err)
		}
		lease, leased = l, true
		// Not acquired, the request is answered here (replayed, or 409):
		// the limits owe back what the call charged it.
		return results, l.State == store.Acquired, nil
	}
	inner := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		reachedIt = true
		if leased {
			return h.execute(w, r, next, req.storeKey, req.holder, req.fp)
		}
		l, err := h.store.Acquire(r.Context(), req.storeKey, req.holder, req.fp, time.Duration(h.Lease))
		if err != nil {
			return h.leaseFailed(r, err)
		}
		return h.follow(w, r, next, req, l)
	})
	err := h.limits.ServeGated(w, r, inner, gate)
	switch {
	case !leased || reachedIt:
		return err
	case lease.State == store.Acquired:
		h.release(req.storeKey, req.holder, "refused")
		return err
	}
	return h.follow(w, r, next, req, lease)
}

// refuse counts outcome and returns e to Caddy's error handling.
func (h *Handler) refuse(outcome string, e *apierror.Error) error {
	observe(outcome)
	return caddyhttp.Error(e.Status, e)
}

// recordKey is the store key of a key's record: a hash of the scope, so
// that the store holds neither user IDs nor clients' keys, and two scopes
// never share a record (the parts are NUL-separated: methods, templates
// and keys never hold a NUL, and the user ID, the only part that may, comes
// last).
func recordKey(user, method, template, key string) string {
	sum := sha256.Sum256([]byte(method + "\x00" + template + "\x00" + key + "\x00" + user))
	return store.Key(hex.EncodeToString(sum[:]), "idem")
}

// fingerprint is what identifies a request under one key: a hash of the
// method, the request target, the content type and the exact body bytes
// (a JSON body reformatted is another request: 422).
func fingerprint(r *http.Request, body []byte) []byte {
	d := sha256.New()
	for _, part := range []string{r.Method, r.URL.RequestURI(), r.Header.Get("Content-Type")} {
		d.Write([]byte(part))
		d.Write([]byte{0})
	}
	d.Write(body)
	return []byte(hex.EncodeToString(d.Sum(nil)))
}

// record is what a completed key holds, sealed.
type record struct {
	// Fingerprint is the request's (see fingerprint).
	Fingerprint string `json:"fp"`
	// TooLarge marks a response that was not kept (over MaxResponse).
	TooLarge bool        `json:"too_large,omitempty"`
	Status   int         `json:"status,omitempty"`
	Header   http.Header `json:"header,omitempty"`
	Body     []byte      `json:"body,omitempty"`
}

// storedHeaders are the response headers a record keeps; everything else
// (Set-Cookie above all, the request ID, the security headers) is the
// replay's own, and is never written to the store.
var storedHeaders = []string{"Content-Type", "Content-Language", "Location", "Retry-After", "Www-Authenticate"}

// storedHeader returns the storedHeaders of hdr, for a record.
func storedHeader(hdr http.Header) http.Header {
	kept := make(http.Header, len(storedHeaders))
	copyStored(kept, hdr)
	return kept
}

// copyStored copies the storedHeaders of src into dst.
func copyStored(dst, src http.Header) {
	for _, k := range storedHeaders {
		if v := src.Values(k); len(v) > 0 {
			dst[k] = slices.Clone(v)
		}
	}
}

// replay answers from a completed record: its status, stored headers and
// body, with Idempotent-Replayed: true; another request under the key is
// 422.
func (h *Handler) replay(w http.ResponseWriter, storeKey string, fp, sealed []byte) error {
	plain, err := h.sealer.open(storeKey, sealed)
	var rec record
	if err == nil {
		err = json.Unmarshal(plain, &rec)
	}
	switch {
	case err != nil:
		h.logger.Error("a completed idempotency record cannot be opened (its seal key was removed, or it was altered)", zap.Error(err))
		return h.refuse(outcomeUnavailable, errUnavailable.WithCause(err))
	case rec.Fingerprint != string(fp):
		return h.refuse(outcomeReused, errKeyReused.WithCause(errors.New("key completed with another request")))
	case rec.TooLarge:
		return h.refuse(outcomeUnavailable, errUnavailable.WithCause(errors.New("the response was over max_response")))
	}
	observe(outcomeReplayed)
	hdr := w.Header()
	// Records written before they kept only storedHeaders hold the rest
	// too: the replay still takes no more than those.
	copyStored(hdr, rec.Header)
	hdr.Set("Idempotent-Replayed", "true")
	w.WriteHeader(rec.Status)
	_, err = w.Write(rec.Body)
	return err
}

// execute runs the request under the lease, renewing it, and records the
// response when it is one to keep (see keep); otherwise, and when the
// request was aborted (next panicked, the client went away), the lease is
// released so that the client may retry.
func (h *Handler) execute(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, storeKey, holder string, fp []byte) error {
	stopRenewing := h.keepRenewing(r.Context(), storeKey, holder)
	finished := false
	defer func() {
		if !finished {
			stopRenewing()
			h.release(storeKey, holder, "aborted")
		}
	}()
	buf := new(bytes.Buffer)
	rec := caddyhttp.NewResponseRecorder(w, buf, func(int, http.Header) bool { return true })
	err := next.ServeHTTP(rec, r)
	finished = true
	stopRenewing()

	if r.Context().Err() != nil {
		h.release(storeKey, holder, "aborted")
		return err
	}
	if err != nil {
		e := apierror.Answer(r, err)
		if !keep(r, e.Status) {
			h.release(storeKey, holder, "not_executed")
			return err
		}
		// What paygate_error will render for this error, byte for byte.
		out := &capture{header: http.Header{}}
		apierror.Write(out, e, reqid.From(r))
		h.complete(storeKey, holder, record{Fingerprint: string(fp), Status: out.status, Header: out.header, Body: out.body.Bytes()})
		return err
	}
	status := rec.Status()
	if status == 0 {
		status = http.StatusOK
	}
	if !keep(r, status) {
		h.release(storeKey, holder, "not_executed")
	} else if int64(buf.Len()) > h.MaxResponse {
		h.complete(storeKey, holder, record{Fingerprint: string(fp), TooLarge: true})
	} else {
		h.complete(storeKey, holder, record{Fingerprint: string(fp), Status: status, Header: storedHeader(rec.Header()), Body: bytes.Clone(buf.Bytes())})
	}
	return rec.WriteResponse()
}

// keep applies Stripe's rule: once the handler has started executing, its
// result is kept, a decline or a 500 included; not kept are a request the
// handler marked as refused before doing anything, and answers that tell
// the client to retry (409, 429, 502, 503, 504: a conflict, a limit, an
// outage of the store, the policy or Stripe), whose retry is safe because
// the key sent to Stripe is derived from the same scope.
func keep(r *http.Request, status int) bool {
	if noexec.Marked(r) {
		return false
	}
	switch status {
	case http.StatusConflict, http.StatusTooManyRequests, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return false
	}
	return true
}

// keepRenewing renews the lease every third of its TTL until the returned
// function is called. It costs a timer, not a goroutine, per request: a
// renewal runs only for a request that outlives a third of its lease.
func (h *Handler) keepRenewing(ctx context.Context, storeKey, holder string) (stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	lease := time.Duration(h.Lease)
	var (
		mu      sync.Mutex // held by a renewal, and by stop
		stopped bool
		t       *time.Timer
	)
	mu.Lock() // the renewal reads t: not before it is set
	defer mu.Unlock()
	t = time.AfterFunc(lease/3, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		ok, err := h.store.Renew(ctx, storeKey, holder, lease)
		if ctx.Err() != nil {
			return
		}
		observeRenewal(ok, err)
		if err == nil && !ok {
			h.logger.Warn("an idempotency lease was lost while its request ran (the store lost it, or it expired); another instance may run the request")
			return
		}
		t.Reset(lease / 3)
	})
	return func() {
		// A renewal in flight ends with its context; stop returns once it
		// has, and no renewal starts after.
		cancel()
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}

// complete seals rec and stores it as the key's completed record, if this
// request still holds the lease.
func (h *Handler) complete(storeKey, holder string, rec record) {
	plain, err := json.Marshal(rec)
	if err != nil {
		h.logger.Error("encoding an idempotency record", zap.Error(err))
		h.release(storeKey, holder, "unencodable")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), endBudget)
	defer cancel()
	ok, err := h.store.Complete(ctx, storeKey, holder, h.sealer.seal(storeKey, plain), time.Duration(h.Retention))
	switch {
	case err != nil:
		observe(outcomeCompleteFailed)
		h.logger.Error("storing an idempotency record failed; a retry runs the request again (with the same key at Stripe)", zap.Error(err))
	case !ok:
		observe(outcomeCompleteFailed)
		h.logger.Warn("an idempotency lease was taken over before its request completed; its record was not stored")
	case rec.TooLarge:
		observe(outcomeTooLarge)
	default:
		observe(outcomeStored)
	}
}

// release drops this request's lease, so that the key may run again.
func (h *Handler) release(storeKey, holder, why string) {
	ctx, cancel := context.WithTimeout(context.Background(), endBudget)
	defer cancel()
	if _, err := h.store.Release(ctx, storeKey, holder); err != nil {
		h.logger.Error("releasing an idempotency lease failed; it expires with its TTL", zap.Error(err))
	}
	observe(outcomeReleased + "_" + why)
}

// capture is a ResponseWriter that keeps what is written.
type capture struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *capture) Header() http.Header         { return c.header }
func (c *capture) WriteHeader(status int)      { c.status = status }
func (c *capture) Write(b []byte) (int, error) { return c.body.Write(b) }

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
