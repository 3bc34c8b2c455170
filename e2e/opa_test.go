package e2e

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/testenv"
	"github.com/paygate/paygate/internal/testenv/bundletest"
)

// opaAuth is the shipped pipeline's jwt_auth stage: it accepts the
// development tokens of "paygate token" and makes their role claim
// {http.auth.user.role}; extra lines go into its block.
func opaAuth(t *testing.T, extra ...string) string {
	t.Helper()
	keyFile, err := filepath.Abs("../testdata/jwt/dev-jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var more string
	for _, line := range extra {
		more += "\n\t\t\t" + line
	}
	return fmt.Sprintf(`jwt_auth {
			issuer %s
			audience %s
			key_file %s
			typ at+jwt
			claim role%s
		}`, devIssuer, devAudience, keyFile, more)
}

// opaBearer is the Authorization header of a development token for sub
// with the given role.
func opaBearer(t *testing.T, sub, role string) http.Header {
	t.Helper()
	return http.Header{"Authorization": {"Bearer " + testenv.DevToken(t, sub, map[string]any{"role": role})}}
}

// opaPolicies is the repository's policy directory.
func opaPolicies(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../policies/paygate")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// opaRaw sends one request with exactly target as its request target, over
// its own TLS connection (HTTP/1.1), so that no client library normalises
// the path first.
func opaRaw(t *testing.T, pg *testenv.Paygate, method, target string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	cfg := pg.TLSConfig()
	cfg.NextProtos = []string{"http/1.1"}
	conn, err := tls.Dial("tcp", pg.HTTPSAddr(), cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	var req strings.Builder
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\n", method, target)
	for k, vs := range header {
		for _, v := range vs {
			fmt.Fprintf(&req, "%s: %s\r\n", k, v)
		}
	}
	req.WriteString("\r\n")
	if _, err := io.WriteString(conn, req.String()); err != nil {
		t.Fatalf("write: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %q: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %q: reading body: %v", method, target, err)
	}
	return resp, body
}

// opaRequestID matches the request ID of an error body.
var opaRequestID = regexp.MustCompile(`"request_id":"[^"]*"`)

// opaShape is what two refusals must share to be indistinguishable: the
// status, the body without its request ID, and the headers that describe
// the body.
func opaShape(resp *http.Response, body []byte) string {
	return fmt.Sprintf("%d %s %s %s %s", resp.StatusCode,
		opaRequestID.ReplaceAllString(string(body), `"request_id":""`),
		resp.Header.Get("Content-Type"), resp.Header.Get("Content-Length"), resp.Header.Get("Cache-Control"))
}

// opaBundle builds a bundle holding one policy, signed with signingKey (a
// PEM private key).
func opaBundle(t *testing.T, revision, policy string, signingKey []byte) []byte {
	t.Helper()
	return bundletest.Build(t, revision, map[string]string{"authz.rego": policy}, signingKey)
}

// opaUntrustedKey is a new ECDSA key, in PEM, that paygate does not trust.
func opaUntrustedKey(t *testing.T) []byte {
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

// opaDevKey is the development bundle-signing key, in PEM, and the path of
// its public half.
func opaDevKey(t *testing.T) (private []byte, publicFile string) {
	t.Helper()
	private, err := os.ReadFile("../testdata/opa/bundle-signing.key")
	if err != nil {
		t.Fatal(err)
	}
	publicFile, err = filepath.Abs("../testdata/opa/bundle-signing.pub")
	if err != nil {
		t.Fatal(err)
	}
	return private, publicFile
}

// Policies of the hot-reload tests; their behaviour shows which one is
// active: revision 1 allows reads, revision 2 only the card list, the
// untrusted revision 3 everything.
const (
	opaPolicyRev1 = "package paygate.authz\ndecision := {\"allow\": input.method == \"GET\", \"reason\": \"rev1\"}\n"
	opaPolicyRev2 = "package paygate.authz\ndecision := {\"allow\": input.path == \"/v1/payment_methods\", \"reason\": \"rev2\"}\n"
	opaPolicyRev3 = "package paygate.authz\ndecision := {\"allow\": true, \"reason\": \"rev3\"}\n"
)

// opaHoldingUpstream is an upstream that keeps every request carrying
// ?hold until release is closed, telling held when one arrives.
func opaHoldingUpstream(t *testing.T) (up *testenv.Upstream, held chan struct{}, release chan struct{}) {
	held, release = make(chan struct{}, 1), make(chan struct{})
	up = testenv.StartUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("hold") {
			held <- struct{}{}
			<-release
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	return up, held, release
}

// opaInFlight starts a request that the upstream holds, on a connection of
// its own, and returns the channel its status arrives on once released.
func opaInFlight(t *testing.T, pg *testenv.Paygate, path string, header http.Header) <-chan int {
	c := pg.Client()
	tr := c.Transport.(*http.Transport).Clone()
	c.Transport = tr
	t.Cleanup(tr.CloseIdleConnections)
	status := make(chan int, 1)
	go func() {
		req, err := http.NewRequest("GET", pg.HTTPSURL+path, nil)
		if err != nil {
			status <- -1
			return
		}
		req.Header = header.Clone()
		resp, err := c.Do(req)
		if err != nil {
			status <- -1
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	return status
}

const opaBundleSite = `
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	route {
		security_headers api
		tls_enforce
		{{.Data.auth}}
		opa_authz {
			bundle {{.Data.bundleURL}} {
				polling 1s 1s
				public_key {{.Data.publicKey}}
				{{.Data.trustedKeys}}
			}
			startup_wait {{.Data.startupWait}}
		}
		reverse_proxy {{.Upstream}}
	}
	handle_errors {
		paygate_error
	}
}
`

// TestOPABundleHotReload serves signed revision 1, then 2, then a revision
// 3 signed with an untrusted key and a revision 4 not signed at all: both
// are refused while 2 stays active, a request in flight during the swap
// completes, and the active revision and the refusals are in the metrics
// and the log.
func TestOPABundleHotReload(t *testing.T) {
	devKey, publicKey := opaDevKey(t)
	bundles := new(testenv.BundleServer)
	bundles.Set("r1", opaBundle(t, "1", opaPolicyRev1, devKey))
	bundleSrv := httptest.NewServer(bundles)
	t.Cleanup(bundleSrv.Close)

	up, held, release := opaHoldingUpstream(t)
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream: up,
		Site:     opaBundleSite,
		Data:     opaBundleSiteData(t, bundleSrv.URL+testenv.BundlePath, publicKey),
	})
	c := pg.Client()
	alice := opaBearer(t, "alice", "customer")
	status := func(method, path string) int {
		t.Helper()
		resp, _ := send(t, c, method, pg.HTTPSURL+path, "", alice)
		return resp.StatusCode
	}
	// revision is the series that is 1 while rev is the active revision.
	revision := func(rev string) string {
		return `paygate_policy_bundle_revision_info{revision="` + rev + `"}`
	}
	const failures = `paygate_policy_bundle_activations_total{result="failure"}`

	// Revision 1: reads pass, writes do not.
	pg.WaitForMetric(t, revision("1"), testenv.MetricIs(1))
	if got := status("GET", "/v1/payment_intents/pi_any"); got != 200 {
		t.Fatalf("revision 1, GET: %d, want 200", got)
	}
	if got := status("POST", "/v1/payment_intents"); got != 403 {
		t.Fatalf("revision 1, POST: %d, want 403", got)
	}

	// A request admitted by revision 1 is still upstream when revision 2
	// activates; it completes.
	inFlight := opaInFlight(t, pg, "/v1/setup_intents/seti_1?hold", alice)
	<-held
	bundles.Set("r2", opaBundle(t, "2", opaPolicyRev2, devKey))
	pg.WaitForMetric(t, revision("2"), testenv.MetricIs(1))
	if got := status("GET", "/v1/setup_intents/seti_1"); got != 404 {
		t.Errorf("revision 2, GET setup intent: %d, want 404", got)
	}
	close(release)
	if got := <-inFlight; got != 200 {
		t.Errorf("the request in flight during the swap ended with %d, want 200", got)
	}
	if got := status("GET", "/v1/payment_methods"); got != 200 {
		t.Errorf("revision 2, GET cards: %d, want 200", got)
	}
	for _, rev := range []string{"1", "2"} {
		pg.WaitForLog(t, "the activation of revision "+rev, testenv.LogFields(map[string]string{"msg": "policy activated", "revision": rev}))
	}

	// refused serves a bundle that must be refused: revision 2 stays the
	// active one, and rev is not reported.
	refused := func(rev string, bundle []byte) {
		t.Helper()
		failed := pg.Metric(t, failures)
		bundles.Set("r"+rev, bundle)
		pg.WaitForLog(t, "the refusal of revision "+rev, func(e testenv.LogEntry) bool {
			return e.Str("msg") == "policy bundle refused; the active policy stays" &&
				e.Str("active_revision") == "2" && strings.Contains(e.Str("error"), "signature")
		})
		pg.WaitForMetric(t, failures, testenv.MetricAbove(failed))
		pg.WaitForMetric(t, revision("2"), testenv.MetricIs(1))
		pg.WaitForMetric(t, revision(rev), testenv.MetricIs(0))
		if got := status("POST", "/v1/payment_intents"); got != 403 {
			t.Errorf("after revision %s was served, POST: %d, want 403 (revision 2 still deciding)", rev, got)
		}
	}
	// Revision 3, signed with a key paygate does not trust.
	refused("3", opaBundle(t, "3", opaPolicyRev3, opaUntrustedKey(t)))
	// Revision 4, not signed at all.
	refused("4", opaBundle(t, "4", opaPolicyRev3, nil))
}

// TestOPAConfigReloadSwapsPolicy reloads Caddy's config with another policy
// directory: new requests get the new policy, a request in flight completes.
func TestOPAConfigReloadSwapsPolicy(t *testing.T) {
	dirs := map[string]string{}
	for name, policy := range map[string]string{"rev1": opaPolicyRev1, "rev2": opaPolicyRev2} {
		dir := filepath.Join(t.TempDir(), name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "authz.rego"), []byte(policy), 0o644); err != nil {
			t.Fatal(err)
		}
		dirs[name] = dir
	}
	site := func(dir string) string {
		return strings.Replace(`
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	route {
		security_headers api
		tls_enforce
		{{.Data.auth}}
		opa_authz {
			policy_dir POLICY
		}
		reverse_proxy {{.Upstream}}
	}
	handle_errors {
		paygate_error
	}
}
`, "POLICY", dir, 1)
	}
	up, held, release := opaHoldingUpstream(t)
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream: up,
		Site:     site(dirs["rev1"]),
		Data:     map[string]any{"auth": opaAuth(t)},
	})
	alice := opaBearer(t, "alice", "customer")
	if resp, body := send(t, pg.Client(), "GET", pg.HTTPSURL+"/v1/setup_intents/seti_1", "", alice); resp.StatusCode != 200 {
		t.Fatalf("before the reload: %d %s", resp.StatusCode, body)
	}

	inFlight := opaInFlight(t, pg, "/v1/setup_intents/seti_1?hold", alice)
	<-held
	pg.Reload(t, site(dirs["rev2"]))
	resp, body := send(t, pg.Client(), "GET", pg.HTTPSURL+"/v1/setup_intents/seti_1", "", alice)
	if resp.StatusCode != 404 {
		t.Errorf("after the reload: %d %s, want 404 from the new policy", resp.StatusCode, body)
	}
	close(release)
	if got := <-inFlight; got != 200 {
		t.Errorf("the request in flight during the reload ended with %d, want 200", got)
	}

	// A policy that does not compile is refused; the running one stays.
	broken := filepath.Join(t.TempDir(), "broken")
	if err := os.MkdirAll(broken, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "authz.rego"), []byte("package paygate.authz\ndecision := {\"allow\": x}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := pg.TryReload(site(broken)); err == nil {
		t.Fatal("a config with a policy that does not compile was accepted")
	}
	if resp, body := send(t, pg.Client(), "GET", pg.HTTPSURL+"/v1/payment_methods", "", alice); resp.StatusCode != 200 {
		t.Errorf("after the refused reload: %d %s, want 200 from revision 2", resp.StatusCode, body)
	}
}

// TestOPAStartupWithoutBundleService starts paygate while the bundle
// service is down: after the start-up wait it serves, refusing with 503
// policy_unavailable until the service comes up and a bundle activates.
func TestOPAStartupWithoutBundleService(t *testing.T) {
	devKey, publicKey := opaDevKey(t)
	port := testenv.FreePort(t)
	up := testenv.StartUpstream(t, nil)
	data := opaBundleSiteData(t, fmt.Sprintf("http://127.0.0.1:%d/bundles/paygate.tar.gz", port), publicKey)
	data["startupWait"] = "1s"
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{Upstream: up, Site: opaBundleSite, Data: data})
	pg.WaitForLog(t, "the missed start-up wait", testenv.LogFields(map[string]string{
		"msg": "no policy active after the start-up wait; refusing requests with 503 policy_unavailable until a bundle activates",
	}))
	c := pg.Client()
	alice := opaBearer(t, "alice", "customer")
	for _, path := range []string{"/v1/payment_intents/pi_1", "/v1/payment_methods"} {
		resp, body := send(t, c, "GET", pg.HTTPSURL+path, "", alice)
		if resp.StatusCode != 503 {
			t.Fatalf("%s before any bundle: %d %s, want 503", path, resp.StatusCode, body)
		}
		decodeAPIError(t, resp, body, "policy_unavailable")
	}
	if up.Count() != 0 {
		t.Fatalf("%d requests reached the upstream without a policy", up.Count())
	}
	pg.WaitForMetric(t, `paygate_policy_decisions_total{result="policy_unavailable"}`, testenv.MetricAbove(1))

	// The bundle service comes up on its address.
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("listening on the bundle service's port: %v", err)
	}
	bundles := new(testenv.BundleServer)
	bundles.Set("r1", opaBundle(t, "1", opaPolicyRev1, devKey))
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: bundles}}
	srv.Start()
	t.Cleanup(srv.Close)
	testenv.Eventually(t, "requests allowed once the bundle activates", func() bool {
		resp, _ := send(t, c, "GET", pg.HTTPSURL+"/v1/payment_methods", "", alice)
		return resp.StatusCode == 200
	})
}

// opaBundleSiteData is the data of opaBundleSite for the bundle at
// bundleURL, signed with the key whose public half is in publicKey, no
// other trusted key (trustedKeys: trusted_key lines), and a start-up wait
// that lets its first download activate.
func opaBundleSiteData(t *testing.T, bundleURL, publicKey string) map[string]any {
	return map[string]any{
		"auth":        opaAuth(t),
		"bundleURL":   bundleURL,
		"publicKey":   publicKey,
		"trustedKeys": "",
		"startupWait": "10s",
	}
}

// TestOPASigningKeyRotation: with the current key (public_key) and the next
// one (trusted_key 2026-12), a bundle signed with either activates; one
// whose signature names 2026-12 but was made with another key is refused
// and the active policy stays.
func TestOPASigningKeyRotation(t *testing.T) {
	current, currentPub := opaDevKey(t)
	next := opaUntrustedKey(t)
	nextPub := filepath.Join(t.TempDir(), "next.pub")
	if err := os.WriteFile(nextPub, bundletest.PublicPEM(t, next), 0o600); err != nil {
		t.Fatal(err)
	}
	bundles := new(testenv.BundleServer)
	bundles.Set("r1", opaBundle(t, "1", opaPolicyRev1, current))
	bundleSrv := httptest.NewServer(bundles)
	t.Cleanup(bundleSrv.Close)
	data := opaBundleSiteData(t, bundleSrv.URL+testenv.BundlePath, currentPub)
	data["trustedKeys"] = "trusted_key 2026-12 " + nextPub
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{Upstream: testenv.StartUpstream(t, nil), Site: opaBundleSite, Data: data})
	revision := func(rev string) string { return `paygate_policy_bundle_revision_info{revision="` + rev + `"}` }
	pg.WaitForMetric(t, revision("1"), testenv.MetricIs(1))

	files := func(policy string) map[string]string { return map[string]string{"authz.rego": policy} }
	bundles.Set("r2", bundletest.BuildSigned(t, "2", files(opaPolicyRev2), next, "2026-12"))
	pg.WaitForMetric(t, revision("2"), testenv.MetricIs(1))

	bundles.Set("r3", bundletest.BuildSigned(t, "3", files(opaPolicyRev3), opaUntrustedKey(t), "2026-12"))
	pg.WaitForLog(t, "the refusal of revision 3", func(e testenv.LogEntry) bool {
		return e.Str("msg") == "policy bundle refused; the active policy stays" &&
			e.Str("active_revision") == "2" && strings.Contains(e.Str("error"), "signature")
	})
	pg.WaitForMetric(t, revision("2"), testenv.MetricIs(1))
	pg.WaitForMetric(t, revision("3"), testenv.MetricIs(0))
}
