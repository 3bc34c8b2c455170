package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/testenv"
)

// healthAnswer is the body of /healthz and /readyz.
type healthAnswer struct {
	Status string                 `json:"status"`
	Checks map[string]healthCheck `json:"checks"`
}

// healthCheck is one readiness check in a /readyz body.
type healthCheck struct {
	OK       bool    `json:"ok"`
	Reason   string  `json:"reason"`
	Revision *string `json:"revision"`
}

// internalClient reaches the plain-HTTP internal listener.
var internalClient = &http.Client{Timeout: 10 * time.Second}

// probe GETs path on the internal listener at base and decodes the health
// answer; a body that is not one fails the test.
func probe(t *testing.T, base, path string) (int, healthAnswer) {
	t.Helper()
	resp, body := send(t, internalClient, "GET", base+path, "", nil)
	var a healthAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("GET %s: %d, not a health answer: %v: %q", path, resp.StatusCode, err, body)
	}
	if ct, cc := resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
		t.Errorf("GET %s: Content-Type %q, Cache-Control %q; want application/json, no-store", path, ct, cc)
	}
	return resp.StatusCode, a
}

// waitForReadiness probes /readyz until cond holds for its status and
// answer, and returns the answer.
func waitForReadiness(t *testing.T, base, what string, cond func(int, healthAnswer) bool) healthAnswer {
	t.Helper()
	var last healthAnswer
	testenv.Eventually(t, what, func() bool {
		var code int
		code, last = probe(t, base, "/readyz")
		return cond(code, last)
	})
	return last
}

// ready is a condition of waitForReadiness: 200 ready.
func ready(code int, a healthAnswer) bool {
	return code == http.StatusOK && a.Status == "ready"
}

// checkNames lists the checks of an answer, sorted.
func checkNames(a healthAnswer) []string {
	return slices.Sorted(maps.Keys(a.Checks))
}

// checkInternalListener checks what the internal listener at base serves
// besides /readyz: liveness, Prometheus metrics (paygate's, with want, and
// Caddy's request metrics) and paygate's 404 for anything else; and that it
// answers whatever Host a prober names (a kubelet names the pod's IP).
func checkInternalListener(t *testing.T, base, want string) {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/healthz", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "10.1.2.3:9180"
	resp, err := internalClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var live healthAnswer
	err = json.NewDecoder(resp.Body).Decode(&live)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || live.Status != "ok" {
		t.Errorf("/healthz with Host %s: %d %+v (%v), want the liveness answer", req.Host, resp.StatusCode, live, err)
	}
	if code, a := probe(t, base, "/healthz"); code != http.StatusOK || a.Status != "ok" || a.Checks != nil {
		t.Errorf("/healthz: %d %+v, want 200 {\"status\":\"ok\"}", code, a)
	}
	// paygate's metric want at 1, and Caddy's request metrics (the
	// metrics global option) beside it.
	var last string
	testenv.EventuallyTelling(t, func() string {
		return fmt.Sprintf("/metrics to hold %s = 1 and caddy_http_requests_total (last: %s)", want, last)
	}, func() bool {
		resp, body := send(t, internalClient, "GET", base+"/metrics", "", nil)
		m, err := testenv.ParseMetrics(strings.NewReader(string(body)))
		if resp.StatusCode != http.StatusOK || err != nil {
			last = fmt.Sprintf("%d, %v", resp.StatusCode, err)
			return false
		}
		v, err := m.Value(want)
		requests := slices.ContainsFunc(slices.Collect(maps.Keys(m)), func(k string) bool { return strings.HasPrefix(k, "caddy_http_requests_total{") })
		last = fmt.Sprintf("%s = %v (%v), request metrics %v", want, v, err, requests)
		return err == nil && v == 1 && requests
	})
	resp, body := send(t, internalClient, "GET", base+"/nowhere", "", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/nowhere on the internal listener: %d %s, want 404", resp.StatusCode, body)
	}
	decodeAPIError(t, resp, body, "resource_missing")
}

// TestHealthDeployCaddyfile (issue #15) runs deploy/Caddyfile with a
// private Redis, a JWKS server and a signed bundle server: its internal
// listener answers ready, naming the store, the JWKS and the policy with
// its revision once each (the file's two sites share them); unready naming
// the store while Redis is stopped, ready again once it is back; it serves
// liveness and metrics, and 404 for anything else. On the public sites
// these paths are the application's pages, never paygate's health or
// metrics. On SIGTERM it drains: /readyz 503 shutting_down while it serves.
func TestHealthDeployCaddyfile(t *testing.T) {
	svc := startDeployServices(t)
	rs := svc.redis
	up := testenv.StartUpstream(t, nil)
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Caddyfile: "../deploy/Caddyfile",
		Env: svc.with(map[string]string{
			"STRIPE_SECRET_KEY": e2eStripeKey,
			"STRIPE_API_BASE":   "http://127.0.0.1:9",
			"PAYGATE_UPSTREAM":  strings.TrimPrefix(up.URL, "http://"),
			// Long enough to watch the drain; the test's cleanup ends it.
			"PAYGATE_SHUTDOWN_DELAY": "10s",
		}),
	})
	internal := "http://127.0.0.1:" + svc.env["PAYGATE_INTERNAL_PORT"]

	a := waitForReadiness(t, internal, "/readyz to answer ready", ready)
	if got, want := checkNames(a), []string{"jwks", "policy", "store"}; !slices.Equal(got, want) {
		t.Errorf("checks %v, want %v (one per resource, though both sites import the pipeline)", got, want)
	}
	if p := a.Checks["policy"]; p.Revision == nil || *p.Revision != "1" {
		t.Errorf("policy check %+v, want the active revision 1", p)
	}
	checkInternalListener(t, internal, `paygate_policy_bundle_revision_info{revision="1"}`)

	// The public sites proxy these paths to the application like any page.
	for _, path := range []string{"/readyz", "/healthz", "/metrics"} {
		before := up.Count()
		resp, body := send(t, pg.Client(), "GET", pg.HTTPSURL+path, "", nil)
		reqs := up.Requests()
		if resp.StatusCode != http.StatusOK || len(reqs) != before+1 || reqs[before].URL.Path != path {
			t.Errorf("public GET %s: %d %s, want the application's page (upstream saw %d requests)", path, resp.StatusCode, body, len(reqs)-before)
		}
	}

	rs.Stop()
	a = waitForReadiness(t, internal, "/readyz to name the stopped store", func(code int, a healthAnswer) bool {
		return code == http.StatusServiceUnavailable && a.Status == "unready" && !a.Checks["store"].OK
	})
	if reason := a.Checks["store"].Reason; !strings.HasPrefix(reason, "the last ping failed: ") {
		t.Errorf("store reason %q, want the failed ping", reason)
	}
	for _, name := range []string{"jwks", "policy"} {
		if !a.Checks[name].OK {
			t.Errorf("%s check failed during the store outage: %+v", name, a.Checks[name])
		}
	}
	rs.Restart()
	waitForReadiness(t, internal, "/readyz to answer ready once Redis is back", ready)

	// Draining: on SIGTERM the replica answers /readyz 503 shutting_down
	// for shutdown_delay while it still serves, so that the load balancer
	// takes it out before it stops listening.
	pg.Terminate(t)
	waitForReadiness(t, internal, "/readyz to answer shutting_down", func(code int, a healthAnswer) bool {
		return code == http.StatusServiceUnavailable && a.Status == "shutting_down"
	})
	if code, a := probe(t, internal, "/healthz"); code != http.StatusOK || a.Status != "ok" {
		t.Errorf("/healthz while draining: %d %+v, want 200 ok (the process is alive)", code, a)
	}
	if resp, body := send(t, pg.Client(), "GET", pg.HTTPSURL+"/page", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("a page while draining: %d %s, want it served", resp.StatusCode, body)
	}
}

// healthInternalSite is the shipped internal listener, on the port in
// {{.Data.internalPort}}.
const healthInternalSite = `
http://:{{.Data.internalPort}} {
	bind 127.0.0.1
	route {
		metrics /metrics
		paygate_health /healthz live
		paygate_health /readyz ready
		error 404
	}
	handle_errors {
		paygate_error
	}
}
`

// TestHealthPolicyBeforeFirstBundle: while the bundle service answers 500
// no policy is active and /readyz is 503 naming policy and the failed
// download; once it serves a bundle, /readyz is 200 with its revision.
func TestHealthPolicyBeforeFirstBundle(t *testing.T) {
	devKey, publicKey := opaDevKey(t)
	var serving atomic.Bool
	bundles := new(testenv.BundleServer)
	bundles.Set("r1", opaBundle(t, "1", opaPolicyRev1, devKey))
	bundleSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !serving.Load() {
			http.Error(w, "deploying", http.StatusInternalServerError)
			return
		}
		bundles.ServeHTTP(w, r)
	}))
	t.Cleanup(bundleSrv.Close)
	internalPort := testenv.FreePort(t)
	data := opaBundleSiteData(t, bundleSrv.URL+testenv.BundlePath, publicKey)
	data["startupWait"] = "1s"
	data["internalPort"] = internalPort
	testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream: testenv.StartUpstream(t, nil),
		Site:     opaBundleSite + healthInternalSite,
		Data:     data,
	})
	internal := fmt.Sprintf("http://127.0.0.1:%d", internalPort)

	a := waitForReadiness(t, internal, "/readyz to name the missing policy", func(code int, a healthAnswer) bool {
		return code == http.StatusServiceUnavailable && a.Status == "unready" && !a.Checks["policy"].OK
	})
	if reason := a.Checks["policy"].Reason; reason != "no policy active; last bundle attempt: download (HTTP 500)" {
		t.Errorf("policy reason %q, want no policy active after a 500", reason)
	}
	if !a.Checks["store"].OK {
		t.Errorf("store check %+v, want ok", a.Checks["store"])
	}

	serving.Store(true)
	a = waitForReadiness(t, internal, "/readyz to answer ready once the bundle activates", ready)
	if p := a.Checks["policy"]; p.Revision == nil || *p.Revision != "1" {
		t.Errorf("policy check %+v, want the active revision 1", p)
	}
}

// devCaddyfile is the shipped Caddyfile with its fixed admin address and
// ports made the harness's (through environment variables) and its
// relative paths made absolute; nothing else changes.
func devCaddyfile(t *testing.T) string {
	t.Helper()
	src := string(deployRead(t, "Caddyfile"))
	root := deployAbs(t, ".")
	for _, r := range []struct{ old, new string }{
		{"admin 127.0.0.1:2019", "admin {$HEALTH_ADMIN}"},
		{"http_port 8080", "http_port {$HEALTH_HTTP_PORT}"},
		{"https_port 8443", "https_port {$HEALTH_HTTPS_PORT}"},
		{"https://localhost:8443 {", "https://localhost:{$HEALTH_HTTPS_PORT} {"},
		{"http://localhost:8080 {", "http://localhost:{$HEALTH_HTTP_PORT} {"},
		{"http://:9180 {", "http://:{$HEALTH_INTERNAL_PORT} {"},
		{" testdata/", " " + root + "/testdata/"},
		{" policies/", " " + root + "/policies/"},
	} {
		if !strings.Contains(src, r.old) {
			t.Fatalf("the shipped Caddyfile has no %q to adapt to the harness", r.old)
		}
		src = strings.ReplaceAll(src, r.old, r.new)
	}
	path := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestHealthDevCaddyfile runs the shipped Caddyfile: the public HTTPS site
// answers /readyz, /healthz and /metrics with paygate's 404, and the
// internal listener serves them, ready with the memory store and the
// policy directory.
func TestHealthDevCaddyfile(t *testing.T) {
	internalPort := testenv.FreePort(t)
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Caddyfile: devCaddyfile(t),
		Env: map[string]string{
			"HEALTH_ADMIN":            "{{.AdminAddr}}",
			"HEALTH_HTTP_PORT":        "{{.HTTPPort}}",
			"HEALTH_HTTPS_PORT":       "{{.HTTPSPort}}",
			"HEALTH_INTERNAL_PORT":    strconv.Itoa(internalPort),
			"STRIPE_SECRET_KEY":       e2eStripeKey,
			"STRIPE_API_BASE":         "http://127.0.0.1:9",
			"STRIPE_WEBHOOK_SECRET":   webhookSecret,
			"PAYGATE_IDEMPOTENCY_KEY": e2eSealKey,
		},
	})
	internal := fmt.Sprintf("http://127.0.0.1:%d", internalPort)

	for _, path := range []string{"/readyz", "/healthz", "/metrics"} {
		resp, body := send(t, pg.Client(), "GET", pg.HTTPSURL+path, "", nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("public GET %s: %d %s, want 404", path, resp.StatusCode, body)
		}
		decodeAPIError(t, resp, body, "resource_missing")
	}

	a := waitForReadiness(t, internal, "/readyz to answer ready", ready)
	if got, want := checkNames(a), []string{"policy", "store"}; !slices.Equal(got, want) {
		t.Errorf("checks %v, want %v", got, want)
	}
	// A policy directory has no bundle revision.
	if p := a.Checks["policy"]; p.Revision == nil || *p.Revision != "" {
		t.Errorf("policy check %+v, want an empty revision", p)
	}
	checkInternalListener(t, internal, `paygate_policy_bundle_revision_info{revision=""}`)
}

// isLoopbackOrSocket reports whether a Caddy network address listens on
// a unix socket or a loopback address only.
func isLoopbackOrSocket(addr string) bool {
	network, rest, found := strings.Cut(addr, "/")
	if found && strings.HasPrefix(network, "unix") {
		return true
	}
	if !found {
		rest = addr
	}
	host, _, err := net.SplitHostPort(rest)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// handlersOf lists every handler name in a server's JSON, nested routes
// included.
func handlersOf(v any) []string {
	var names []string
	switch v := v.(type) {
	case map[string]any:
		if h, ok := v["handler"].(string); ok {
			names = append(names, h)
		}
		for _, child := range v {
			names = append(names, handlersOf(child)...)
		}
	case []any:
		for _, child := range v {
			names = append(names, handlersOf(child)...)
		}
	}
	return names
}

// TestShippedCaddyfilesKeepAdminAndProbesInternal adapts both shipped
// Caddyfiles with their defaults (nothing that moves a listener): the
// admin API is on loopback or a unix socket, exactly one server serves
// health and metrics, it listens on loopback only and matches no host (a
// site address with a host would answer a probe naming another one with an
// empty 200), and no other server serves either.
func TestShippedCaddyfilesKeepAdminAndProbesInternal(t *testing.T) {
	for _, file := range []string{"Caddyfile", "deploy/Caddyfile"} {
		t.Run(file, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(testenv.Binary(t), "adapt", "--config", deployAbs(t, file), "--adapter", "caddyfile")
			cmd.Env = []string{"HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "PAYGATE_DOMAIN=pay.example.com"}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("adapt: %v", err)
			}
			var cfg struct {
				Admin struct {
					Listen string `json:"listen"`
				} `json:"admin"`
				Apps struct {
					HTTP struct {
						Servers map[string]map[string]any `json:"servers"`
					} `json:"http"`
				} `json:"apps"`
			}
			if err := json.Unmarshal(out, &cfg); err != nil {
				t.Fatalf("adapted JSON: %v", err)
			}
			if !isLoopbackOrSocket(cfg.Admin.Listen) {
				t.Errorf("admin API listens on %q, want loopback or a unix socket", cfg.Admin.Listen)
			}
			var internal []string
			for name, srv := range cfg.Apps.HTTP.Servers {
				handlers := handlersOf(srv["routes"])
				probes := slices.Contains(handlers, "paygate_health")
				if probes != slices.Contains(handlers, "metrics") {
					t.Errorf("server %s serves only one of health and metrics: %v", name, handlers)
				}
				if !probes {
					continue
				}
				internal = append(internal, name)
				routes, _ := srv["routes"].([]any)
				for _, r := range routes {
					route, _ := r.(map[string]any)
					if match, found := route["match"]; found {
						t.Errorf("internal server %s matches requests by %v: a probe naming another host would not reach it", name, match)
					}
				}
				listen, _ := srv["listen"].([]any)
				if len(listen) == 0 {
					t.Errorf("internal server %s has no listen address", name)
				}
				for _, l := range listen {
					if addr, _ := l.(string); !isLoopbackOrSocket(addr) {
						t.Errorf("internal server %s listens on %v, want loopback only", name, l)
					}
				}
			}
			if len(internal) != 1 {
				t.Errorf("servers with health and metrics: %v, want exactly one", internal)
			}
		})
	}
}
