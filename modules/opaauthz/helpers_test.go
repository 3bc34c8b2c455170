package opaauthz

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/ownership"
	"github.com/paygate/paygate/internal/store"
)

// repoPolicies is the shipped policy, the one the handler is tested with.
const repoPolicies = "../../policies/paygate"

// testEnv is a provisioned handler with its store and captured logs.
type testEnv struct {
	h     *Handler
	store store.Store
	logs  *observer.ObservedLogs
}

// provisionHandler provisions h against a fresh memory store, capturing its
// logs at every level, and cleans it up when the test ends.
func provisionHandler(t testing.TB, h *Handler) (*testEnv, error) {
	t.Helper()
	return provisionWith(t, context.Background(), h)
}

// provisionAtOnce is provisionHandler for a config load that is cancelled
// before it starts: Provision fails if it waits for a policy (a wait that
// must not happen, measured without a clock).
func provisionAtOnce(t testing.TB, h *Handler) (*testEnv, error) {
	t.Helper()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	return provisionWith(t, cancelled, h)
}

// provisionWith is provisionHandler with the config load's context ctx.
func provisionWith(t testing.TB, ctx context.Context, h *Handler) (*testEnv, error) {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	s := store.NewMemory(time.Now)
	t.Cleanup(func() { _ = s.Close() })
	err := h.provision(ctx, zap.New(core), zap.New(core), prometheus.NewRegistry(), s)
	t.Cleanup(func() { _ = h.Cleanup() })
	return &testEnv{h: h, store: s, logs: logs}, err
}

// mustProvision is provisionHandler for a configuration that must work.
func mustProvision(t testing.TB, h *Handler) *testEnv {
	t.Helper()
	env, err := provisionHandler(t, h)
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	return env
}

// own records owner as the owner of id.
func (env *testEnv) own(t testing.TB, id, owner string) {
	t.Helper()
	if err := ownership.Record(context.Background(), env.store, id, owner); err != nil {
		t.Fatal(err)
	}
}

// decisionLogs returns the decision log entries written so far, failing
// the test unless there are want of them.
func (env *testEnv) decisionLogs(t testing.TB, want int) []observer.LoggedEntry {
	t.Helper()
	entries := env.logs.FilterMessage("Decision Log").All()
	if len(entries) != want {
		t.Fatalf("%d decision log entries, want %d", len(entries), want)
	}
	return entries
}

// caller describes who sends a test request.
type caller struct {
	user   string
	claims map[string]string
}

// newRequest prepares r as Caddy would before the handler: a replacer with
// the authentication placeholders and the resolved client IP.
func newRequest(method, target string, c caller) (*http.Request, *httptest.ResponseRecorder) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(method, "https://pay.example.com"+target, nil)
	repl := caddy.NewReplacer()
	r = caddyhttp.PrepareRequest(r, repl, w, &caddyhttp.Server{})
	if c.user != "" {
		repl.Set("http.auth.user.id", c.user)
	}
	for k, v := range c.claims {
		repl.Set("http.auth.user."+k, v)
	}
	caddyhttp.SetVar(r.Context(), caddyhttp.ClientIPVarKey, "192.0.2.10")
	return r, w
}

// outcome is what the handler did with a request.
type outcome struct {
	passed bool
	status int
	err    *apierror.Error
	// header is the request header the next handler saw.
	header http.Header
}

// serve runs the handler on r and reports whether it passed r on or the
// API error it returned.
func serve(t testing.TB, h *Handler, r *http.Request, w http.ResponseWriter) outcome {
	t.Helper()
	var out outcome
	err := h.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) error {
		out.passed = true
		out.header = r.Header.Clone()
		return nil
	}))
	if err == nil {
		return out
	}
	var he caddyhttp.HandlerError
	if !errors.As(err, &he) {
		t.Fatalf("error %v is not a caddyhttp.HandlerError", err)
	}
	out.status = he.StatusCode
	if !errors.As(err, &out.err) {
		t.Fatalf("error %v carries no *apierror.Error", err)
	}
	if out.err.Status != he.StatusCode {
		t.Fatalf("HandlerError status %d, API error status %d", he.StatusCode, out.err.Status)
	}
	return out
}

// writePolicy writes Rego files into a new directory and returns it.
func writePolicy(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
