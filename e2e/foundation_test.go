package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/paygate/paygate/internal/testenv"
)

// apiHeaders are the headers the "api" preset must put on every response
// served over TLS.
var apiHeaders = map[string]string{
	"Strict-Transport-Security":    "max-age=63072000; includeSubDomains",
	"Content-Security-Policy":      "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
	"X-Content-Type-Options":       "nosniff",
	"X-Frame-Options":              "DENY",
	"Referrer-Policy":              "strict-origin-when-cross-origin",
	"Permissions-Policy":           "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
	"Cross-Origin-Opener-Policy":   "same-origin",
	"Cross-Origin-Resource-Policy": "same-origin",
	"Cache-Control":                "no-store",
}

// checkHeaders asserts that each header has exactly the wanted value (one
// field line), that X-Request-Id is set and that nothing fingerprints the
// stack behind paygate.
func checkHeaders(t *testing.T, resp *http.Response, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := resp.Header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Error("X-Request-Id missing")
	}
	for _, k := range []string{"X-Powered-By", "Server", "Via", "X-AspNet-Version", "X-AspNetMvc-Version"} {
		if v := resp.Header.Values(k); len(v) != 0 {
			t.Errorf("%s = %q, want it removed", k, v)
		}
	}
}

// foundationSite serves the cases of TestSecurityHeadersOnEveryResponse: each
// path makes a different stage or Caddy itself produce the response.
const foundationSite = `
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	route {
		security_headers api
		tls_enforce
		request_body {
			max_size 1KB
		}
		handle /ok {
			reverse_proxy {{.Upstream}}
		}
		handle /weak {
			reverse_proxy {{.Upstream}}
		}
		handle /unauthorized {
			error 401
		}
		handle /limited {
			error 429
		}
		handle /upload {
			reverse_proxy {{.Upstream}}
		}
		handle /upstream-fails {
			reverse_proxy {{.Upstream}}
		}
		handle /upstream-down {
			reverse_proxy 127.0.0.1:{{.Data.deadPort}}
		}
		handle /panic {
			error "internal detail: dial redis 10.1.2.3" 500
		}
		error 404
	}
	handle_errors {
		paygate_error
	}
}
`

// weakeningUpstream answers like a careless application would: it tries to
// switch HSTS off, loosen the CSP, make API responses cacheable and
// advertise its stack.
func weakeningUpstream() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Strict-Transport-Security", "max-age=0")
		h.Add("Content-Security-Policy", "default-src * 'unsafe-inline' 'unsafe-eval'")
		h.Set("Cache-Control", "public, max-age=86400")
		h.Set("X-Powered-By", "Express")
		h.Set("Server", "Apache/2.4.1 (Unix) OpenSSL/1.0.1")
		h.Set("X-AspNet-Version", "4.0.30319")
		h.Set("X-AspNetMvc-Version", "5.2")
		h.Set("Via", "1.1 varnish (Varnish/6.0)")
		h.Set("X-Frame-Options", "ALLOWALL")
		h.Set("X-Request-Id", "forged-by-upstream")
		switch r.URL.Path {
		case "/upstream-fails":
			w.WriteHeader(http.StatusInternalServerError)
		case "/upload":
			// Reading the body is what makes Caddy's size limit trip.
			_, _ = w.Write([]byte("read"))
		default:
			_, _ = w.Write([]byte(`{"ok":true}`))
		}
	})
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	up := testenv.StartUpstream(t, weakeningUpstream())
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream: up,
		Site:     foundationSite,
		Data:     map[string]any{"deadPort": testenv.FreePort(t)},
	})
	c := pg.Client()

	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantCode                 string // "" = not a paygate error body
	}{
		{name: "200 from the upstream", method: "GET", path: "/ok", wantStatus: 200},
		{name: "upstream weakens headers", method: "GET", path: "/weak", wantStatus: 200},
		{name: "401 from a later stage", method: "GET", path: "/unauthorized", wantStatus: 401, wantCode: "unauthorized"},
		{name: "404 for an unknown route", method: "GET", path: "/nowhere", wantStatus: 404, wantCode: "resource_missing"},
		{name: "413 from Caddy's body limit", method: "POST", path: "/upload", body: strings.Repeat("a", 4096), wantStatus: 413, wantCode: "body_too_large"},
		{name: "429 from a later stage", method: "GET", path: "/limited", wantStatus: 429, wantCode: "rate_limited"},
		{name: "500 from the upstream", method: "GET", path: "/upstream-fails", wantStatus: 500},
		{name: "502 when the upstream is down", method: "GET", path: "/upstream-down", wantStatus: 502, wantCode: "upstream_unavailable"},
		{name: "500 with an internal cause", method: "GET", path: "/panic", wantStatus: 500, wantCode: "internal_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := send(t, c, tt.method, pg.HTTPSURL+tt.path, tt.body, nil)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tt.wantStatus, body)
			}
			checkHeaders(t, resp, apiHeaders)
			if resp.Header.Get("X-Request-Id") == "forged-by-upstream" {
				t.Error("the upstream's X-Request-Id reached the client")
			}
			if tt.wantCode != "" {
				e := decodeAPIError(t, resp, body, tt.wantCode)
				if strings.Contains(string(body), "10.1.2.3") || strings.Contains(e.Error.Message, "redis") {
					t.Errorf("error body names the internal cause: %s", body)
				}
			}
		})
	}

	// The internal cause is in the log, with the request ID, for the
	// operator; the line may be written after the response has arrived.
	pg.WaitForLog(t, "the internal cause of the 500", func(e testenv.LogEntry) bool {
		return e.Str("msg") == "request refused" && e.Str("request_id") != "" && strings.Contains(e.Str("cause"), "dial redis 10.1.2.3")
	})
}

func TestPlainHTTPAPICallRefused(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream: up,
		Global:   "auto_https disable_redirects",
		Site: `
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	route {
		security_headers api
		tls_enforce
		reverse_proxy {{.Upstream}}
	}
	handle_errors {
		paygate_error
	}
}

http://localhost:{{.HTTPPort}} {
	bind 127.0.0.1
	route {
		security_headers api
		tls_enforce
		reverse_proxy {{.Upstream}}
	}
	handle_errors {
		paygate_error
	}
}
`,
	})
	c := pg.Client()
	for _, method := range []string{"GET", "POST", "DELETE"} {
		t.Run(method, func(t *testing.T) {
			resp, body := send(t, c, method, pg.HTTPURL+"/v1/payment_intents", `{"items":[]}`,
				http.Header{"Authorization": {"Bearer secret-token"}, "X-Forwarded-Proto": {"https"}})
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status = %d, want 403 (body %s)", resp.StatusCode, body)
			}
			if loc := resp.Header.Get("Location"); loc != "" {
				t.Errorf("plain-HTTP API call redirected to %q", loc)
			}
			decodeAPIError(t, resp, body, "tls_required")
			// No HSTS over plain HTTP (RFC 6797 8.1); the rest of the headers are there.
			if v := resp.Header.Values("Strict-Transport-Security"); len(v) != 0 {
				t.Errorf("HSTS sent over plain HTTP: %q", v)
			}
			want := map[string]string{}
			for k, v := range apiHeaders {
				if k != "Strict-Transport-Security" {
					want[k] = v
				}
			}
			checkHeaders(t, resp, want)
		})
	}
	if n := up.Count(); n != 0 {
		t.Errorf("%d plain-HTTP requests reached the upstream, want 0", n)
	}
	// The same call over TLS goes through.
	if resp, body := send(t, c, "GET", pg.HTTPSURL+"/v1/payment_intents", "", nil); resp.StatusCode != 200 {
		t.Errorf("over TLS: status = %d (body %s), want 200", resp.StatusCode, body)
	}
}

func TestTrustedProxyForwardedProto(t *testing.T) {
	site := `
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	respond "tls site"
}

http://localhost:{{.HTTPPort}} {
	bind 127.0.0.1
	route {
		security_headers api
		tls_enforce
		reverse_proxy {{.Upstream}}
	}
	handle_errors {
		paygate_error
	}
}
`
	for _, tt := range []struct {
		name       string
		global     string
		proto      string
		wantStatus int
	}{
		{name: "trusted proxy, https", global: "servers {\n\t\ttrusted_proxies static 127.0.0.1/32\n\t}", proto: "https", wantStatus: 200},
		{name: "trusted proxy, http", global: "servers {\n\t\ttrusted_proxies static 127.0.0.1/32\n\t}", proto: "http", wantStatus: 403},
		{name: "untrusted peer claims https", global: "", proto: "https", wantStatus: 403},
		{name: "other proxy trusted, peer claims https", global: "servers {\n\t\ttrusted_proxies static 10.0.0.0/8\n\t}", proto: "https", wantStatus: 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up := testenv.StartUpstream(t, nil)
			pg := testenv.StartPaygate(t, testenv.PaygateOptions{
				Upstream: up,
				Global:   "auto_https disable_redirects\n\t" + tt.global,
				Site:     site,
			})
			resp, body := send(t, pg.Client(), "POST", pg.HTTPURL+"/v1/payment_intents", "{}",
				http.Header{"X-Forwarded-Proto": {tt.proto}})
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tt.wantStatus, body)
			}
			// HSTS goes to a client that used TLS, to paygate or to the
			// trusted proxy, and to no other.
			hsts := resp.Header.Values("Strict-Transport-Security")
			if tt.wantStatus == 200 && (len(hsts) != 1 || hsts[0] != apiHeaders["Strict-Transport-Security"]) {
				t.Errorf("Strict-Transport-Security = %q behind the proxy that terminated TLS, want %q", hsts, apiHeaders["Strict-Transport-Security"])
			}
			if tt.wantStatus == 403 && len(hsts) != 0 {
				t.Errorf("Strict-Transport-Security = %q over plain HTTP, want none", hsts)
			}
			if tt.wantStatus == 403 {
				decodeAPIError(t, resp, body, "tls_required")
				if up.Count() != 0 {
					t.Error("a refused request reached the upstream")
				}
			}
		})
	}
}

// shippedTLS is the shipped Caddyfile's TLS policy.
const shippedTLS = `
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	tls internal {
		protocols tls1.2 tls1.3
		ciphers TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
	}
	route /v1/* {
		security_headers api
		tls_enforce
		respond "ok"
	}
	route /v2/* {
		security_headers api
		tls_enforce 1.3
		respond "ok"
	}
	handle_errors {
		paygate_error
	}
}
`

func TestTLSPolicy(t *testing.T) {
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{Site: shippedTLS})
	tests := []struct {
		name    string
		min     uint16
		max     uint16
		suites  []uint16
		wantErr bool
	}{
		{name: "TLS 1.0 refused", min: tls.VersionTLS10, max: tls.VersionTLS10, wantErr: true},
		{name: "TLS 1.1 refused", min: tls.VersionTLS11, max: tls.VersionTLS11, wantErr: true},
		{name: "TLS 1.2 accepted", min: tls.VersionTLS12, max: tls.VersionTLS12},
		{name: "TLS 1.3 accepted", min: tls.VersionTLS13, max: tls.VersionTLS13},
		{name: "TLS 1.2 CBC suite refused", min: tls.VersionTLS12, max: tls.VersionTLS12,
			suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}, wantErr: true},
		{name: "TLS 1.2 static RSA key exchange refused", min: tls.VersionTLS12, max: tls.VersionTLS12,
			suites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384}, wantErr: true},
		{name: "TLS 1.2 3DES refused", min: tls.VersionTLS12, max: tls.VersionTLS12,
			suites: []uint16{tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}, wantErr: true},
		{name: "TLS 1.2 ECDHE AEAD accepted", min: tls.VersionTLS12, max: tls.VersionTLS12,
			suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := pg.TLSConfig()
			cfg.MinVersion, cfg.MaxVersion, cfg.CipherSuites = tt.min, tt.max, tt.suites
			conn, err := tls.Dial("tcp", pg.HTTPSAddr(), cfg)
			if tt.wantErr {
				if err == nil {
					state := conn.ConnectionState()
					conn.Close()
					t.Fatalf("handshake succeeded with %s %s, want refusal", tls.VersionName(state.Version), tls.CipherSuiteName(state.CipherSuite))
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			defer conn.Close()
			if v := conn.ConnectionState().Version; v != tt.max {
				t.Errorf("negotiated %s, want %s", tls.VersionName(v), tls.VersionName(tt.max))
			}
		})
	}

	// A route may demand more than the site: TLS 1.2 reaches the server but
	// not a tls_enforce 1.3 route.
	for _, tt := range []struct {
		version    uint16
		path       string
		wantStatus int
	}{
		{tls.VersionTLS12, "/v1/x", 200},
		{tls.VersionTLS12, "/v2/x", 403},
		{tls.VersionTLS13, "/v2/x", 200},
	} {
		t.Run(tls.VersionName(tt.version)+tt.path, func(t *testing.T) {
			c := pg.Client()
			tr := c.Transport.(*http.Transport).Clone()
			tr.TLSClientConfig.MaxVersion = tt.version
			c.Transport = tr
			defer tr.CloseIdleConnections()
			resp, body := send(t, c, "GET", pg.HTTPSURL+tt.path, "", nil)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantStatus == 403 {
				decodeAPIError(t, resp, body, "tls_version_too_low")
			}
		})
	}
}

func TestStripePresetOnPages(t *testing.T) {
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{Site: `
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	route {
		security_headers stripe
		respond "<html>checkout</html>"
	}
}
`})
	resp, _ := send(t, pg.Client(), "GET", pg.HTTPSURL+"/checkout", "", nil)
	csp := resp.Header.Get("Content-Security-Policy")
	for _, must := range []string{"https://js.stripe.com", "https://hooks.stripe.com", "connect-src 'self' https://api.stripe.com", "object-src 'none'", "frame-ancestors 'none'", "base-uri"} {
		if !strings.Contains(csp, must) {
			t.Errorf("CSP lacks %q: %s", must, csp)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows inline or eval: %s", csp)
	}
	if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=63072000; includeSubDomains" {
		t.Errorf("HSTS = %q", got)
	}
}

// redisStoreSite uses the store only through the paygate app; the route
// itself is trivial.
const redisStoreSite = `
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	respond "ok"
}
`

func redisGlobal(db int) string {
	return `paygate {
		store redis {
			url {{.Data.redisURL}}
			db ` + strconv.Itoa(db) + `
		}
		health_interval 50ms
	}`
}

func TestRedisStoreHealthIsObservable(t *testing.T) {
	rs := testenv.Redis(t)
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Site:   redisStoreSite,
		Global: redisGlobal(0),
		Data:   map[string]any{"redisURL": rs.URL()},
	})
	pg.WaitForMetric(t, `paygate_store_up{backend="redis"}`, testenv.MetricIs(1))

	rs.Stop()
	pg.WaitForMetric(t, `paygate_store_up{backend="redis"}`, testenv.MetricIs(0))
	pg.WaitForLog(t, "the outage", testenv.LogFields(map[string]string{"msg": "store unavailable"}))

	// Serving goes on: stages decide what a store outage means for them.
	if resp, _ := send(t, pg.Client(), "GET", pg.HTTPSURL+"/", "", nil); resp.StatusCode != 200 {
		t.Errorf("status during the outage = %d, want 200", resp.StatusCode)
	}

	// go-redis's own messages about the lost server come through Caddy's
	// logging (JSON, redacted, routable), never as plain text on stderr.
	pg.WaitForLog(t, "go-redis's message in Caddy's log", testenv.LogFields(map[string]string{"logger": "paygate.redis", "msg": "redis client"}))
	pg.Stop()
	for _, line := range bytes.Split(bytes.TrimSpace(pg.Logs(t)), []byte("\n")) {
		if !json.Valid(line) {
			t.Errorf("a log line outside Caddy's JSON logs: %s", line)
		}
	}
}

// redisClientDBs lists the databases of the connections the server has,
// other than the caller's own.
func redisClientDBs(t *testing.T, c *redis.Client) map[string]int {
	t.Helper()
	list, err := c.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatalf("CLIENT LIST: %v", err)
	}
	dbs := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		if strings.Contains(line, " cmd=client|list") {
			continue // this very call
		}
		for _, f := range strings.Fields(line) {
			if db, ok := strings.CutPrefix(f, "db="); ok {
				dbs[db]++
			}
		}
	}
	return dbs
}

func TestReloadReleasesOldStoreConnections(t *testing.T) {
	rs := testenv.Redis(t)
	admin := rs.Client(t)
	opts := testenv.PaygateOptions{
		Site:   redisStoreSite,
		Global: redisGlobal(0),
		Data:   map[string]any{"redisURL": rs.URL()},
	}
	pg := testenv.StartPaygate(t, opts)
	testenv.Eventually(t, "paygate's connection on db 0", func() bool { return redisClientDBs(t, admin)["0"] > 0 })

	// Same store settings: the connections are kept.
	pg.Reload(t, redisStoreSite+"\n# same store\n")
	if dbs := redisClientDBs(t, admin); dbs["0"] == 0 {
		t.Fatalf("connections after a reload with the same store: %v, want db 0 kept", dbs)
	}

	// Changed store settings: new connections, and the old ones are closed.
	pg.SetGlobal(redisGlobal(1))
	pg.Reload(t, redisStoreSite)
	testenv.Eventually(t, "connections on db 1 only", func() bool {
		dbs := redisClientDBs(t, admin)
		return dbs["1"] > 0 && dbs["0"] == 0
	})
}

// TestRedisEvictionPolicyWarned: paygate warns at start-up when its Redis
// would evict keys (idempotency records, webhook de-duplication, owners).
func TestRedisEvictionPolicyWarned(t *testing.T) {
	rs := testenv.Redis(t)
	if err := rs.Client(t).ConfigSet(context.Background(), "maxmemory-policy", "volatile-lru").Err(); err != nil {
		t.Fatal(err)
	}
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Site:   redisStoreSite,
		Global: redisGlobal(0),
		Data:   map[string]any{"redisURL": rs.URL()},
	})
	pg.WaitForLog(t, "the eviction warning", func(e testenv.LogEntry) bool {
		return e.Str("level") == "warn" && e.Str("maxmemory_policy") == "volatile-lru"
	})
}
