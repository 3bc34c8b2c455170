// Package stripewebhook provides the http.handlers.stripe_webhook module
// (directive stripe_webhook), which terminates Stripe's webhooks at the
// edge: it verifies each event's signature over the exact raw body,
// de-duplicates events by ID in the shared store, and hands each verified,
// new event once to the next handler in its route (payment_events, or
// reverse_proxy to an application), marking it as done only when that
// handler answered 2xx.
//
// Stripe delivers at least once, retries a failed delivery for up to three
// days and does not keep order; the store's lease makes a delivery and its
// duplicates (sequential, concurrent, on any replica) reach the next
// handler once.
package stripewebhook

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/stripe/stripe-go/v76"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/headerstrip"
	"github.com/paygate/paygate/internal/mediatype"
	"github.com/paygate/paygate/internal/payapi"
	"github.com/paygate/paygate/internal/secretref"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/webhookevent"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Defaults and bounds of the configuration.
const (
	defaultTolerance = 5 * time.Minute
	defaultMaxBody   = 512 << 10
	maxMaxBody       = 16 << 20
	defaultLease     = 60 * time.Second
	defaultTimeout   = 20 * time.Second
	// defaultRetention outlasts Stripe's three days of retries.
	defaultRetention = 72 * time.Hour
	// releaseBudget bounds the store call that ends a delivery (complete or
	// release), which runs after the request's own context may be gone.
	releaseBudget = 5 * time.Second
	// maxEventID bounds an event ID (Stripe's are about 30 characters).
	maxEventID = 255
)

// API-version policies: what a verified event of another API version than
// stripe-go's gets.
const (
	// APIVersionAccept processes it and logs the mismatch (once per version
	// and loaded configuration).
	APIVersionAccept = "accept"
	// APIVersionStrict refuses it with 400, so that Stripe retries it until
	// the endpoint's version is fixed.
	APIVersionStrict = "strict"
)

// Modes: which Stripe mode's events a deployment processes.
const (
	ModeTest = "test"
	ModeLive = "live"
)

// Handler verifies, de-duplicates and forwards Stripe events.
type Handler struct {
	// Secrets are the endpoint's signing secrets (whsec_...), each given
	// only as one {env.NAME} or {file.PATH} placeholder. Several may be
	// active while a secret is rolled: an event is accepted when any v1
	// signature matches any secret. At least one is required.
	Secrets []string `json:"secrets,omitempty"`

	// Tolerance bounds the distance between a signature's time and now,
	// in the past and in the future. Default: 5m (Stripe's).
	Tolerance caddy.Duration `json:"tolerance,omitempty"`

	// MaxBody bounds the request body, in bytes: 413 above it. Default:
	// 512 KiB; at most 16 MiB.
	MaxBody int64 `json:"max_body,omitempty"`

	// APIVersion is "accept" (default: an event of another API version
	// than stripe-go's is processed and the mismatch logged) or "strict"
	// (it is refused with 400).
	APIVersion string `json:"api_version,omitempty"`

	// Events is the allow-list of event types forwarded; a verified event
	// of another type is acknowledged (200), logged and counted, never
	// forwarded. Default: the types payment_events processes.
	Events []string `json:"events,omitempty"`

	// Mode is "test" (default) or "live": a verified event whose livemode
	// flag says the other mode is acknowledged and changes nothing.
	Mode string `json:"mode,omitempty"`

	// Account, when set, is the Stripe account (acct_...) whose Connect
	// events are processed; events of any other account are acknowledged
	// and change nothing. Unset: only the platform's own events (those
	// without an account) are processed.
	Account string `json:"account,omitempty"`

	// Lease is how long an event being processed is locked against its
	// duplicates; it must exceed Timeout, so that only a dead instance's
	// lease expires. Default: 60s.
	Lease caddy.Duration `json:"lease,omitempty"`

	// Timeout bounds the next handler's processing of one event; past it
	// the delivery fails (non-2xx) and Stripe retries. Default: 20s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// Retention is how long a processed event's ID is kept, to answer its
	// duplicates without processing them again. Default: 72h, Stripe's
	// three days of retries; at least 72h.
	Retention caddy.Duration `json:"retention,omitempty"`

	secrets []string
	events  map[string]bool
	store   store.Store
	logger  *zap.Logger
	audit   *zap.Logger
	// versionsSeen holds the API versions whose mismatch was logged.
	versionsSeen *sync.Map
	// now is the clock, replaced by tests.
	now func() time.Time
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.stripe_webhook",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision applies the defaults, resolves the secrets and finds the store.
func (h *Handler) Provision(ctx caddy.Context) error {
	if err := registerMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("stripe_webhook: %w", err)
	}
	s, err := store.FromContext(ctx)
	if err != nil {
		return fmt.Errorf("stripe_webhook: %w", err)
	}
	return h.setUp(s, ctx.Logger(), audit.Logger(ctx), caddy.NewReplacer())
}

// setUp is Provision without Caddy's context: tests call it with their own
// store, loggers and replacer.
func (h *Handler) setUp(s store.Store, logger, auditLogger *zap.Logger, repl *caddy.Replacer) error {
	h.store, h.logger, h.audit, h.now = s, logger, auditLogger, time.Now
	h.versionsSeen = new(sync.Map)
	if err := h.checkConfig(); err != nil {
		return err
	}
	if h.Tolerance == 0 {
		h.Tolerance = caddy.Duration(defaultTolerance)
	}
	if h.MaxBody == 0 {
		h.MaxBody = defaultMaxBody
	}
	if h.APIVersion == "" {
		h.APIVersion = APIVersionAccept
	}
	if h.Mode == "" {
		h.Mode = ModeTest
	}
	if h.Lease == 0 {
		h.Lease = caddy.Duration(defaultLease)
	}
	if h.Timeout == 0 {
		h.Timeout = caddy.Duration(defaultTimeout)
	}
	if h.Retention == 0 {
		h.Retention = caddy.Duration(defaultRetention)
	}
	events := h.Events
	if len(events) == 0 {
		events = webhookevent.ProcessedTypes
	}
	h.events = make(map[string]bool, len(events))
	for _, t := range events {
		h.events[t] = true
	}
	h.secrets = make([]string, len(h.Secrets))
	for i, ref := range h.Secrets {
		secret, err := repl.ReplaceOrErr(ref, false, true)
		if err != nil {
			return fmt.Errorf("stripe_webhook: secret %d: %w", i+1, err)
		}
		secret = strings.TrimSpace(secret)
		if !strings.HasPrefix(secret, "whsec_") || len(secret) < len("whsec_")+16 {
			// The value is never shown: it is a secret, or a mistake
			// close to one (an API key in the wrong variable).
			return fmt.Errorf("stripe_webhook: secret %d (%s) is not a webhook signing secret (whsec_ and at least 16 more characters)", i+1, ref)
		}
		h.secrets[i] = secret
	}
	return h.Validate()
}

// Validate refuses an unsafe or incomplete configuration.
func (h *Handler) Validate() error { return h.checkConfig() }

// checkConfig checks the options as configured, before defaults apply.
func (h *Handler) checkConfig() error {
	if len(h.Secrets) == 0 {
		return errors.New("stripe_webhook: at least one secret is required")
	}
	for i, ref := range h.Secrets {
		if !secretref.Valid(ref) {
			return fmt.Errorf("stripe_webhook: secret %d must be one {env.NAME} or {file.PATH} placeholder, never the secret itself", i+1)
		}
	}
	switch {
	case h.Tolerance < 0:
		return errors.New("stripe_webhook: tolerance must not be negative")
	case h.MaxBody < 0 || h.MaxBody > maxMaxBody:
		return fmt.Errorf("stripe_webhook: max_body must be at most %d bytes", maxMaxBody)
	case h.APIVersion != "" && h.APIVersion != APIVersionAccept && h.APIVersion != APIVersionStrict:
		return fmt.Errorf("stripe_webhook: api_version must be %s or %s", APIVersionAccept, APIVersionStrict)
	case h.Mode != "" && h.Mode != ModeTest && h.Mode != ModeLive:
		return fmt.Errorf("stripe_webhook: mode must be %s or %s", ModeTest, ModeLive)
	case h.Account != "" && !strings.HasPrefix(h.Account, "acct_"):
		return errors.New("stripe_webhook: account must be a Stripe account ID (acct_...)")
	case h.Lease < 0 || h.Timeout < 0:
		return errors.New("stripe_webhook: lease and timeout must not be negative")
	case h.Retention != 0 && time.Duration(h.Retention) < defaultRetention:
		return fmt.Errorf("stripe_webhook: retention must be at least %s: Stripe retries a delivery for up to three days", defaultRetention)
	}
	for _, t := range h.Events {
		if t == "" || strings.ContainsAny(t, " \t*") {
			return fmt.Errorf("stripe_webhook: %q is not an event type", t)
		}
	}
	lease, timeout := cmp.Or(time.Duration(h.Lease), defaultLease), cmp.Or(time.Duration(h.Timeout), defaultTimeout)
	if lease <= timeout {
		return fmt.Errorf("stripe_webhook: lease (%s) must be longer than timeout (%s), so that a slow delivery keeps its lease", lease, timeout)
	}
	return nil
}

// Errors answered by the stage. A signature failure says nothing about why.
var (
	errSignature = apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, "webhook_signature_invalid",
		"The webhook signature could not be verified.")
	errNotAnEvent = apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, "bad_request",
		"The request body is not a Stripe event.")
	errEncoded = apierror.New(http.StatusUnsupportedMediaType, apierror.TypeInvalidRequest, "unsupported_media_type",
		"Webhook bodies are never content-encoded.")
	errBodyTooLarge = apierror.New(http.StatusRequestEntityTooLarge, apierror.TypeInvalidRequest, "body_too_large",
		"The request body is too large.")
	errUnreadable = apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, "bad_request",
		"The request body could not be read.")
	errAPIVersion = apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, "webhook_api_version",
		"The event's API version is not the one this endpoint processes.")
	errInFlight = apierror.New(http.StatusConflict, apierror.TypeAPI, "webhook_in_progress",
		"This event is being processed. Please retry.").WithHeader("Retry-After", "10")
	errNoDownstream = apierror.New(http.StatusBadGateway, apierror.TypeAPI, "upstream_unavailable",
		"The service is temporarily unavailable. Please retry.")
)

// event is what the stage reads of a verified event.
type event struct {
	ID         string          `json:"id"`
	Object     string          `json:"object"`
	Type       string          `json:"type"`
	APIVersion string          `json:"api_version"`
	Account    string          `json:"account"`
	Livemode   bool            `json:"livemode"`
	Created    int64           `json:"created"`
	Data       json.RawMessage `json:"data"`
}

// forwardStrip are the request headers the next handler never sees from
// the client: the signature (checked here, meaningless further on), the
// verified event's headers (set here), and user credentials, which never
// stand in for a signature.
var forwardStrip = headerstrip.NewNames("Stripe-Signature", "Authorization", "Cookie",
	webhookevent.HeaderID, webhookevent.HeaderType, webhookevent.HeaderLivemode)

// ServeHTTP verifies the event, then acknowledges it (not forwarded: a
// duplicate of a processed event, a type not allowed, another mode or
// account) or forwards it once to next. Everything is refused before any
// HMAC unless the request is a POST of at most MaxBody bytes of
// uncompressed JSON with one well-formed Stripe-Signature header; nothing
// is written to the store for an event that fails verification.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	w.Header().Set("Cache-Control", "no-store")
	if err := h.checkRequest(r); err != nil {
		observe(outcomeRefused)
		return err
	}
	sig, err := parseSignature(r.Header.Values("Stripe-Signature"))
	if err != nil {
		return h.rejected(r, err)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.MaxBody))
	if err != nil {
		observe(outcomeRefused)
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return caddyhttp.Error(errBodyTooLarge.Status, errBodyTooLarge.WithCause(err))
		}
		return caddyhttp.Error(errUnreadable.Status, errUnreadable.WithCause(err))
	}
	if _, err := verify(body, sig, h.secrets, time.Duration(h.Tolerance), h.now()); err != nil {
		return h.rejected(r, err)
	}

	var ev event
	if err := json.Unmarshal(body, &ev); err != nil || !validEvent(&ev) {
		observe(outcomeRefused)
		e := errNotAnEvent.WithCause(fmt.Errorf("verified body is not a Stripe event (%v)", err))
		return caddyhttp.Error(e.Status, e)
	}
	if skip := h.skip(&ev); skip != "" {
		return h.acknowledge(w, r, &ev, skip)
	}
	if ev.APIVersion != stripe.APIVersion {
		if h.APIVersion == APIVersionStrict {
			observe(outcomeAPIVersion)
			h.audited(r, &ev, audit.Denied, outcomeAPIVersion)
			e := errAPIVersion.WithCause(fmt.Errorf("event %s has API version %q, stripe-go expects %q", ev.ID, ev.APIVersion, stripe.APIVersion))
			return caddyhttp.Error(e.Status, e)
		}
		if _, seen := h.versionsSeen.LoadOrStore(ev.APIVersion, true); !seen {
			h.logger.Warn("processing a Stripe event of another API version than stripe-go's; set the webhook endpoint's API version to match",
				zap.String("event_api_version", ev.APIVersion), zap.String("stripe_go_api_version", stripe.APIVersion))
		}
	}
	eventLag.Observe(max(0, h.now().Sub(time.Unix(ev.Created, 0)).Seconds()))
	return h.deliver(w, r, next, &ev, body)
}

// checkRequest refuses, before the signature is looked at, what no Stripe
// delivery is: another method, a content encoding, a body that is not
// JSON or is declared larger than MaxBody.
func (h *Handler) checkRequest(r *http.Request) error {
	if r.Method != http.MethodPost {
		e := payapi.MethodNotAllowed(http.MethodPost)
		return caddyhttp.Error(e.Status, e)
	}
	if len(r.Header.Values("Content-Encoding")) > 0 {
		return caddyhttp.Error(errEncoded.Status, errEncoded.WithCause(errors.New("content-encoded webhook body")))
	}
	if err := mediatype.CheckJSON(r.Header.Values("Content-Type")); err != nil {
		e := apierror.UnsupportedMediaType.WithCause(err)
		return caddyhttp.Error(e.Status, e)
	}
	if r.ContentLength > h.MaxBody {
		e := errBodyTooLarge.WithCause(fmt.Errorf("Content-Length %d over %d", r.ContentLength, h.MaxBody))
		return caddyhttp.Error(e.Status, e)
	}
	return nil
}

// rejected answers a signature that failed: 400 without detail, an audit
// event and the metrics, with the reason in the log only.
func (h *Handler) rejected(r *http.Request, err error) error {
	reason := reasonMalformed
	if se, ok := errors.AsType[*signatureError](err); ok {
		reason = se.reason
	}
	observe(outcomeRejected)
	signatureFailures.WithLabelValues(reason).Inc()
	audit.Log(h.audit, r, audit.Event{Action: "webhook.rejected", Outcome: audit.Denied, Reason: reason})
	e := errSignature.WithCause(err)
	return caddyhttp.Error(e.Status, e)
}

// validEvent checks the fields the stage relies on.
func validEvent(ev *event) bool {
	return strings.HasPrefix(ev.ID, "evt_") && len(ev.ID) <= maxEventID && ev.Object == "event" &&
		ev.Type != "" && ev.Created > 0 && len(ev.Data) > 0
}

// skip says why a verified event is acknowledged without being forwarded,
// or returns "".
func (h *Handler) skip(ev *event) string {
	switch {
	case ev.Livemode != (h.Mode == ModeLive):
		return outcomeOtherMode
	case ev.Account != h.Account:
		return outcomeOtherAccount
	case !h.events[ev.Type]:
		return outcomeIgnoredType
	}
	return ""
}

// acknowledge answers 200 for an event that is not (or no longer) to be
// processed, so that Stripe does not retry it.
func (h *Handler) acknowledge(w http.ResponseWriter, r *http.Request, ev *event, outcome string) error {
	observe(outcome)
	h.audited(r, ev, audit.Succeeded, outcome)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write([]byte(`{"received":true}` + "\n"))
	return err
}

// audited writes the audit event of a verified event.
func (h *Handler) audited(r *http.Request, ev *event, outcome, reason string) {
	audit.Log(h.audit, r, audit.Event{Action: "webhook.received", Outcome: outcome, Resource: ev.ID, Reason: reason})
}

// doneRecord is what the store keeps for a processed event.
type doneRecord struct {
	Type      string `json:"type"`
	Processed int64  `json:"processed"`
}

// deliver forwards a verified event to next under the event's lease. A
// processed event's duplicate is acknowledged; one in flight elsewhere is
// 409, which Stripe retries. The lease becomes a done record only when
// next answered 2xx; otherwise (an error, a timeout, a panic, no answer at
// all) it is released, so that Stripe's retry is processed.
func (h *Handler) deliver(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, ev *event, body []byte) error {
	key := store.Key(ev.ID, "webhook")
	holder := rand.Text()
	lease, err := h.store.Acquire(r.Context(), key, holder, nil, time.Duration(h.Lease))
	if err != nil {
		if gone := apierror.ClientGone(r); gone != nil {
			return gone
		}
		observe(outcomeStoreUnavailable)
		e := apierror.StoreUnavailable.WithCause(fmt.Errorf("webhook lease of %s: %w", ev.ID, err))
		return caddyhttp.Error(e.Status, e)
	}
	switch lease.State {
	case store.Completed:
		return h.acknowledge(w, r, ev, outcomeDuplicate)
	case store.Held:
		observe(outcomeInFlight)
		e := errInFlight.WithCause(fmt.Errorf("event %s is being processed", ev.ID))
		return caddyhttp.Error(e.Status, e)
	}

	finished := false
	defer func() {
		if !finished {
			// next panicked: the delivery did not happen.
			h.end(key, holder, ev, nil)
			observe(outcomeFailed)
			h.audited(r, ev, audit.Failed, outcomeFailed)
		}
	}()
	ctx, cancel := context.WithTimeout(r.Context(), time.Duration(h.Timeout))
	defer cancel()
	// A deep copy: the headers removed here stay on the original request
	// (its access log, its error handling).
	fwd := r.Clone(ctx)
	forwardStrip.Strip(fwd.Header)
	// A client's Connection header must not make reverse_proxy drop the
	// headers set here as hop-by-hop.
	forwardStrip.UnlistFromConnection(fwd.Header)
	fwd.Header.Set(webhookevent.HeaderID, ev.ID)
	fwd.Header.Set(webhookevent.HeaderType, ev.Type)
	fwd.Header.Set(webhookevent.HeaderLivemode, strconv.FormatBool(ev.Livemode))
	fwd.Body, fwd.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	fwd.Header.Set("Content-Length", strconv.Itoa(len(body)))
	fwd.TransferEncoding = nil
	webhookevent.Mark(fwd, webhookevent.Event{ID: ev.ID, Type: ev.Type, Livemode: ev.Livemode, Created: ev.Created, Body: body})

	rec := caddyhttp.NewResponseRecorder(w, nil, nil)
	start := time.Now()
	err = next.ServeHTTP(rec, fwd)
	processing.Observe(time.Since(start).Seconds())
	finished = true
	status := rec.Status()
	if err == nil && status == 0 {
		// Nothing answered: no handler after this one in the route.
		err = caddyhttp.Error(errNoDownstream.Status, errNoDownstream.WithCause(errors.New("stripe_webhook: no handler after it answered the event (configuration error: put payment_events or reverse_proxy after it)")))
	}
	if err != nil || status < 200 || status > 299 {
		h.end(key, holder, ev, nil)
		observe(outcomeFailed)
		h.audited(r, ev, audit.Failed, outcomeFailed)
		return err
	}
	rec2, _ := json.Marshal(doneRecord{Type: ev.Type, Processed: h.now().Unix()})
	h.end(key, holder, ev, rec2)
	observe(outcomeProcessed)
	h.audited(r, ev, audit.Succeeded, outcomeProcessed)
	return nil
}

// end ends a delivery's lease: done (the record kept for Retention) when
// done is set, else released. It runs with its own budget, since the
// request's context may be gone. A failure is logged: after a processed
// event, Stripe may then deliver it again (next must tolerate that, as
// payment_events does); after a failed one, the lease expires by itself.
func (h *Handler) end(key, holder string, ev *event, done []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), releaseBudget)
	defer cancel()
	var ok bool
	var err error
	if done != nil {
		ok, err = h.store.Complete(ctx, key, holder, done, time.Duration(h.Retention))
	} else {
		ok, err = h.store.Release(ctx, key, holder)
	}
	switch {
	case err != nil:
		h.logger.Error("ending a webhook event's lease failed", zap.String("event", ev.ID), zap.Bool("processed", done != nil), zap.Error(err))
	case !ok:
		h.logger.Warn("a webhook event's lease expired while it was processed; raise lease", zap.String("event", ev.ID), zap.Bool("processed", done != nil))
	}
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
