package opaauthz

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/paygate/paygate/internal/testenv"
	"github.com/paygate/paygate/internal/testenv/bundletest"
)

// devKey is the development signing key of testdata/opa.
func devKey(t testing.TB) (private []byte, public string) {
	t.Helper()
	priv, err := os.ReadFile("../../testdata/opa/bundle-signing.key")
	if err != nil {
		t.Fatal(err)
	}
	return priv, "../../testdata/opa/bundle-signing.pub"
}

// otherKey is a P-256 key that the handler does not trust.
func otherKey(t testing.TB) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// revisionPolicy is a bundle's files: a policy that allows every request
// and names revision as its reason, so that a decision shows which revision
// made it.
func revisionPolicy(revision string) map[string]string {
	return map[string]string{"authz.rego": "package paygate.authz\ndecision := {\"allow\": true, \"reason\": \"rev" + revision + "\"}\n"}
}

// reason evaluates a fixed request and returns the policy's reason, or the
// result when the request was not decided by a policy.
func reason(env *testEnv) string {
	d := env.h.engine.decide(context.Background(), &input{now: time.Now()}, nil, "")
	if d.reason != "" {
		return d.reason
	}
	return d.result
}

// TestBundleUpdates serves revision 1, then 2, then bundles that must be
// refused (badly signed, unsigned, not compiling): revision 2 stays active
// through all of them, and every refusal is counted and logged.
func TestBundleUpdates(t *testing.T) {
	priv, pub := devKey(t)
	srv, url := testenv.StartBundleServer(t)
	srv.Set("r1", bundletest.Build(t, "1", revisionPolicy("1"), priv))

	env := mustProvision(t, &Handler{Bundle: &BundleConfig{
		URL:        url,
		PollingMin: caddy.Duration(time.Second),
		PollingMax: caddy.Duration(time.Second),
		PublicKey:  pub,
	}})
	if got := reason(env); got != "rev1" {
		t.Fatalf("after start-up: %s, want rev1", got)
	}

	// Requests keep being decided, by one revision or the other, while
	// revision 2 replaces revision 1.
	stop, seen := make(chan struct{}), make(chan map[string]int)
	go func() {
		counts := map[string]int{}
		for {
			select {
			case <-stop:
				seen <- counts
				return
			default:
				counts[reason(env)]++
			}
		}
	}()
	srv.Set("r2", bundletest.Build(t, "2", revisionPolicy("2"), priv))
	testenv.Eventually(t, "revision 2", func() bool { return reason(env) == "rev2" })
	close(stop)
	for r, n := range <-seen {
		if r != "rev1" && r != "rev2" {
			t.Errorf("%d requests during the swap were decided %q", n, r)
		}
	}
	if !env.logged("policy activated", "revision", "2") {
		t.Error("the activation of revision 2 was not logged")
	}

	// A bundle that builds but does not compile once activated: its data
	// (data paths start at the bundle's directory, so this is
	// data.paygate.authz) and its rule claim the same path, a conflict that
	// only the activation's compiler, which sees both, finds.
	conflicting := revisionPolicy("5")
	conflicting["paygate/authz/data.json"] = `{"decision": {"allow": true}}`
	for _, bad := range []struct {
		name, etag string
		body       []byte
		// refusal is part of the logged reason.
		refusal string
	}{
		{name: "badly signed", etag: "r3", body: bundletest.Build(t, "3", revisionPolicy("3"), otherKey(t)), refusal: "invalid ECDSA signature"},
		{name: "unsigned", etag: "r4", body: bundletest.Build(t, "4", revisionPolicy("4"), nil), refusal: "bundle missing .signatures.json file"},
		{name: "does not compile", etag: "r5", body: bundletest.Build(t, "5", conflicting, priv), refusal: "rego_compile_error: conflicting rule"},
		{name: "not a bundle", etag: "r6", body: []byte("<html>maintenance</html>"), refusal: "gzip"},
	} {
		t.Run(bad.name, func(t *testing.T) {
			before := testutil.ToFloat64(activations.WithLabelValues("failure"))
			srv.Set(bad.etag, bad.body)
			testenv.Eventually(t, "the refusal to be logged", func() bool { return env.refused(bad.refusal) })
			if testutil.ToFloat64(activations.WithLabelValues("failure")) <= before {
				t.Error("the refusal was not counted")
			}
			if got := reason(env); got != "rev2" {
				t.Fatalf("active policy: %s, want rev2 kept", got)
			}
		})
	}
	// A good bundle again: it replaces revision 2.
	srv.Set("r7", bundletest.Build(t, "7", revisionPolicy("7"), priv))
	testenv.Eventually(t, "revision 7", func() bool { return reason(env) == "rev7" })
}

// logged reports whether an entry with msg carries field = value.
func (env *testEnv) logged(msg, field, value string) bool {
	for _, e := range env.logs.FilterMessage(msg).All() {
		if v, ok := e.ContextMap()[field]; ok && v == value {
			return true
		}
	}
	return false
}

// refused reports whether a bundle refusal mentioning reason was logged
// while revision 2 was active.
func (env *testEnv) refused(reason string) bool {
	for _, e := range env.logs.FilterMessage("policy bundle refused; the active policy stays").All() {
		m := e.ContextMap()
		if msg, _ := m["error"].(string); strings.Contains(msg, reason) && m["active_revision"] == "2" {
			return true
		}
	}
	return false
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestStartupWithUnreachableBundleService: the configured wait, then 503
// policy_unavailable for every request until a bundle activates.
func TestStartupWithUnreachableBundleService(t *testing.T) {
	addr := closedAddr(t)
	start := time.Now()
	env := mustProvision(t, &Handler{
		Bundle:      &BundleConfig{AllowUnsigned: true, URL: "http://" + addr + "/bundles/paygate.tar.gz", PollingMin: caddy.Duration(time.Second)},
		StartupWait: caddy.Duration(300 * time.Millisecond),
	})
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Errorf("Provision returned after %v, before the start-up wait", waited)
	}
	if len(env.logs.FilterMessage("no policy active after the start-up wait; refusing requests with 503 policy_unavailable until a bundle activates").All()) != 1 {
		t.Error("the missed start-up wait was not logged")
	}
	before := testutil.ToFloat64(decisions.WithLabelValues(resultUnavailable))
	for _, path := range []string{"/v1/payment_intents/pi_1", "/v1/payment_methods", "/v1/anything"} {
		r, w := newRequest("GET", path, caller{user: "alice"})
		out := serve(t, env.h, r, w)
		if out.passed || out.status != 503 || out.err.Code != "policy_unavailable" {
			t.Fatalf("%s: passed=%v %d %v, want 503 policy_unavailable", path, out.passed, out.status, out.err)
		}
	}
	if got := testutil.ToFloat64(decisions.WithLabelValues(resultUnavailable)); got != before+3 {
		t.Errorf("policy_unavailable counter %v, want %v", got, before+3)
	}
	if testutil.ToFloat64(activations.WithLabelValues("failure")) == 0 {
		t.Error("failed downloads were not counted")
	}

	// The service comes up: the next poll activates the bundle.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("re-listening on %s: %v", addr, err)
	}
	s := new(testenv.BundleServer)
	s.Set("r1", bundletest.Build(t, "1", revisionPolicy("1"), nil))
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: s}}
	srv.Start()
	t.Cleanup(srv.Close)
	testenv.Eventually(t, "the bundle to activate", func() bool { return reason(env) == "rev1" })
	r, w := newRequest("GET", "/v1/payment_methods", caller{user: "alice"})
	if out := serve(t, env.h, r, w); !out.passed {
		t.Fatalf("refused after activation: %v", out.err)
	}
}

// TestStartupWaitOncePerEngine: two handlers on the same bundle settings
// (deploy/Caddyfile's two sites) share one engine and wait for it once: the
// second, provisioned after the first has waited its startup_wait, does not
// wait again (a config load that would otherwise be cancelled before its
// wait is over succeeds at once).
func TestStartupWaitOncePerEngine(t *testing.T) {
	addr := closedAddr(t)
	config := func() *Handler {
		return &Handler{
			Bundle:      &BundleConfig{AllowUnsigned: true, URL: "http://" + addr + "/bundles/paygate.tar.gz", PollingMin: caddy.Duration(time.Second)},
			StartupWait: caddy.Duration(300 * time.Millisecond),
		}
	}
	first := mustProvision(t, config())

	second := config()
	env, err := provisionAtOnce(t, second)
	if err != nil {
		t.Fatalf("the second handler waited for the engine again: %v", err)
	}
	if second.engine != first.h.engine {
		t.Fatal("the two handlers do not share the engine")
	}
	testenv.Eventually(t, "the second handler's log that no policy is active", func() bool {
		return env.logs.FilterMessage("no policy active after the start-up wait; refusing requests with 503 policy_unavailable until a bundle activates").Len() == 1
	})
}

// TestPersistedBundle: a persisted bundle is active at the next start-up
// although the service is gone.
func TestPersistedBundle(t *testing.T) {
	srv, url := testenv.StartBundleServer(t)
	srv.Set("r1", bundletest.Build(t, "7", revisionPolicy("7"), nil))
	dir := t.TempDir()
	cfg := func() *Handler {
		return &Handler{Bundle: &BundleConfig{URL: url, AllowUnsigned: true, Persist: true, PersistDir: dir}, StartupWait: caddy.Duration(5 * time.Second)}
	}
	first := mustProvision(t, cfg())
	if got := reason(first); got != "rev7" {
		t.Fatalf("first start: %s", got)
	}
	if err := first.h.Cleanup(); err != nil {
		t.Fatal(err)
	}
	srv.Set("gone", nil)

	start := time.Now()
	second := mustProvision(t, cfg())
	if got := reason(second); got != "rev7" {
		t.Fatalf("restart without the service: %s, want the persisted rev7", got)
	}
	if waited := time.Since(start); waited > 4*time.Second {
		t.Errorf("start-up waited %v although a bundle was persisted", waited)
	}
}

// TestEngineKeptAcrossReloads: a reload with the same bundle settings keeps
// the engine and its bundle; a changed one starts another.
func TestEngineKeptAcrossReloads(t *testing.T) {
	srv, url := testenv.StartBundleServer(t)
	srv.Set("r1", bundletest.Build(t, "1", revisionPolicy("1"), nil))
	cfg := func(query string) *Handler {
		return &Handler{Bundle: &BundleConfig{URL: url, AllowUnsigned: true}, Query: query}
	}
	old := mustProvision(t, cfg(""))
	next := mustProvision(t, cfg(""))
	if old.h.engine != next.h.engine {
		t.Fatal("the same bundle settings got a second engine")
	}
	if err := old.h.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if got := reason(next); got != "rev1" {
		t.Fatalf("after the old config's cleanup: %s", got)
	}
	if n := srv.Downloads(); n != 1 {
		t.Errorf("%d downloads, want 1", n)
	}
	other := mustProvision(t, cfg("data.paygate.authz.decision.allow"))
	if other.h.engine == next.h.engine {
		t.Error("another query shares the engine")
	}
}

func TestBundleBearerToken(t *testing.T) {
	t.Setenv("OPA_AUTHZ_TEST_TOKEN", "s3cret")
	srv, url := testenv.StartBundleServer(t)
	srv.Set("r1", bundletest.Build(t, "1", revisionPolicy("1"), nil))
	mustProvision(t, &Handler{Bundle: &BundleConfig{URL: url, AllowUnsigned: true, BearerToken: "{env.OPA_AUTHZ_TEST_TOKEN}"}})
	if got := srv.Authorization(); got != "Bearer s3cret" {
		t.Errorf("Authorization = %q, want the resolved token", got)
	}
}
