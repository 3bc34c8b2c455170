package stripewebhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stripe/stripe-go/v76"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/testenv"
	"github.com/paygate/paygate/internal/webhookevent"
)

// secretEnv is the variable the tests' handlers read their secret from.
const secretEnv = "PAYGATE_TEST_WEBHOOK_SECRET"

// fixture is a Handler set up without Caddy on its own memory store, with
// observed loggers, and the handler after it.
type fixture struct {
	t     *testing.T
	h     *Handler
	store *store.Memory
	logs  *observer.ObservedLogs
	audit *observer.ObservedLogs
	next  *downstream
}

// newFixture sets up a Handler whose one secret is secretNew, given as
// {env.PAYGATE_TEST_WEBHOOK_SECRET}; configure may change it before set-up.
func newFixture(t *testing.T, configure func(h *Handler)) *fixture {
	t.Helper()
	t.Setenv(secretEnv, secretNew)
	h := &Handler{Secrets: []string{"{env." + secretEnv + "}"}}
	if configure != nil {
		configure(h)
	}
	s := store.NewMemory(time.Now)
	t.Cleanup(func() { _ = s.Close() })
	core, logs := observer.New(zapcore.DebugLevel)
	auditCore, auditLogs := observer.New(zapcore.DebugLevel)
	if err := h.setUp(s, zap.New(core), zap.New(auditCore), caddy.NewReplacer()); err != nil {
		t.Fatalf("set-up: %v", err)
	}
	return &fixture{t: t, h: h, store: s, logs: logs, audit: auditLogs, next: &downstream{}}
}

// testEvent is a Stripe event as the tests send it.
type testEvent struct {
	ID         string         `json:"id"`
	Object     string         `json:"object"`
	APIVersion string         `json:"api_version"`
	Account    string         `json:"account,omitempty"`
	Created    int64          `json:"created"`
	Data       map[string]any `json:"data"`
	Livemode   bool           `json:"livemode"`
	Type       string         `json:"type"`
}

// newEvent is a test-mode payment_intent.succeeded event of the platform,
// of stripe-go's API version.
func newEvent(id string) testEvent {
	return testEvent{
		ID: id, Object: "event", APIVersion: stripe.APIVersion, Created: time.Now().Unix() - 3,
		Type: webhookevent.TypePaymentSucceeded,
		Data: map[string]any{"object": map[string]any{"id": "pi_3OqGmL2eZvKYlo2C0", "object": "payment_intent", "amount": 8900}},
	}
}

// body is the event as Stripe sends it: indented JSON ending in a newline.
func (ev testEvent) body(t testing.TB) []byte {
	t.Helper()
	b, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// request is a delivery of body signed with secret now, carrying the
// credentials and forged event headers the stage must not forward.
func request(body []byte, secret string) *http.Request {
	return signedRequest(body, sign(time.Now(), body, secret))
}

// signedRequest is request with the Stripe-Signature header given.
func signedRequest(body []byte, signature string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "https://pay.example.com/webhooks/stripe", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	r.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	r.Header.Set("Stripe-Signature", signature)
	r.Header.Set("Authorization", "Bearer eyJhbGciOiJub25lIn0.e30.")
	r.Header.Set("Cookie", "__Host-session=abc")
	r.Header.Set(webhookevent.HeaderID, "evt_forged")
	r.Header.Set("paygate-stripe-event-type", "charge.refunded")
	r.Header[webhookevent.HeaderLivemode] = []string{"true", "true"}
	return r
}

// serve runs the stage on r, with the fixture's next handler, as Caddy's
// server would.
func (f *fixture) serve(r *http.Request) (*httptest.ResponseRecorder, error) {
	w := httptest.NewRecorder()
	r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, &caddyhttp.Server{})
	err := f.h.ServeHTTP(w, r, f.next.handler())
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		f.t.Errorf("Cache-Control = %q, want no-store", got)
	}
	return w, err
}

// deliver sends body signed with secretNew and returns the response.
func (f *fixture) deliver(body []byte) (*httptest.ResponseRecorder, error) {
	return f.serve(request(body, secretNew))
}

// state is the state of id's webhook key, as Acquire finds it: Acquired
// means the key was absent (the probe's lease is released again).
func (f *fixture) state(id string) store.LeaseState {
	f.t.Helper()
	ctx := context.Background()
	key := store.Key(id, "webhook")
	l, err := f.store.Acquire(ctx, key, "probe", nil, time.Minute)
	if err != nil {
		f.t.Fatalf("probe %s: %v", key, err)
	}
	if l.State == store.Acquired {
		if ok, err := f.store.Release(ctx, key, "probe"); !ok || err != nil {
			f.t.Fatalf("release probe %s: %v, %v", key, ok, err)
		}
	}
	return l.State
}

// wantState requires id's webhook key to be in state.
func (f *fixture) wantState(id string, want store.LeaseState) {
	f.t.Helper()
	if got := f.state(id); got != want {
		f.t.Errorf("store key of %s: %v, want %v", id, got, want)
	}
}

// auditReasons lists the reasons of the audit events, in order.
func (f *fixture) auditReasons() []string {
	var reasons []string
	for _, e := range f.audit.All() {
		reasons = append(reasons, e.ContextMap()["reason"].(string))
	}
	return reasons
}

// forwarded is what the handler after the stage was given.
type forwarded struct {
	header   http.Header
	body     []byte
	event    webhookevent.Event
	verified bool
	deadline time.Time
}

// downstream is the handler after the stage: it records each request and
// answers 200 unless answer says otherwise.
type downstream struct {
	got    []forwarded
	answer func(w http.ResponseWriter, r *http.Request) error
}

func (d *downstream) handler() caddyhttp.Handler {
	return caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		ev, ok := webhookevent.Verified(r)
		deadline, _ := r.Context().Deadline()
		d.got = append(d.got, forwarded{header: r.Header.Clone(), body: body, event: ev, verified: ok, deadline: deadline})
		if d.answer != nil {
			return d.answer(w, r)
		}
		w.Header().Set("Content-Type", "application/json")
		_, err = w.Write([]byte(`{"processed":true}`))
		return err
	})
}

// apiError returns the API error err carries, failing unless it is a
// caddyhttp.HandlerError with the same status and nothing was written.
func apiError(t *testing.T, w *httptest.ResponseRecorder, err error) *apierror.Error {
	t.Helper()
	he, ok := errors.AsType[caddyhttp.HandlerError](err)
	if !ok {
		t.Fatalf("error %v is not a caddyhttp.HandlerError", err)
	}
	e := apierror.Resolve(err, he.StatusCode)
	if e.Status != he.StatusCode {
		t.Errorf("handler error status %d, API error status %d", he.StatusCode, e.Status)
	}
	if w.Body.Len() != 0 {
		t.Errorf("the stage wrote %q and returned an error", w.Body)
	}
	return e
}

// wantError requires err to be the API error status and code.
func wantError(t *testing.T, w *httptest.ResponseRecorder, err error, status int, code string) *apierror.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got %d %s, want error %d %s", w.Code, w.Body, status, code)
	}
	e := apiError(t, w, err)
	if e.Status != status || e.Code != code {
		t.Fatalf("got %d %s (%v), want %d %s", e.Status, e.Code, e, status, code)
	}
	return e
}

// wantAcknowledged requires the stage's own 200 answer.
func wantAcknowledged(t *testing.T, w *httptest.ResponseRecorder, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("err = %v, want the acknowledgement", err)
	}
	if w.Code != http.StatusOK || w.Body.String() != "{\"received\":true}\n" {
		t.Fatalf("got %d %q, want 200 {\"received\":true}", w.Code, w.Body)
	}
}

// counter reads paygate_webhook_events_total for outcome.
func counter(outcome string) float64 {
	return testutil.ToFloat64(events.WithLabelValues(outcome))
}

func TestProcessedOnce(t *testing.T) {
	f := newFixture(t, nil)
	ev := newEvent("evt_1OqGmL2eZvKYlo2C")
	body := ev.body(t)
	processed, duplicates := counter(outcomeProcessed), counter(outcomeDuplicate)

	w, err := f.deliver(body)
	if err != nil || w.Code != http.StatusOK || w.Body.String() != `{"processed":true}` {
		t.Fatalf("first delivery: %d %q, %v; want next's 200", w.Code, w.Body, err)
	}
	if len(f.next.got) != 1 {
		t.Fatalf("next called %d times, want 1", len(f.next.got))
	}
	got := f.next.got[0]
	if !got.verified {
		t.Error("webhookevent.Verified is false in next")
	}
	wantEv := webhookevent.Event{ID: ev.ID, Type: ev.Type, Livemode: false, Created: ev.Created, Body: body}
	if got.event.ID != wantEv.ID || got.event.Type != wantEv.Type || got.event.Livemode || got.event.Created != wantEv.Created || !bytes.Equal(got.event.Body, body) {
		t.Errorf("verified event = %+v, want %+v", got.event, wantEv)
	}
	if !bytes.Equal(got.body, body) {
		t.Errorf("next read body %q, want %q", got.body, body)
	}
	for name, want := range map[string][]string{
		webhookevent.HeaderID:       {ev.ID},
		webhookevent.HeaderType:     {webhookevent.TypePaymentSucceeded},
		webhookevent.HeaderLivemode: {"false"},
		"Content-Length":            {strconv.Itoa(len(body))},
		"User-Agent":                {"Stripe/1.0 (+https://stripe.com/docs/webhooks)"},
		"Stripe-Signature":          nil,
		"Authorization":             nil,
		"Cookie":                    nil,
	} {
		if v := got.header.Values(name); !slices.Equal(v, want) {
			t.Errorf("forwarded %s = %q, want %q", name, v, want)
		}
	}
	if got.deadline.IsZero() || time.Until(got.deadline) > defaultTimeout {
		t.Errorf("next's deadline %v, want one within %v", got.deadline, defaultTimeout)
	}
	f.wantState(ev.ID, store.Completed)
	if c := counter(outcomeProcessed); c != processed+1 {
		t.Errorf("processed count %v, want %v", c, processed+1)
	}

	// Stripe's retry of the same event, newly signed.
	w, err = f.deliver(body)
	wantAcknowledged(t, w, err)
	if len(f.next.got) != 1 {
		t.Errorf("next called %d times for an event and its duplicate, want 1", len(f.next.got))
	}
	if c := counter(outcomeDuplicate); c != duplicates+1 {
		t.Errorf("duplicate count %v, want %v", c, duplicates+1)
	}
	if got, want := f.auditReasons(), []string{outcomeProcessed, outcomeDuplicate}; !slices.Equal(got, want) {
		t.Errorf("audit reasons %q, want %q", got, want)
	}
}

func TestProcessedRecord(t *testing.T) {
	f := newFixture(t, nil)
	ev := newEvent("evt_record")
	if _, err := f.deliver(ev.body(t)); err != nil {
		t.Fatal(err)
	}
	l, err := f.store.Acquire(context.Background(), store.Key(ev.ID, "webhook"), "probe", nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var rec doneRecord
	if err := json.Unmarshal(l.Value, &rec); err != nil || rec.Type != ev.Type || time.Since(time.Unix(rec.Processed, 0)) > time.Minute {
		t.Errorf("done record %s (%v), want type %s processed now", l.Value, err, ev.Type)
	}
}

func TestFailedDeliveryIsRetried(t *testing.T) {
	tests := []struct {
		name   string
		answer func(w http.ResponseWriter, r *http.Request) error
		// wantStatus is what the client gets: the code of the error
		// returned when wantCode is set, else the written status.
		wantStatus int
		wantCode   string
	}{
		{name: "next answers 500", answer: func(w http.ResponseWriter, _ *http.Request) error {
			w.WriteHeader(http.StatusInternalServerError)
			return nil
		}, wantStatus: http.StatusInternalServerError},
		{name: "next answers 409", answer: func(w http.ResponseWriter, _ *http.Request) error {
			w.WriteHeader(http.StatusConflict)
			return nil
		}, wantStatus: http.StatusConflict},
		{name: "next returns an error", answer: func(http.ResponseWriter, *http.Request) error {
			return caddyhttp.Error(http.StatusServiceUnavailable, apierror.StoreUnavailable)
		}, wantStatus: http.StatusServiceUnavailable, wantCode: "store_unavailable"},
		{name: "next writes nothing", answer: func(http.ResponseWriter, *http.Request) error {
			return nil
		}, wantStatus: http.StatusBadGateway, wantCode: "upstream_unavailable"},
		{name: "next times out", answer: func(_ http.ResponseWriter, r *http.Request) error {
			select {
			case <-r.Context().Done():
				return caddyhttp.Error(http.StatusGatewayTimeout, r.Context().Err())
			case <-time.After(testenv.WaitTimeout):
				return caddyhttp.Error(http.StatusInternalServerError, errors.New("next's context has no deadline"))
			}
		}, wantStatus: http.StatusGatewayTimeout, wantCode: "upstream_unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(h *Handler) {
				h.Timeout = caddy.Duration(50 * time.Millisecond)
				h.Lease = caddy.Duration(time.Minute)
			})
			ev := newEvent("evt_failing")
			body := ev.body(t)
			failed := counter(outcomeFailed)
			f.next.answer = tt.answer
			w, err := f.deliver(body)
			if tt.wantCode != "" {
				wantError(t, w, err, tt.wantStatus, tt.wantCode)
			} else if err != nil || w.Code != tt.wantStatus {
				t.Fatalf("got %d, %v; want %d", w.Code, err, tt.wantStatus)
			}
			f.wantState(ev.ID, store.Acquired)
			if c := counter(outcomeFailed); c != failed+1 {
				t.Errorf("failed count %v, want %v", c, failed+1)
			}

			f.next.answer = nil
			if w, err := f.deliver(body); err != nil || w.Code != http.StatusOK {
				t.Fatalf("retry: %d, %v; want 200", w.Code, err)
			}
			if len(f.next.got) != 2 {
				t.Errorf("next called %d times, want 2 (the delivery and its retry)", len(f.next.got))
			}
			f.wantState(ev.ID, store.Completed)
			if got, want := f.auditReasons(), []string{outcomeFailed, outcomeProcessed}; !slices.Equal(got, want) {
				t.Errorf("audit reasons %q, want %q", got, want)
			}
		})
	}
}

func TestPanickingNextReleasesLease(t *testing.T) {
	f := newFixture(t, nil)
	ev := newEvent("evt_panic")
	body := ev.body(t)
	f.next.answer = func(http.ResponseWriter, *http.Request) error { panic("next failed") }
	func() {
		defer func() {
			if v := recover(); v != "next failed" {
				t.Fatalf("recovered %v, want next's panic", v)
			}
		}()
		_, _ = f.deliver(body)
	}()
	f.wantState(ev.ID, store.Acquired)

	f.next.answer = nil
	if w, err := f.deliver(body); err != nil || w.Code != http.StatusOK {
		t.Fatalf("retry: %d, %v; want 200", w.Code, err)
	}
	if len(f.next.got) != 2 {
		t.Errorf("next called %d times, want 2", len(f.next.got))
	}
	f.wantState(ev.ID, store.Completed)
}

func TestHeldLease(t *testing.T) {
	f := newFixture(t, nil)
	ev := newEvent("evt_in_flight")
	ctx := context.Background()
	key := store.Key(ev.ID, "webhook")
	if l, err := f.store.Acquire(ctx, key, "other-replica", nil, time.Minute); err != nil || l.State != store.Acquired {
		t.Fatalf("acquire: %v, %v", l.State, err)
	}
	w, err := f.deliver(ev.body(t))
	e := wantError(t, w, err, http.StatusConflict, "webhook_in_progress")
	if got := e.Header.Get("Retry-After"); got == "" {
		t.Error("409 without Retry-After")
	}
	if len(f.next.got) != 0 {
		t.Errorf("next called %d times for an event in flight, want 0", len(f.next.got))
	}
	if ok, err := f.store.Release(ctx, key, "other-replica"); !ok || err != nil {
		t.Errorf("the other replica's lease: release = %v, %v; want it still held", ok, err)
	}
}

// TestClientGoneIsNoStoreFailure: a lease that cannot be taken because
// Stripe's connection went away is no store outage: 499, nothing counted
// as store_unavailable.
func TestClientGoneIsNoStoreFailure(t *testing.T) {
	f := newFixture(t, nil)
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	before := testutil.ToFloat64(events.WithLabelValues(outcomeStoreUnavailable))
	r := request(newEvent("evt_gone").body(t), secretNew)
	ctx, cancel := context.WithCancel(r.Context())
	cancel()
	_, err := f.serve(r.WithContext(ctx))
	if he, ok := errors.AsType[caddyhttp.HandlerError](err); !ok || he.StatusCode != apierror.StatusClientClosedRequest {
		t.Fatalf("ServeHTTP = %v, want 499", err)
	}
	if got := testutil.ToFloat64(events.WithLabelValues(outcomeStoreUnavailable)); got != before {
		t.Errorf("store_unavailable counted: %v, want %v", got, before)
	}
}

func TestStoreUnavailable(t *testing.T) {
	f := newFixture(t, nil)
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	w, err := f.deliver(newEvent("evt_store_down").body(t))
	e := wantError(t, w, err, http.StatusServiceUnavailable, "store_unavailable")
	if !errors.Is(e, store.ErrUnavailable) {
		t.Errorf("cause %v does not wrap store.ErrUnavailable", e.Cause)
	}
	if len(f.next.got) != 0 {
		t.Errorf("next called %d times without a lease, want 0", len(f.next.got))
	}
}

func TestSignatureFailure(t *testing.T) {
	ev := newEvent("evt_forged")
	body := ev.body(t)
	tests := []struct {
		name       string
		header     []string
		body       []byte
		wantReason string
	}{
		{name: "another secret", header: []string{sign(time.Now(), body, secretOld)}, wantReason: reasonNoMatch},
		{name: "body changed", header: []string{sign(time.Now(), body, secretNew)}, body: bytes.Replace(body, []byte("8900"), []byte("8901"), 1), wantReason: reasonNoMatch},
		{name: "missing", wantReason: reasonMissing},
		{name: "repeated", header: []string{sign(time.Now(), body, secretNew), sign(time.Now(), body, secretNew)}, wantReason: reasonRepeated},
		{name: "v0 only", header: []string{strings.Replace(sign(time.Now(), body, secretNew), "v1=", "v0=", 1)}, wantReason: reasonUnsupported},
		{name: "too old", header: []string{sign(time.Now().Add(-time.Hour), body, secretNew)}, wantReason: reasonTooOld},
		{name: "in the future", header: []string{sign(time.Now().Add(time.Hour), body, secretNew)}, wantReason: reasonFuture},
		{name: "malformed", header: []string{"t=now,v1=" + v1Hex}, wantReason: reasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			b := body
			if tt.body != nil {
				b = tt.body
			}
			r := request(b, secretNew)
			r.Header["Stripe-Signature"] = tt.header
			failures, rejected := testutil.ToFloat64(signatureFailures.WithLabelValues(tt.wantReason)), counter(outcomeRejected)
			w, err := f.serve(r)
			e := wantError(t, w, err, http.StatusBadRequest, "webhook_signature_invalid")
			if e.Message != errSignature.Message {
				t.Errorf("message %q, want the one fixed message", e.Message)
			}
			if len(f.next.got) != 0 {
				t.Errorf("next called %d times, want 0", len(f.next.got))
			}
			f.wantState(ev.ID, store.Acquired)
			if got := f.auditReasons(); !slices.Equal(got, []string{tt.wantReason}) {
				t.Errorf("audit reasons %q, want [%s]", got, tt.wantReason)
			}
			if c := testutil.ToFloat64(signatureFailures.WithLabelValues(tt.wantReason)); c != failures+1 {
				t.Errorf("signature failures{reason=%s} %v, want %v", tt.wantReason, c, failures+1)
			}
			if c := counter(outcomeRejected); c != rejected+1 {
				t.Errorf("rejected count %v, want %v", c, rejected+1)
			}
		})
	}
}

func TestRefusedRequests(t *testing.T) {
	ev := newEvent("evt_refused")
	body := ev.body(t)
	tests := []struct {
		name       string
		configure  func(h *Handler)
		change     func(r *http.Request)
		body       []byte
		wantStatus int
		wantCode   string
	}{
		{name: "GET", change: func(r *http.Request) { r.Method = http.MethodGet }, wantStatus: http.StatusMethodNotAllowed, wantCode: "method_not_allowed"},
		{name: "gzip", change: func(r *http.Request) { r.Header.Set("Content-Encoding", "gzip") }, wantStatus: http.StatusUnsupportedMediaType, wantCode: "unsupported_media_type"},
		{name: "form", change: func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }, wantStatus: http.StatusUnsupportedMediaType, wantCode: "unsupported_media_type"},
		{name: "declared too large", configure: func(h *Handler) { h.MaxBody = 100 }, wantStatus: http.StatusRequestEntityTooLarge, wantCode: "body_too_large"},
		{name: "too large, length unknown", configure: func(h *Handler) { h.MaxBody = 100 }, change: func(r *http.Request) { r.ContentLength = -1 }, wantStatus: http.StatusRequestEntityTooLarge, wantCode: "body_too_large"},
		{name: "signed, not an event", body: []byte(`{"id":"evt_1","object":"customer"}`), wantStatus: http.StatusBadRequest, wantCode: "bad_request"},
		{name: "signed, not JSON", body: []byte(`not json`), wantStatus: http.StatusBadRequest, wantCode: "bad_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.configure)
			b := body
			if tt.body != nil {
				b = tt.body
			}
			r := request(b, secretNew)
			if tt.change != nil {
				tt.change(r)
			}
			w, err := f.serve(r)
			wantError(t, w, err, tt.wantStatus, tt.wantCode)
			if len(f.next.got) != 0 {
				t.Errorf("next called %d times, want 0", len(f.next.got))
			}
			f.wantState(ev.ID, store.Acquired)
		})
	}
}

func TestNotForwarded(t *testing.T) {
	tests := []struct {
		name      string
		configure func(h *Handler)
		change    func(ev *testEvent)
		// wantReason is the outcome of an event acknowledged and not
		// forwarded; "" means forwarded.
		wantReason string
	}{
		{name: "ignored type", change: func(ev *testEvent) { ev.Type = "customer.created" }, wantReason: outcomeIgnoredType},
		{name: "live event, test mode", change: func(ev *testEvent) { ev.Livemode = true }, wantReason: outcomeOtherMode},
		{name: "test event, live mode", configure: func(h *Handler) { h.Mode = ModeLive }, wantReason: outcomeOtherMode},
		{name: "live event, live mode", configure: func(h *Handler) { h.Mode = ModeLive }, change: func(ev *testEvent) { ev.Livemode = true }},
		{name: "connected account, platform only", change: func(ev *testEvent) { ev.Account = "acct_1Other" }, wantReason: outcomeOtherAccount},
		{name: "platform event, account set", configure: func(h *Handler) { h.Account = "acct_1Mine" }, wantReason: outcomeOtherAccount},
		{name: "other account, account set", configure: func(h *Handler) { h.Account = "acct_1Mine" }, change: func(ev *testEvent) { ev.Account = "acct_1Other" }, wantReason: outcomeOtherAccount},
		{name: "the account set", configure: func(h *Handler) { h.Account = "acct_1Mine" }, change: func(ev *testEvent) { ev.Account = "acct_1Mine" }},
		{name: "allow-listed type", configure: func(h *Handler) { h.Events = []string{"customer.created"} }, change: func(ev *testEvent) { ev.Type = "customer.created" }},
		{name: "default type, not allow-listed", configure: func(h *Handler) { h.Events = []string{"customer.created"} }, wantReason: outcomeIgnoredType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.configure)
			ev := newEvent("evt_filtered")
			if tt.change != nil {
				tt.change(&ev)
			}
			before := counter(tt.wantReason)
			w, err := f.deliver(ev.body(t))
			if tt.wantReason == "" {
				if err != nil || len(f.next.got) != 1 {
					t.Fatalf("err %v, next called %d times; want the event forwarded", err, len(f.next.got))
				}
				if got := f.next.got[0].header.Get(webhookevent.HeaderLivemode); got != strconv.FormatBool(ev.Livemode) {
					t.Errorf("forwarded livemode %q, want %v", got, ev.Livemode)
				}
				f.wantState(ev.ID, store.Completed)
				return
			}
			wantAcknowledged(t, w, err)
			if len(f.next.got) != 0 {
				t.Errorf("next called %d times, want 0", len(f.next.got))
			}
			f.wantState(ev.ID, store.Acquired)
			if got := f.auditReasons(); !slices.Equal(got, []string{tt.wantReason}) {
				t.Errorf("audit reasons %q, want [%s]", got, tt.wantReason)
			}
			if c := counter(tt.wantReason); c != before+1 {
				t.Errorf("%s count %v, want %v", tt.wantReason, c, before+1)
			}
		})
	}
}

func TestAPIVersion(t *testing.T) {
	const other = "2020-08-27"
	t.Run("strict", func(t *testing.T) {
		f := newFixture(t, func(h *Handler) { h.APIVersion = APIVersionStrict })
		ev := newEvent("evt_old_version")
		ev.APIVersion = other
		w, err := f.deliver(ev.body(t))
		wantError(t, w, err, http.StatusBadRequest, "webhook_api_version")
		if len(f.next.got) != 0 {
			t.Errorf("next called %d times, want 0", len(f.next.got))
		}
		f.wantState(ev.ID, store.Acquired)

		current := newEvent("evt_current_version")
		if _, err := f.deliver(current.body(t)); err != nil || len(f.next.got) != 1 {
			t.Errorf("stripe-go's version: err %v, next called %d times; want it forwarded", err, len(f.next.got))
		}
	})
	t.Run("accept", func(t *testing.T) {
		f := newFixture(t, nil)
		for _, id := range []string{"evt_old_1", "evt_old_2"} {
			ev := newEvent(id)
			ev.APIVersion = other
			if _, err := f.deliver(ev.body(t)); err != nil {
				t.Fatalf("%s: %v", id, err)
			}
		}
		if len(f.next.got) != 2 {
			t.Errorf("next called %d times, want 2", len(f.next.got))
		}
		warnings := f.logs.FilterLevelExact(zapcore.WarnLevel).FilterField(zap.String("event_api_version", other)).All()
		if len(warnings) != 1 {
			t.Errorf("%d warnings for API version %s, want 1 (logs: %v)", len(warnings), other, f.logs.All())
		}
	})
}

func TestClock(t *testing.T) {
	// stripe-go checks a signature's age against the real clock as well
	// (see TestVerifyFollowsItsClock), so the handler's clock is moved
	// around the real time, and signatures are made at the real time.
	tests := []struct {
		name      string
		offset    time.Duration
		tolerance time.Duration
		// wantReason is the signature failure's reason, or "" for none.
		wantReason string
	}{
		{name: "clock ahead, within tolerance", offset: 4 * time.Minute},
		{name: "clock behind, within tolerance", offset: -4 * time.Minute},
		{name: "clock ahead beyond tolerance", offset: 6 * time.Minute, wantReason: reasonTooOld},
		{name: "clock behind beyond tolerance", offset: -6 * time.Minute, wantReason: reasonFuture},
		{name: "tolerance raised", offset: 20 * time.Minute, tolerance: 30 * time.Minute},
		{name: "tolerance lowered", offset: 2 * time.Minute, tolerance: time.Minute, wantReason: reasonTooOld},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(h *Handler) { h.Tolerance = caddy.Duration(tt.tolerance) })
			f.h.now = func() time.Time { return time.Now().Add(tt.offset) }
			w, err := f.deliver(newEvent("evt_clock").body(t))
			if tt.wantReason == "" {
				if err != nil || len(f.next.got) != 1 {
					t.Fatalf("err %v, next called %d times; want the event forwarded", err, len(f.next.got))
				}
				return
			}
			wantError(t, w, err, http.StatusBadRequest, "webhook_signature_invalid")
			if got := f.auditReasons(); !slices.Equal(got, []string{tt.wantReason}) {
				t.Errorf("audit reasons %q, want [%s]", got, tt.wantReason)
			}
		})
	}
}

func TestSetUpDefaults(t *testing.T) {
	f := newFixture(t, nil)
	h := f.h
	if h.Tolerance != caddy.Duration(defaultTolerance) || h.MaxBody != defaultMaxBody || h.APIVersion != APIVersionAccept ||
		h.Mode != ModeTest || h.Lease != caddy.Duration(defaultLease) || h.Timeout != caddy.Duration(defaultTimeout) ||
		h.Retention != caddy.Duration(defaultRetention) {
		t.Errorf("defaults: %+v", h)
	}
	if len(h.events) != len(webhookevent.ProcessedTypes) {
		t.Errorf("%d event types, want payment_events' %d", len(h.events), len(webhookevent.ProcessedTypes))
	}
	for _, typ := range webhookevent.ProcessedTypes {
		if !h.events[typ] {
			t.Errorf("%s not forwarded by default", typ)
		}
	}
	if !slices.Equal(h.secrets, []string{secretNew}) {
		t.Error("the secret was not resolved from the environment")
	}
}

func TestSetUpSecretFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "whsec")
	// Caddy drops one final newline; the stage trims the rest.
	if err := os.WriteFile(path, []byte(secretOld+" \n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(h *Handler) { h.Secrets = append(h.Secrets, "{file."+path+"}") })
	if !slices.Equal(f.h.secrets, []string{secretNew, secretOld}) {
		t.Fatal("the secrets were not resolved in order, trimmed")
	}
	ev := newEvent("evt_rolled")
	if _, err := f.serve(request(ev.body(t), secretOld)); err != nil || len(f.next.got) != 1 {
		t.Errorf("an event signed with the second secret: err %v, next called %d times", err, len(f.next.got))
	}
}

func TestSetUpErrors(t *testing.T) {
	const apiKey = "sk_test_51HxYzAbCdEfGhIjKlMnOpQrStUv"
	tests := []struct {
		name string
		// env is the value of PAYGATE_TEST_WEBHOOK_SECRET, which the
		// secret refers to unless h says otherwise.
		env     string
		h       Handler
		wantErr string
		// secret must not be in the error.
		secret string
	}{
		{name: "no secret", env: secretNew, h: Handler{Secrets: []string{}}, wantErr: "at least one secret is required"},
		{name: "literal secret", env: secretNew, h: Handler{Secrets: []string{secretOld}}, wantErr: "never the secret itself", secret: secretOld},
		{name: "secret beside a placeholder", env: secretNew, h: Handler{Secrets: []string{"{env." + secretEnv + "}", "x" + secretOld}}, wantErr: "secret 2 must be one {env.NAME} or {file.PATH}", secret: secretOld},
		{name: "API key in the variable", env: apiKey, wantErr: "is not a webhook signing secret", secret: apiKey},
		{name: "short whsec", env: "whsec_abc", wantErr: "is not a webhook signing secret", secret: "whsec_abc"},
		{name: "unset variable", env: "", wantErr: "is not a webhook signing secret"},
		{name: "missing file", env: secretNew, h: Handler{Secrets: []string{"{file./nonexistent/whsec}"}}, wantErr: "secret 1 ({file./nonexistent/whsec}) is not a webhook signing secret"},
		{name: "lease equal to timeout", env: secretNew, h: Handler{Lease: caddy.Duration(20 * time.Second), Timeout: caddy.Duration(20 * time.Second)}, wantErr: "lease (20s) must be longer than timeout (20s)"},
		{name: "timeout over the default lease", env: secretNew, h: Handler{Timeout: caddy.Duration(90 * time.Second)}, wantErr: "lease (1m0s) must be longer than timeout (1m30s)"},
		{name: "retention under 72h", env: secretNew, h: Handler{Retention: caddy.Duration(71 * time.Hour)}, wantErr: "retention must be at least 72h"},
		{name: "bad mode", env: secretNew, h: Handler{Mode: "prod"}, wantErr: "mode must be test or live"},
		{name: "bad api_version", env: secretNew, h: Handler{APIVersion: "lenient"}, wantErr: "api_version must be accept or strict"},
		{name: "bad account", env: secretNew, h: Handler{Account: "1Mine"}, wantErr: "account must be a Stripe account ID"},
		{name: "negative tolerance", env: secretNew, h: Handler{Tolerance: -1}, wantErr: "tolerance must not be negative"},
		{name: "max_body too large", env: secretNew, h: Handler{MaxBody: maxMaxBody + 1}, wantErr: "max_body must be at most"},
		{name: "negative lease", env: secretNew, h: Handler{Lease: -1}, wantErr: "must not be negative"},
		{name: "wildcard event", env: secretNew, h: Handler{Events: []string{"payment_intent.*"}}, wantErr: `"payment_intent.*" is not an event type`},
		{name: "empty event", env: secretNew, h: Handler{Events: []string{""}}, wantErr: `"" is not an event type`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(secretEnv, tt.env)
			h := tt.h
			if h.Secrets == nil {
				h.Secrets = []string{"{env." + secretEnv + "}"}
			}
			s := store.NewMemory(time.Now)
			t.Cleanup(func() { _ = s.Close() })
			err := h.setUp(s, zap.NewNop(), zap.NewNop(), caddy.NewReplacer())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}
