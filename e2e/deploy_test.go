package e2e

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/devtoken"
	"github.com/paygate/paygate/internal/testenv"
	"github.com/paygate/paygate/internal/testenv/bundletest"
)

// deployEnv is what a platform team sets to run deploy/Caddyfile on one
// machine: loopback binds and the harness's ports, Caddy's local CA
// instead of ACME, the load balancer on 127.0.0.1, and its services (given
// in services) on loopback too. Each value is a template of the harness.
func deployEnv(services map[string]string) map[string]string {
	env := map[string]string{
		"PAYGATE_DOMAIN":          "localhost",
		"PAYGATE_BIND":            "127.0.0.1",
		"PAYGATE_HTTP_PORT":       "{{.HTTPPort}}",
		"PAYGATE_HTTPS_PORT":      "{{.HTTPSPort}}",
		"PAYGATE_ADMIN":           "{{.AdminAddr}}",
		"PAYGATE_TLS":             "internal",
		"PAYGATE_TRUSTED_PROXIES": "127.0.0.1/32",
		"PAYGATE_POLICY_POLLING":  "1s 1s",
		"PAYGATE_ISSUER":          devtoken.DefaultIssuer,
		// stripe-mock is test mode, and so are the events signed here.
		"PAYGATE_STRIPE_MODE":     "test",
		"STRIPE_WEBHOOK_SECRET":   webhookSecret,
		"PAYGATE_IDEMPOTENCY_KEY": e2eSealKey,
	}
	for k, v := range services {
		env[k] = v
	}
	return env
}

// deployServices are what deploy/Caddyfile talks to besides Stripe and the
// application, on loopback: a private Redis, the identity provider's JWKS
// (the development key set) and a bundle server holding the shipped
// policies, signed, as revision 1. env names them as deployEnv's services.
type deployServices struct {
	redis   *testenv.RedisServer
	bundles *testenv.BundleServer
	env     map[string]string
}

func startDeployServices(t *testing.T) deployServices {
	t.Helper()
	rs := testenv.Redis(t)
	jwksBody := deployRead(t, "testdata/jwt/dev-jwks.json")
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwksBody)
	}))
	t.Cleanup(jwks.Close)
	bundles, bundleURL := testenv.StartBundleServer(t)
	bundles.Set("1", bundletest.Build(t, "1", shippedPolicyFiles(t), deployRead(t, "testdata/opa/bundle-signing.key")))
	return deployServices{redis: rs, bundles: bundles, env: map[string]string{
		"REDIS_URL":                 rs.URL(),
		"PAYGATE_JWKS_URL":          jwks.URL + "/.well-known/jwks.json",
		"PAYGATE_CATALOG":           deployAbs(t, "testdata/catalog/catalog.json"),
		"PAYGATE_POLICY_BUNDLE_URL": bundleURL,
		"PAYGATE_POLICY_PUBLIC_KEY": deployAbs(t, "testdata/opa/bundle-signing.pub"),
		// The internal listener's default port is fixed (9180): a free
		// one, so that runs side by side do not collide.
		"PAYGATE_INTERNAL_PORT": strconv.Itoa(testenv.FreePort(t)),
	}}
}

// with returns the services' environment with more.
func (d deployServices) with(more map[string]string) map[string]string {
	env := maps.Clone(d.env)
	maps.Copy(env, more)
	return deployEnv(env)
}

// deployAbs is the absolute path of a file of the repository.
func deployAbs(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// deployRead is the content of a file of the repository.
func deployRead(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(deployAbs(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDeployCaddyfileEndToEnd (issue #10) runs deploy/Caddyfile itself, as
// a platform team would, with only its environment pointing at a private
// Redis, stripe-mock, a JWKS server and a signed bundle on loopback: a
// token's round trip through the payment API and the policy, plain HTTP
// refused and the same API served behind a trusted TLS-terminating proxy,
// a policy bundle rollout, a Redis outage and its recovery; then every log
// line must be JSON and hold none of the secrets.
func TestDeployCaddyfileEndToEnd(t *testing.T) {
	svc := startDeployServices(t)
	rs, bundles := svc.redis, svc.bundles
	sm := testenv.StartStripeMock(t)
	up := testenv.StartUpstream(t, nil)
	signingKey := deployRead(t, "testdata/opa/bundle-signing.key")
	policies := shippedPolicyFiles(t)

	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Caddyfile: "../deploy/Caddyfile",
		Env: svc.with(map[string]string{
			"STRIPE_SECRET_KEY": e2eStripeKey,
			"STRIPE_API_BASE":   sm.URL,
			"PAYGATE_UPSTREAM":  strings.TrimPrefix(up.URL, "http://"),
		}),
	})
	pg.WaitForMetric(t, `paygate_policy_bundle_revision_info{revision="1"}`, testenv.MetricIs(1))

	tokens := map[string]string{
		"alice":   testenv.DevToken(t, "alice", nil),
		"bob":     testenv.DevToken(t, "bob", nil),
		"mallory": testenv.DevToken(t, "mallory", nil),
		"agent":   testenv.DevToken(t, "agent", map[string]any{"role": "support"}),
	}
	call := func(base, method, path, user, body string, header http.Header) (*http.Response, []byte) {
		t.Helper()
		h := http.Header{"Authorization": {"Bearer " + tokens[user]}}
		if body != "" {
			h.Set("Content-Type", "application/json")
		}
		for k, v := range header {
			h[k] = v
		}
		return send(t, pg.Client(), method, base+path, body, h)
	}
	want := func(step string, resp *http.Response, body []byte, status int) {
		t.Helper()
		if resp.StatusCode != status {
			t.Fatalf("%s: status %d, want %d (body %s)", step, resp.StatusCode, status, body)
		}
	}

	resp, body := call(pg.HTTPSURL, "GET", "/v1/payment_methods", "alice", "", nil)
	want("alice lists her cards", resp, body, http.StatusOK)
	resp, body = call(pg.HTTPSURL, "POST", "/v1/payment_intents", "alice", paymentOrder, http.Header{"Idempotency-Key": {"deploy-1"}})
	want("alice creates an intent", resp, body, http.StatusCreated)
	intent := paymentJSON(t, body)["id"].(string)
	// Her retry is answered from the shared store: the same bytes, marked.
	replay, replayBody := call(pg.HTTPSURL, "POST", "/v1/payment_intents", "alice", paymentOrder, http.Header{"Idempotency-Key": {"deploy-1"}})
	want("alice retries the creation", replay, replayBody, http.StatusCreated)
	if replay.Header.Get("Idempotent-Replayed") != "true" || string(replayBody) != string(body) {
		t.Errorf("the retry was not a replay of the creation: Idempotent-Replayed %q, body %s", replay.Header.Get("Idempotent-Replayed"), replayBody)
	}
	resp, body = call(pg.HTTPSURL, "GET", "/v1/payment_intents/"+intent, "bob", "", nil)
	want("bob reads alice's intent", resp, body, http.StatusNotFound)
	decodeAPIError(t, resp, body, "resource_missing")
	resp, body = call(pg.HTTPSURL, "GET", "/v1/payment_intents/"+intent, "agent", "", nil)
	want("support reads alice's intent", resp, body, http.StatusOK)
	if got := paymentJSON(t, body)["id"]; got != intent {
		t.Errorf("support read id = %v, want %s", got, intent)
	}

	// Stripe's webhook route: a signed event about alice's intent is
	// processed once (its duplicate acknowledged), an unsigned one refused.
	succeeded := stripeEventBody(t, "evt_deploy_1", "payment_intent.succeeded", map[string]any{"id": intent, "object": "payment_intent"}, nil)
	for range 2 {
		resp, body = postEvent(t, pg, succeeded, stripeSignature(succeeded, time.Now(), webhookSecret), nil)
		wantReceived(t, resp, body)
	}
	pg.WaitForMetric(t, `paygate_webhook_events_total{outcome="processed"}`, testenv.MetricIs(1))
	pg.WaitForMetric(t, `paygate_webhook_events_total{outcome="duplicate"}`, testenv.MetricIs(1))
	resp, body = postEvent(t, pg, succeeded, "", nil)
	want("an unsigned event", resp, body, http.StatusBadRequest)
	decodeAPIError(t, resp, body, "webhook_signature_invalid")

	// The HTTP site: plain HTTP is refused; behind the trusted proxy that
	// terminated TLS it is the same API, and the same pages.
	resp, body = call(pg.HTTPURL, "GET", "/v1/payment_methods", "alice", "", nil)
	want("plain HTTP", resp, body, http.StatusForbidden)
	decodeAPIError(t, resp, body, "tls_required")
	proxied := http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-For": {"203.0.113.7"}}
	resp, body = call(pg.HTTPURL, "GET", "/v1/payment_methods", "alice", "", proxied)
	want("through the trusted proxy", resp, body, http.StatusOK)
	var methods map[string]any
	if err := json.Unmarshal(body, &methods); err != nil {
		t.Errorf("through the trusted proxy: not the API's JSON: %v: %q", err, body)
	}
	wantHSTS := func(what string, resp *http.Response) {
		t.Helper()
		if got := resp.Header.Get("Strict-Transport-Security"); got != apiHeaders["Strict-Transport-Security"] {
			t.Errorf("%s: Strict-Transport-Security = %q, want %q", what, got, apiHeaders["Strict-Transport-Security"])
		}
	}
	wantHSTS("the API through the trusted proxy", resp)
	resp, body = send(t, pg.Client(), "GET", pg.HTTPURL+"/about", "", proxied)
	want("a page through the trusted proxy", resp, body, http.StatusOK)
	wantHSTS("a page through the trusted proxy", resp)
	if n := up.Count(); n != 1 {
		t.Errorf("the application got %d requests, want the page", n)
	}

	// A rollout: revision 2 drops the support rule, and support's read is
	// refused once it is active.
	variant := map[string]string{}
	for name, text := range policies {
		variant[name] = text
	}
	supportRule := "} else := {\"allow\": true, \"reason\": \"support_read\"} if {\n\tsupport_read\n"
	if !strings.Contains(variant["authz.rego"], supportRule) {
		t.Fatal("the shipped policy has no support_read rule to drop")
	}
	variant["authz.rego"] = strings.Replace(variant["authz.rego"], supportRule, "", 1)
	bundles.Set("2", bundletest.Build(t, "2", variant, signingKey))
	pg.WaitForMetric(t, `paygate_policy_bundle_revision_info{revision="2"}`, testenv.MetricIs(1))
	resp, body = call(pg.HTTPSURL, "GET", "/v1/payment_intents/"+intent, "agent", "", nil)
	want("support reads alice's intent under revision 2", resp, body, http.StatusNotFound)

	// Card testing through setup intents: each one's client_secret lets a
	// browser try cards at Stripe, so a user gets five an hour.
	for i := range 5 {
		resp, body = call(pg.HTTPSURL, "POST", "/v1/setup_intents", "mallory", "", nil)
		want("mallory's setup intent "+strconv.Itoa(i+1), resp, body, http.StatusCreated)
	}
	resp, body = call(pg.HTTPSURL, "POST", "/v1/setup_intents", "mallory", "", nil)
	rluWantRefused(t, resp, body, "setup_velocity")

	// Redis goes away: the store is needed (alice's customer), so 503 with
	// Retry-After; once it is back, the API answers again.
	rs.Stop()
	resp, body = call(pg.HTTPSURL, "GET", "/v1/payment_methods", "alice", "", nil)
	want("Redis stopped", resp, body, http.StatusServiceUnavailable)
	decodeAPIError(t, resp, body, "store_unavailable")
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("Retry-After = %q, want seconds >= 1", resp.Header.Get("Retry-After"))
	}
	rs.Restart()
	testenv.Eventually(t, "the API answers again after Redis restarted", func() bool {
		resp, _ := call(pg.HTTPSURL, "GET", "/v1/payment_methods", "alice", "", nil)
		return resp.StatusCode == http.StatusOK
	})

	var plants []plant
	for user, tok := range tokens {
		parts := strings.Split(tok, ".")
		plants = append(plants, plantSecret(user+"'s token", tok, parts[1], parts[2]))
	}
	plants = append(plants, plantSecret("the Stripe key", e2eStripeKey), plantSecret("the webhook secret", webhookSecret),
		plantSecret("the seal key", e2eSealKey))
	requireNoLeaks(t, pg, plants)
	for i, line := range strings.Split(strings.TrimSpace(string(pg.Logs(t))), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("log line %d is not JSON: %s", i+1, line)
		}
	}
}

// commandEnv is an environment that deploy/Caddyfile adapts and validates
// with, run by a command of its own (the Makefile's check-config set, with
// the e2e secrets and a private home), with more's values on top.
func commandEnv(t *testing.T, more map[string]string) []string {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{
		"HOME": dir, "XDG_DATA_HOME": dir, "XDG_CONFIG_HOME": dir,
		"PAYGATE_DOMAIN":            "pay.example.com",
		"REDIS_URL":                 "redis://127.0.0.1:9/0",
		"STRIPE_SECRET_KEY":         e2eStripeKey,
		"STRIPE_WEBHOOK_SECRET":     webhookSecret,
		"PAYGATE_IDEMPOTENCY_KEY":   e2eSealKey,
		"PAYGATE_UPSTREAM":          "127.0.0.1:9",
		"PAYGATE_ISSUER":            "https://id.example.com",
		"PAYGATE_JWKS_URL":          "https://id.example.com/.well-known/jwks.json",
		"PAYGATE_CATALOG":           deployAbs(t, "testdata/catalog/catalog.json"),
		"PAYGATE_POLICY_BUNDLE_URL": "https://bundles.example.com/paygate.tar.gz",
		"PAYGATE_POLICY_PUBLIC_KEY": deployAbs(t, "testdata/opa/bundle-signing.pub"),
	}
	maps.Copy(env, more)
	list := make([]string, 0, len(env))
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	return list
}

// TestDeployCaddyfileLiveKey: deploy/Caddyfile with its production
// defaults (ACME, Stripe's own API, the admin socket) and a live key is a
// valid configuration, the HTTP site included: that server trusts the load
// balancer, which terminates TLS, so the payment handler there accepts the
// live key. Without trusted_proxies it is refused, as on any plain server.
func TestDeployCaddyfileLiveKey(t *testing.T) {
	bundles, bundleURL := testenv.StartBundleServer(t)
	bundles.Set("1", bundletest.Build(t, "1", shippedPolicyFiles(t), deployRead(t, "testdata/opa/bundle-signing.key")))
	cmd := exec.Command(testenv.Binary(t), "validate", "--config", deployAbs(t, "deploy/Caddyfile"), "--adapter", "caddyfile")
	cmd.Env = commandEnv(t, map[string]string{
		"STRIPE_SECRET_KEY":         "sk_live_e2eLive123",
		"PAYGATE_POLICY_BUNDLE_URL": bundleURL,
	})
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("validate: %v, output:\n%s", err, out)
	}
	if strings.Contains(string(out), "sk_live_e2eLive123") {
		t.Error("validate's output shows the key")
	}
}
