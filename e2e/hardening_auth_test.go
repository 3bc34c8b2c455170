package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/paygate/paygate/internal/testenv"
	"github.com/paygate/paygate/internal/testenv/bundletest"
)

// Issue #9, items 12, 15, 16 and 17, and two gaps of the suite: tests of
// authentication, policy and routing through the binary.

// hardeningPipeline is the shipped /v1 pipeline in front of the upstream
// recorder, with {{.Data.auth}} as its jwt_auth.
const hardeningPipeline = `
		security_headers api
		tls_enforce
		request_guard
		card_data_guard
		api_methods
		{{.Data.auth}}
		opa_authz {
			policy_dir {{.Data.policies}}
			claims role
		}
		api_response
		reverse_proxy {{.Upstream}}`

// switchableJWKS is a JWKS endpoint the test switches between an outage
// (503) and a key set.
type switchableJWKS struct {
	mu   sync.Mutex
	jwks []byte // nil: the outage
	hits int
}

func (s *switchableJWKS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hits++
	if s.jwks == nil {
		http.Error(w, "identity provider down", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=300")
	_, _ = w.Write(s.jwks)
}

func (s *switchableJWKS) serve(jwks []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jwks = jwks
}

func (s *switchableJWKS) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits
}

// TestJWKSOutageAnswers503 (item 12): while the key set cannot be fetched,
// a good token gets 503 authentication_unavailable with Retry-After, not a
// 401 invalid_token that would make the client throw it away; a request
// without a token still gets the plain 401 challenge (there is nothing to
// verify). Once the identity provider answers, the background retries
// pick the key set up and the same token passes, without a restart.
// Answering a keys_unavailable refusal like any other bad token (the
// defect) fails the first subtest; without the background retry the last
// one times out.
//
// The outage is paygate's, not the client's: it spends none of the
// client's failure budget (a per-IP zone counting 401s, 2 of them, ahead
// of authentication). Counting Caddy's bare 401 for the outage (the defect)
// has the third request of the first subtest refused with 429.
func TestJWKSOutageAnswers503(t *testing.T) {
	idp := new(switchableJWKS)
	jwksSrv := httptest.NewServer(idp)
	t.Cleanup(jwksSrv.Close)
	devJWKS, err := os.ReadFile("../testdata/jwt/dev-jwks.json")
	if err != nil {
		t.Fatal(err)
	}

	up := testenv.StartUpstream(t, nil)
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream: up,
		Site: `
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	route /v1/* {
		redis_rate_limit {
			zone ip_failures {
				key {paygate.client_ip}
				statuses 401
				rate 2 1h
				burst 2
			}
		}` + hardeningPipeline + `
	}
	handle_errors {
		paygate_error
	}
}
`,
		Data: map[string]any{
			"policies": opaPolicies(t),
			// The default jwks_retry_interval (30s) caps the backoff; 4s
			// keeps the recovery within the wait's deadline however late
			// the test switches the key set on.
			"auth": fmt.Sprintf(`jwt_auth {
			issuer %s
			audience %s
			jwks %s/jwks.json
			typ at+jwt
			claim role
			jwks_retry_interval 4s
		}`, devIssuer, devAudience, jwksSrv.URL),
		},
	})
	c := pg.Client()
	api := pg.HTTPSURL + "/v1/payment_methods"
	token := http.Header{"Authorization": {"Bearer " + testenv.DevToken(t, "alice", nil)}}
	pg.WaitForMetric(t, `paygate_jwks_fetches_total{result="error"}`, testenv.MetricAbove(0))

	t.Run("valid token during the outage", func(t *testing.T) {
		for _, method := range []string{"GET", "POST", "GET"} {
			url := api
			if method == "POST" {
				url = pg.HTTPSURL + "/v1/setup_intents"
			}
			resp, body := send(t, c, method, url, "", token)
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("%s: status = %d, want 503 (body %s)", method, resp.StatusCode, body)
			}
			decodeAPIError(t, resp, body, "authentication_unavailable")
			checkHeaders(t, resp, apiHeaders)
			if ra := resp.Header.Get("Retry-After"); ra == "" {
				t.Errorf("%s: no Retry-After", method)
			} else if n, err := strconv.Atoi(ra); err != nil || n < 1 {
				t.Errorf("%s: Retry-After = %q, want a number of seconds", method, ra)
			}
			for _, ch := range resp.Header.Values("WWW-Authenticate") {
				if strings.Contains(ch, "error=") {
					t.Errorf("%s: WWW-Authenticate %q tells the client its token is bad", method, ch)
				}
			}
		}
	})

	t.Run("no token during the outage", func(t *testing.T) {
		resp, body := send(t, c, "GET", api, "", nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status = %d, want 401 (body %s)", resp.StatusCode, body)
		}
		decodeAPIError(t, resp, body, "unauthorized")
		if got := resp.Header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != `Bearer realm="paygate"` {
			t.Errorf("WWW-Authenticate = %q, want the bare challenge", got)
		}
	})
	if n := up.Count(); n != 0 {
		t.Fatalf("%d requests reached the upstream during the outage", n)
	}
	pg.WaitForMetric(t, `paygate_auth_failures_total{reason="keys_unavailable"}`, testenv.MetricIs(3))

	t.Run("recovers without a restart", func(t *testing.T) {
		asked := idp.count()
		idp.serve(devJWKS)
		// No request is sent until the key set has been asked for again:
		// a request's own refetch must not be what recovers, the
		// background retry must.
		testenv.Eventually(t, "the background retry asking the JWKS again", func() bool {
			return idp.count() > asked
		})
		pg.WaitForMetric(t, `paygate_jwks_fetches_total{result="ok"}`, testenv.MetricIs(1))
		resp, body := send(t, c, "GET", api, "", token)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("the same token after the recovery: %d %s, want 200", resp.StatusCode, body)
		}
		if n := up.Count(); n != 1 {
			t.Errorf("%d requests reached the upstream, want the one accepted", n)
		}
	})
}

// opaValidate runs "paygate validate" on a Caddyfile whose one route is
// the policy stage with the given bundle block, with every proxy variable
// pointing at proxy: a fetch of a host that is not loopback goes there.
func opaValidate(t *testing.T, bundleURL, bundleOptions, proxy string) ([]byte, error) {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "Caddyfile")
	site := fmt.Sprintf(`{
	skip_install_trust
}

https://localhost:%d {
	bind 127.0.0.1
	route {
		opa_authz {
			bundle %s {
				polling 1s 1s
				%s
			}
			startup_wait 10s
		}
		respond 200
	}
}
`, testenv.FreePort(t), bundleURL, bundleOptions)
	if err := os.WriteFile(config, []byte(site), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testenv.Binary(t), "validate", "--config", config, "--adapter", "caddyfile")
	cmd.Env = []string{"HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir,
		"HTTP_PROXY=" + proxy, "HTTPS_PROXY=" + proxy, "http_proxy=" + proxy, "https_proxy=" + proxy}
	return cmd.CombinedOutput()
}

// shippedPolicyFiles are the repository's policy files, for a bundle.
func shippedPolicyFiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, name := range []string{"authz.rego", "log.rego"} {
		b, err := os.ReadFile(filepath.Join(opaPolicies(t), name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(b)
	}
	return files
}

// TestOPAUnsignedOrInsecureBundleRefused (item 15): a bundle without
// public_key, or at an http:// URL of a host that is not loopback, is a
// configuration error, found before anything is fetched. A proxy that
// every fetch beyond loopback would go through sees nothing; the last case
// (both allowed explicitly) shows that it would see a fetch. Without the
// check, validate succeeds (an unsigned bundle only warned before).
// "paygate validate" provisions the modules as "paygate run" does, and the
// policy stage's Provision runs Validate before it starts OPA, so a run
// fails the same way; the harness has no start that is expected to fail.
func TestOPAUnsignedOrInsecureBundleRefused(t *testing.T) {
	_, publicKey := opaDevKey(t)
	bundles, loopbackURL := testenv.StartBundleServer(t)
	bundles.Set("r1", bundletest.Build(t, "1", shippedPolicyFiles(t), nil))
	// The proxy serves the bundle too, so that the allowed case activates
	// it at once.
	proxy := testenv.StartUpstream(t, bundles)

	tests := []struct {
		name, url, options string
		want               []string // in the refusal
	}{
		{name: "https without public_key", url: "https://bundles.example.invalid/p.tar.gz",
			want: []string{"public_key is required", "allow_unsigned"}},
		{name: "loopback http without public_key", url: loopbackURL,
			want: []string{"public_key is required", "allow_unsigned"}},
		{name: "http elsewhere, signed", url: "http://bundles.example.invalid/p.tar.gz", options: "public_key " + publicKey,
			want: []string{"bundles.example.invalid", "loopback", "allow_http"}},
		{name: "http elsewhere, allow_unsigned", url: "http://bundles.example.invalid/p.tar.gz", options: "allow_unsigned",
			want: []string{"bundles.example.invalid", "loopback", "allow_http"}},
		{name: "http elsewhere, without public_key", url: "http://bundles.example.invalid/p.tar.gz",
			want: []string{"opa_authz: bundle:", "allow_http"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := opaValidate(t, tt.url, tt.options, proxy.URL)
			if err == nil {
				t.Fatalf("validate accepted the config; output:\n%s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("the refusal does not say %q; output:\n%s", w, out)
				}
			}
		})
	}
	if n := proxy.Count(); n != 0 {
		t.Errorf("refused configs fetched through the proxy %d times, first %s %s", n, proxy.Requests()[0].Method, proxy.Requests()[0].URL)
	}
	if n := bundles.Downloads(); n != 0 {
		t.Errorf("the loopback bundle was downloaded %d times by a refused config", n)
	}

	t.Run("both allowed explicitly", func(t *testing.T) {
		url := "http://bundles.example.invalid" + testenv.BundlePath
		before := proxy.Count()
		out, err := opaValidate(t, url, "allow_unsigned\n\t\t\t\tallow_http", proxy.URL)
		if err != nil {
			t.Fatalf("validate: %v; output:\n%s", err, out)
		}
		if !strings.Contains(string(out), "allow_unsigned: bundle signatures are not verified") {
			t.Errorf("no warning about the unsigned bundle; output:\n%s", out)
		}
		fetched := false
		for _, r := range proxy.Requests()[before:] {
			fetched = fetched || r.Host == "bundles.example.invalid"
		}
		if !fetched {
			t.Fatalf("the proxy saw no request for bundles.example.invalid; a fetch of %s should have gone through it", url)
		}
	})
}

// TestOPAAllowUnsignedBundleDecides (item 15): with allow_unsigned, an
// unsigned bundle of the shipped policy on a loopback bundle service loads
// and decides: a collection read passes, another user's object does not.
func TestOPAAllowUnsignedBundleDecides(t *testing.T) {
	bundles, bundleURL := testenv.StartBundleServer(t)
	bundles.Set("r1", bundletest.Build(t, "unsigned-1", shippedPolicyFiles(t), nil))
	up := testenv.StartUpstream(t, nil)
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream: up,
		Site: `
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	route /v1/* {
		security_headers api
		tls_enforce
		request_guard
		card_data_guard
		api_methods
		{{.Data.auth}}
		opa_authz {
			bundle {{.Data.bundleURL}} {
				polling 1s 1s
				allow_unsigned
			}
			claims role
		}
		api_response
		reverse_proxy {{.Upstream}}
	}
	handle_errors {
		paygate_error
	}
}
`,
		Data: map[string]any{"auth": opaAuth(t), "bundleURL": bundleURL},
	})
	pg.WaitForMetric(t, `paygate_policy_bundle_revision_info{revision="unsigned-1"}`, testenv.MetricIs(1))
	alice := opaBearer(t, "alice", "customer")
	resp, body := send(t, pg.Client(), "GET", pg.HTTPSURL+"/v1/payment_methods", "", alice)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/payment_methods: %d %s, want 200", resp.StatusCode, body)
	}
	resp, body = send(t, pg.Client(), "GET", pg.HTTPSURL+"/v1/payment_intents/pi_notalices", "", alice)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET another's intent: %d %s, want 404", resp.StatusCode, body)
	}
	decodeAPIError(t, resp, body, "resource_missing")
	if n := up.Count(); n != 1 {
		t.Errorf("%d requests reached the upstream, want 1", n)
	}
	pg.WaitForLog(t, "the warning about the unsigned bundle", testenv.LogFields(map[string]string{
		"msg": "allow_unsigned: bundle signatures are not verified; set public_key to refuse bundles that were not signed by the platform team",
	}))
}

// sendHost is send with the request's Host set to host.
func sendHost(t *testing.T, c *http.Client, method, url, host, body string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req.Header = header
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestCookieBehindTLSTerminatingProxy (item 16): behind a trusted proxy
// that terminated TLS, the site's own origin is the scheme the proxy
// reports with the request's Host, so a same-origin cookie POST passes and
// a cross-site one does not. The defect (the own origin built from r.TLS,
// "http://...") refuses the first case with 401.
func TestCookieBehindTLSTerminatingProxy(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream: up,
		Global: `auto_https disable_redirects
	servers {
		trusted_proxies static 127.0.0.1/32
	}`,
		Site: `
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	respond 404
}

http://localhost:{{.HTTPPort}} {
	bind 127.0.0.1
	route /v1/* {
		security_headers api
		tls_enforce
		request_guard
		card_data_guard {
			skip_cookie __Host-session
		}
		api_methods
		{{.Data.auth}}
		api_response
		reverse_proxy {{.Upstream}}
	}
	handle_errors {
		paygate_error
	}
}
`,
		Data: map[string]any{"auth": strings.Replace(opaAuth(t), "claim role", "claim role\n\t\t\tcookie __Host-session", 1)},
	})
	c := pg.Client()
	url := pg.HTTPURL + "/v1/setup_intents"
	hostPort := strings.TrimPrefix(pg.HTTPURL, "http://")
	token := testenv.DevToken(t, "alice", nil)

	tests := []struct {
		name, host, origin, proto string
		wantStatus                int
		wantCode                  string
	}{
		// What a proxy listening on this port forwards.
		{name: "same origin, host with port", host: hostPort, origin: "https://" + hostPort, proto: "https", wantStatus: 200},
		// What a proxy on 443 forwards: the origin has no port.
		{name: "same origin, default port", host: "localhost", origin: "https://localhost", proto: "https", wantStatus: 200},
		{name: "other site", host: hostPort, origin: "https://evil.example", proto: "https", wantStatus: 401, wantCode: "unauthorized"},
		// The hop's scheme is not the client's: a page served over http
		// is another origin than the https site.
		{name: "http origin", host: hostPort, origin: "http://" + hostPort, proto: "https", wantStatus: 401, wantCode: "unauthorized"},
		{name: "no X-Forwarded-Proto", host: hostPort, origin: "https://" + hostPort, wantStatus: 403, wantCode: "tls_required"},
		{name: "X-Forwarded-Proto http", host: hostPort, origin: "https://" + hostPort, proto: "http", wantStatus: 403, wantCode: "tls_required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{
				"Cookie":       {"__Host-session=" + token},
				"Origin":       {tt.origin},
				"Content-Type": {"application/json"},
			}
			if tt.proto != "" {
				h.Set("X-Forwarded-Proto", tt.proto)
			}
			before := up.Count()
			resp, body := sendHost(t, c, "POST", url, tt.host, "{}", h)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tt.wantStatus, body)
			}
			reached := up.Count() - before
			if tt.wantCode != "" {
				decodeAPIError(t, resp, body, tt.wantCode)
				if reached != 0 {
					t.Errorf("a refused request reached the upstream")
				}
				return
			}
			if reached != 1 {
				t.Fatalf("the upstream got %d requests, want 1", reached)
			}
			got := up.Requests()[before]
			if got.Method != "POST" || got.URL.Path != "/v1/setup_intents" {
				t.Errorf("the upstream got %s %s", got.Method, got.URL)
			}
		})
	}
}

// deploySite holds deploy/Caddyfile's two routes (issue #10 tests the file
// itself): the API with typ at+jwt, and the catch-all to the application,
// which refuses /v1 look-alikes and strips spoofable headers.
const deploySite = `
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	route /v1/* {` + hardeningPipeline + `
	}
	route {
		security_headers stripe
		request_guard page
		@api_lookalike expression {http.request.uri}.matches("(?i)^/+v1([^a-z0-9_-]|$)")
		error @api_lookalike 404
		reverse_proxy {{.Upstream}}
	}
	handle_errors {
		paygate_error
	}
}
`

// TestDeployRequiresAccessTokens (item 17): deploy/Caddyfile's jwt_auth
// with typ at+jwt refuses a token of the right issuer, audience and key
// that is typed as an ID token (or not typed), and accepts an access token.
func TestDeployRequiresAccessTokens(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream: up,
		Site:     deploySite,
		Data:     map[string]any{"auth": opaAuth(t), "policies": opaPolicies(t)},
	})
	mint := func(typ any) string {
		return testenv.MintJWT(t, testenv.JWT{Alg: "EdDSA", Key: testenv.DevKey(t), Header: map[string]any{"typ": typ}, Claims: testenv.DevClaims("alice")})
	}
	tests := []struct {
		name       string
		token      string
		wantStatus int
	}{
		{"typ JWT (an ID token)", mint("JWT"), 401},
		{"no typ", mint(nil), 401},
		{"typ at+jwt", mint("at+jwt"), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := up.Count()
			resp, body := send(t, pg.Client(), "GET", pg.HTTPSURL+"/v1/payment_methods", "", http.Header{"Authorization": {"Bearer " + tt.token}})
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tt.wantStatus, body)
			}
			reached := up.Count() - before
			if tt.wantStatus == 401 {
				wantTokenRefused(t, resp, body)
				if reached != 0 {
					t.Error("a refused token reached the upstream")
				}
			} else if reached != 1 {
				t.Errorf("the upstream got %d requests, want 1", reached)
			}
		})
	}
	pg.WaitForMetric(t, `paygate_auth_failures_total{reason="typ_mismatch"}`, testenv.MetricIs(2))
}

// TestDeployCatchAllRoute (item 17): paths that only look like the API
// never reach the application behind the catch-all (404 in paygate's
// shape), other paths do, and the headers only paygate or a trusted proxy
// may set are stripped on the way (request_guard page). Without the
// look-alike rule the four paths reach the recorder; without
// request_guard the spoofed headers do.
func TestDeployCatchAllRoute(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream: up,
		Site:     deploySite,
		Data:     map[string]any{"auth": opaAuth(t), "policies": opaPolicies(t)},
	})
	// Sent with a valid token, as a client of the API would: the token
	// must not make a look-alike acceptable. Caddy's path matcher is
	// case-insensitive and decodes %2F, so "/V1%2F..." and "//v1/..." are
	// the API route's, whose policy stage refuses ambiguous paths (400
	// invalid_path); the others fall through to the catch-all, whose rule
	// answers 404.
	token := http.Header{"Authorization": {"Bearer " + testenv.DevToken(t, "alice", nil)}}
	for _, tt := range []struct {
		target     string
		wantStatus int
		wantCode   string
	}{
		{"/v1;x/payment_intents", 404, "resource_missing"},
		{"/v1", 404, "resource_missing"},
		{"/v1%3B/x", 404, "resource_missing"},
		{"/v1?x=1", 404, "resource_missing"},
		{"/V1", 404, "resource_missing"},
		{"/v1%2e%2e/x", 404, "resource_missing"},
		{"/V1%2Fpayment_intents", 400, "invalid_path"},
		{"//v1/payment_intents", 400, "invalid_path"},
	} {
		t.Run(tt.target, func(t *testing.T) {
			resp, body := opaRaw(t, pg, "GET", tt.target, token)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tt.wantStatus, body)
			}
			decodeAPIError(t, resp, body, tt.wantCode)
			checkHeaders(t, resp, map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"})
		})
	}
	if reqs := up.Requests(); len(reqs) != 0 {
		t.Fatalf("%d look-alikes reached the application, first %s", len(reqs), reqs[0].URL)
	}

	t.Run("a page, with spoofed headers", func(t *testing.T) {
		spoofed := http.Header{
			"X-Forwarded-User":       {"admin"},
			"X-Auth-Request-User":    {"admin"},
			"X-Auth-Request-Email":   {"admin@example.com"},
			"Remote-User":            {"admin"},
			"X_Remote_User":          {"admin"},
			"X-User-Id":              {"admin"},
			"X-Original-Url":         {"/admin"},
			"X-Rewrite-Url":          {"/admin"},
			"X-Forwarded-Prefix":     {"/admin"},
			"X-Original-Method":      {"DELETE"},
			"X-Http-Method-Override": {"DELETE"},
			"X-HTTP-Method":          {"DELETE"},
			"X-Method-Override":      {"DELETE"},
		}
		for _, method := range []string{"GET", "POST"} {
			before := up.Count()
			resp, body := send(t, pg.Client(), method, pg.HTTPSURL+"/about", "", spoofed)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s /about: %d %s", method, resp.StatusCode, body)
			}
			if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "https://js.stripe.com") {
				t.Errorf("%s /about: not the stripe preset: %q", method, resp.Header.Get("Content-Security-Policy"))
			}
			reqs := up.Requests()
			if len(reqs) != before+1 {
				t.Fatalf("%s /about: the application got %d requests, want 1", method, len(reqs)-before)
			}
			got := reqs[before]
			if got.Method != method || got.URL.Path != "/about" {
				t.Errorf("the application got %s %s, want %s /about", got.Method, got.URL, method)
			}
			for name := range spoofed {
				fold := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
				for have := range got.Header {
					if strings.ToLower(strings.ReplaceAll(have, "_", "-")) == fold {
						t.Errorf("%s /about: %s reached the application", method, have)
					}
				}
			}
		}
	})
}

// TestConfirmWithAnotherUsersPaymentMethod (the suite's uncaught
// mutation): alice's saved card is recorded as hers; bob confirms his own
// payment intent with it and gets 404 resource_missing, and no confirm
// call reaches Stripe (stripe-mock would accept it). The policy stage lets
// the request through (bob owns the intent), so only the handler's check
// on the body's payment_method stands between bob and alice's card.
func TestConfirmWithAnotherUsersPaymentMethod(t *testing.T) {
	e := startPayments(t)

	// alice saves a card: a setup intent, then the list that records her
	// cards as hers.
	resp, body := e.do("POST", "/v1/setup_intents", "alice", "", nil)
	wantPaymentStatus(t, resp, body, http.StatusCreated)
	resp, body = e.do("GET", "/v1/payment_methods", "alice", "", nil)
	wantPaymentStatus(t, resp, body, http.StatusOK)
	var cards struct {
		Data []struct{ ID string } `json:"data"`
	}
	if err := json.Unmarshal(body, &cards); err != nil || len(cards.Data) == 0 {
		t.Fatalf("alice's cards: %s (%v)", body, err)
	}
	card := cards.Data[0].ID
	if got := e.redisValue("{" + card + "}:owner"); got != "alice" {
		t.Fatalf("ownership record of %s = %q, want alice", card, got)
	}

	// bob's own intent.
	resp, body = e.do("POST", "/v1/payment_intents", "bob", paymentOrder, http.Header{"Idempotency-Key": {"bob-1"}})
	wantPaymentStatus(t, resp, body, http.StatusCreated)
	intent := paymentJSON(t, body)["id"].(string)
	e.stripeCalls()

	confirms := func(calls []testenv.StripeCall) int {
		n := 0
		for _, c := range calls {
			if c.Method == "POST" && strings.HasPrefix(c.Path, "/v1/payment_intents/") && strings.HasSuffix(c.Path, "/confirm") {
				n++
			}
		}
		return n
	}
	resp, body = e.do("POST", "/v1/payment_intents/"+intent+"/confirm", "bob", `{"payment_method":"`+card+`"}`, nil)
	wantPaymentStatus(t, resp, body, http.StatusNotFound)
	decodeAPIError(t, resp, body, "resource_missing")
	if strings.Contains(string(body), card) {
		t.Errorf("the refusal names the card: %s", body)
	}
	if calls := e.stripeCalls(); confirms(calls) != 0 {
		t.Errorf("bob's confirmation with alice's card reached Stripe (%d calls)", len(calls))
	}
	if got := e.redisValue("{" + card + "}:owner"); got != "alice" {
		t.Errorf("ownership record of %s after the attempt = %q, want alice", card, got)
	}

	// The same confirmation with a card that is not alice's goes through:
	// the refusal was about the card, and the count sees confirmations.
	resp, body = e.do("POST", "/v1/payment_intents/"+intent+"/confirm", "bob", `{"payment_method":"pm_card_visa"}`, nil)
	wantPaymentStatus(t, resp, body, http.StatusOK)
	if n := confirms(e.stripeCalls()); n != 1 {
		t.Errorf("%d confirm calls reached Stripe, want 1", n)
	}
}

// TestOPAUndefinedDecisionDenies (the suite's gap): a signed bundle whose
// decision is defined only for the card list. Every other route's decision
// is undefined, which is a deny (404 on a route with an object, 403
// otherwise), and nothing reaches the upstream; the card list passes, so
// the bundle is the one deciding. Treating undefined as allow lets the
// denied requests through.
func TestOPAUndefinedDecisionDenies(t *testing.T) {
	devKey, publicKey := opaDevKey(t)
	bundles, bundleURL := testenv.StartBundleServer(t)
	const policy = `package paygate.authz

decision := {"allow": true, "reason": "cards"} if {
	input.method == "GET"
	input.path == "/v1/payment_methods"
}
`
	bundles.Set("r1", opaBundle(t, "undefined-1", policy, devKey))
	up := testenv.StartUpstream(t, nil)
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream: up,
		Site:     opaBundleSite,
		Data:     opaBundleSiteData(t, bundleURL, publicKey),
	})
	pg.WaitForMetric(t, `paygate_policy_bundle_revision_info{revision="undefined-1"}`, testenv.MetricIs(1))
	alice := opaBearer(t, "alice", "customer")
	c := pg.Client()

	tests := []struct {
		method, path string
		wantStatus   int
		wantCode     string
	}{
		{"POST", "/v1/payment_intents", 403, "forbidden"},
		{"POST", "/v1/setup_intents", 403, "forbidden"},
		{"GET", "/v1/payment_intents/pi_1", 404, "resource_missing"},
		{"DELETE", "/v1/payment_methods/pm_1", 404, "resource_missing"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			resp, body := send(t, c, tt.method, pg.HTTPSURL+tt.path, "", alice)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tt.wantStatus, body)
			}
			decodeAPIError(t, resp, body, tt.wantCode)
			checkHeaders(t, resp, apiHeaders)
		})
	}
	if reqs := up.Requests(); len(reqs) != 0 {
		t.Fatalf("%d undecided requests reached the upstream, first %s %s", len(reqs), reqs[0].Method, reqs[0].URL)
	}
	resp, body := send(t, c, "GET", pg.HTTPSURL+"/v1/payment_methods", "", alice)
	if resp.StatusCode != http.StatusOK || up.Count() != 1 {
		t.Fatalf("the card list, which the bundle allows: %d %s, upstream %d", resp.StatusCode, body, up.Count())
	}
}
