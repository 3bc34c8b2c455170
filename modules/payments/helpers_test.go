package payments

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/webhookevent"
)

// shippedCatalog is the catalog the shipped Caddyfile uses: standard_clean
// 8900, deep_clean 18900, oven_addon 2500, ... all in usd.
const shippedCatalog = "../../testdata/catalog/catalog.json"

// testKey is the test-mode key the handlers under test use.
const testKey = "sk_test_paygate123"

// keyFile writes key to a file and returns its {file.*} placeholder.
func keyFile(t *testing.T, key string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stripe_key")
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return "{file." + path + "}"
}

// testHandler is a Handler (or an EventProcessor) set up without Caddy,
// with its own memory store and observed loggers.
type testHandler struct {
	t *testing.T
	// h is the payment API's handler; nil when serving is an
	// EventProcessor.
	h       *Handler
	serving caddyhttp.MiddlewareHandler
	store   store.Store
	logs    *observer.ObservedLogs
	audit   *observer.ObservedLogs
	// verified marks each request's body as an event stripe_webhook
	// verified, as the webhook stage before an EventProcessor does.
	verified bool
}

// newTestHandler sets up a payment API handler on Stripe backend base (no
// network retries unless configure sets them); configure may change the
// handler before set-up.
func newTestHandler(t *testing.T, base string, configure func(h *Handler)) *testHandler {
	t.Helper()
	retries := 0
	h := &Handler{StripeKey: keyFile(t, testKey), APIBase: base, Catalog: shippedCatalog, MaxNetworkRetries: &retries}
	if configure != nil {
		configure(h)
	}
	return setUpTestHandler(t, h)
}

func setUpTestHandler(t *testing.T, h *Handler) *testHandler {
	t.Helper()
	th := newTestStore(t)
	if err := h.setUp(th.store, zap.New(th.logCore), zap.New(th.auditCore), caddy.NewReplacer()); err != nil {
		t.Fatalf("set-up: %v", err)
	}
	if err := h.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	t.Cleanup(func() { _ = h.Cleanup() })
	th.h, th.serving = h, h
	return th.testHandler
}

// newTestEventProcessor sets up an EventProcessor.
func newTestEventProcessor(t *testing.T) *testHandler {
	t.Helper()
	th := newTestStore(t)
	p := new(EventProcessor)
	p.setUp(th.store, zap.New(th.logCore), zap.New(th.auditCore))
	th.serving, th.verified = p, true
	return th.testHandler
}

// testSetUp is a testHandler before its handler is set up, with the
// cores of its observed loggers.
type testSetUp struct {
	*testHandler
	logCore, auditCore zapcore.Core
}

// newTestStore makes the store and the observed loggers of a testHandler.
func newTestStore(t *testing.T) testSetUp {
	s := store.NewMemory(time.Now)
	t.Cleanup(func() { _ = s.Close() })
	core, logs := observer.New(zapcore.DebugLevel)
	auditCore, auditLogs := observer.New(zapcore.DebugLevel)
	return testSetUp{testHandler: &testHandler{t: t, store: s, logs: logs, audit: auditLogs}, logCore: core, auditCore: auditCore}
}

// do sends one request as user ("" for none) over TLS, and returns the
// response, or the API error the handler returned (checking that it wrote
// nothing itself).
func (th *testHandler) do(method, path, user, body string, header http.Header) (*httptest.ResponseRecorder, *apierror.Error) {
	th.t.Helper()
	r := httptest.NewRequest(method, "https://pay.example.com"+path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		r.Header[k] = v
	}
	return th.serve(r, user)
}

func (th *testHandler) serve(r *http.Request, user string) (*httptest.ResponseRecorder, *apierror.Error) {
	th.t.Helper()
	w := httptest.NewRecorder()
	repl := caddy.NewReplacer()
	r = caddyhttp.PrepareRequest(r, repl, w, &caddyhttp.Server{})
	if user != "" {
		repl.Set(userPlaceholder, user)
	}
	if th.verified {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			th.t.Fatal(err)
		}
		webhookevent.Mark(r, webhookevent.Event{Body: body})
	}
	err := th.serving.ServeHTTP(w, r, nil)
	if err == nil {
		if got := w.Header().Get("Cache-Control"); got != "no-store" {
			th.t.Errorf("%s %s: Cache-Control = %q, want no-store", r.Method, r.URL.Path, got)
		}
		return w, nil
	}
	var he caddyhttp.HandlerError
	if !errors.As(err, &he) {
		th.t.Fatalf("%s %s: error %v is not a caddyhttp.HandlerError", r.Method, r.URL.Path, err)
	}
	e := apierror.Resolve(err, he.StatusCode)
	if e.Status != he.StatusCode {
		th.t.Errorf("%s %s: handler error status %d, API error status %d", r.Method, r.URL.Path, he.StatusCode, e.Status)
	}
	if w.Body.Len() != 0 || w.Code != http.StatusOK {
		th.t.Errorf("%s %s: the handler wrote a response (%d) and returned an error", r.Method, r.URL.Path, w.Code)
	}
	return w, e
}

// idem is a header with an Idempotency-Key.
func idem(key string) http.Header {
	return http.Header{"Idempotency-Key": {key}}
}

// wantError requires e to be an API error with status and code.
func wantError(t *testing.T, e *apierror.Error, status int, code string) {
	t.Helper()
	if e == nil {
		t.Fatalf("got a response, want %d %s", status, code)
	}
	if e.Status != status || e.Code != code {
		t.Fatalf("got %d %s (%v), want %d %s", e.Status, e.Code, e, status, code)
	}
}

// wantOK requires a response with status.
func wantOK(t *testing.T, w *httptest.ResponseRecorder, e *apierror.Error, status int) {
	t.Helper()
	if e != nil {
		t.Fatalf("got error %d %s (%v), want %d", e.Status, e.Code, e, status)
	}
	if w.Code != status {
		t.Fatalf("status = %d, want %d (body %s)", w.Code, status, w.Body)
	}
}

// allLogs returns every observed log entry (handler and audit) as text.
func (th *testHandler) allLogs() string {
	var b strings.Builder
	for _, logs := range []*observer.ObservedLogs{th.logs, th.audit} {
		for _, e := range logs.All() {
			b.WriteString(e.Message)
			for k, v := range e.ContextMap() {
				fmt.Fprintf(&b, " %s=%v", k, v)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}
