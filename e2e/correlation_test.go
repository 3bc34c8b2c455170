package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"path"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/testenv"
)

// Loggers whose entries carry a request's ID.
const (
	corrAccessLogger   = "http.log.access"
	corrAuditLogger    = "paygate.audit"
	corrErrorLogger    = "http.handlers.paygate_error"
	corrDecisionLogger = "http.handlers.opa_authz.decision_log"
)

// corrEntry matches an entry of logger (or of a logger under it) that names
// the request id as request_id.
func corrEntry(logger, id string) func(testenv.LogEntry) bool {
	return func(e testenv.LogEntry) bool {
		name := e.Str("logger")
		return (name == logger || strings.HasPrefix(name, logger+".")) && e.Str("request_id") == id
	}
}

// TestRequestIDCorrelatesLogs: the X-Request-Id of a response is the
// request_id of its access log entry, of its decision log entry and, for a
// refusal, of its audit event and its "request refused" line, so that one
// field finds every line about a request (issue #10 item 4).
func TestRequestIDCorrelatesLogs(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream: up,
		// The shipped policy stage, with an access log; its decision log
		// is the default, on the console.
		Site: strings.Replace(bolaSite, "\tbind 127.0.0.1\n", "\tbind 127.0.0.1\n\tlog\n", 1),
		Data: map[string]any{"auth": opaAuth(t), "policies": opaPolicies(t)},
	})
	alice := opaBearer(t, "alice", "customer")
	// get sends a GET for path, expects status and returns the response's
	// request ID once the access log and the decision log name it.
	get := func(t *testing.T, path string, status int) string {
		t.Helper()
		resp, body := send(t, pg.Client(), "GET", pg.HTTPSURL+path, "", alice)
		if resp.StatusCode != status {
			t.Fatalf("GET %s: status %d (body %s), want %d", path, resp.StatusCode, body, status)
		}
		id := resp.Header.Get("X-Request-Id")
		if id == "" {
			t.Fatalf("GET %s: no X-Request-Id", path)
		}
		pg.WaitForLog(t, "the access log entry of "+id, corrEntry(corrAccessLogger, id))
		pg.WaitForLog(t, "the decision log entry of "+id, corrEntry(corrDecisionLogger, id))
		return id
	}

	t.Run("denied", func(t *testing.T) {
		id := get(t, "/v1/payment_intents/pi_nobody", http.StatusNotFound)
		pg.WaitForLog(t, "the policy_denied audit event of "+id, func(e testenv.LogEntry) bool {
			return corrEntry(corrAuditLogger, id)(e) && e.Str("action") == "policy_denied"
		})
		pg.WaitForLog(t, "the request refused line of "+id, func(e testenv.LogEntry) bool {
			return corrEntry(corrErrorLogger, id)(e) && e.Str("msg") == "request refused"
		})
	})
	t.Run("allowed", func(t *testing.T) {
		get(t, "/v1/payment_methods", http.StatusOK)
	})
}

// bundleRefusedMsg is the one line a refused bundle download is logged with.
const bundleRefusedMsg = "policy bundle refused; the active policy stays"

// TestBundleRefusalNamesKeyAndCheck: a bundle signed with a key paygate does
// not trust is refused with one line per attempt, naming the key ID it was
// checked with and the check that failed, its cause not hidden behind
// "[redacted]" and the signature itself not logged (issue #10 item 5).
func TestBundleRefusalNamesKeyAndCheck(t *testing.T) {
	devKey, publicKey := opaDevKey(t)
	bundles, bundleURL := testenv.StartBundleServer(t)
	bundles.Set("r1", opaBundle(t, "1", opaPolicyRev1, devKey))
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream: testenv.StartUpstream(t, nil),
		// The production format: every line through the redactor.
		Global: `log {
		format redact
	}`,
		Site: opaBundleSite,
		Data: opaBundleSiteData(t, bundleURL, publicKey),
	})
	pg.WaitForLog(t, "the activation of revision 1", testenv.LogFields(map[string]string{"msg": "policy activated", "revision": "1"}))

	untrusted := opaBundle(t, "2", opaPolicyRev3, opaUntrustedKey(t))
	bundles.Set("r2", untrusted)
	refusal := func(e testenv.LogEntry) bool { return e.Str("msg") == bundleRefusedMsg }
	first := pg.WaitForLog(t, "the refusal of revision 2", refusal)
	if got, want := first.Str("key_id"), "paygate"; got != want {
		t.Errorf("key_id %q, want %q: %s", got, want, first.Line)
	}
	if got, want := first.Str("check"), "signature_invalid"; got != want {
		t.Errorf("check %q, want %q: %s", got, want, first.Line)
	}
	if strings.Contains(first.Line, "[redacted]") {
		t.Errorf("the refusal hides its cause: %s", first.Line)
	}
	downloads := bundles.Downloads()
	testenv.Eventually(t, "a second download of revision 2", func() bool { return bundles.Downloads() > downloads })
	pg.Stop()

	attempts := bundles.Downloads() - 1 // revision 1's download was not refused
	logs := pg.Logs(t)
	var refusals int
	for _, e := range testenv.ParseLogEntries(logs) {
		if !strings.HasPrefix(e.Str("logger"), "http.handlers.opa_authz") || e.Str("level") != "error" {
			continue
		}
		if e.Str("msg") != bundleRefusedMsg {
			t.Errorf("a refused download logged another error: %s", e.Line)
			continue
		}
		refusals++
	}
	// A download cut short by Stop is neither refused nor logged.
	if refusals != attempts && refusals != attempts-1 {
		t.Errorf("%d refusals logged for %d refused downloads, want one each", refusals, attempts)
	}
	if sig := bundleSignature(t, untrusted); strings.Contains(string(logs), sig) {
		t.Errorf("the log holds the bundle's signature %s", sig)
	}
}

// bundleSignature returns the signature segment of the JWS in a bundle's
// .signatures.json.
func bundleSignature(t *testing.T, tarball []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(tarball))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no .signatures.json in the bundle: %v", err)
		}
		if path.Base(h.Name) != ".signatures.json" {
			continue
		}
		var sigs struct {
			Signatures []string `json:"signatures"`
		}
		if err := json.NewDecoder(tr).Decode(&sigs); err != nil || len(sigs.Signatures) != 1 {
			t.Fatalf(".signatures.json: %v %v", sigs, err)
		}
		jws := sigs.Signatures[0]
		return jws[strings.LastIndexByte(jws, '.')+1:]
	}
}

// TestDecisionLogRecordsEachRequest: a decision served from the policy's
// decision cache is still logged with its own request's input. Three GETs
// with one token, behind a trusted proxy, from two client addresses (the
// shipped policy does not read the address, so the second and third are
// cache hits): each decision log entry names its request's address and a
// time of its own. Logging the cached request's input for a hit would name
// the first address for the second request.
func TestDecisionLogRecordsEachRequest(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream: up,
		Global:   "servers {\n\t\ttrusted_proxies static 127.0.0.1/32\n\t}",
		Site:     bolaSite,
		Data:     map[string]any{"auth": opaAuth(t), "policies": opaPolicies(t)},
	})
	alice := opaBearer(t, "alice", "customer")
	times := map[string]bool{}
	for i, ip := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.1"} {
		header := alice.Clone()
		header.Set("X-Forwarded-For", ip)
		resp, body := send(t, pg.Client(), "GET", pg.HTTPSURL+"/v1/payment_methods", "", header)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status %d (body %s)", i, resp.StatusCode, body)
		}
		id := resp.Header.Get("X-Request-Id")
		entry := pg.WaitForLog(t, "the decision log entry of "+id, corrEntry(corrDecisionLogger, id))
		input, _ := entry.Fields["input"].(map[string]any)
		ts, _ := input["time"].(string)
		if input["client_ip"] != ip || ts == "" || times[ts] {
			t.Errorf("request %d from %s: decision log input %v, want its own client_ip and time", i, ip, input)
		}
		times[ts] = true
	}
	pg.WaitForMetric(t, `paygate_policy_decision_cache_total{result="hit"}`, testenv.MetricIs(2))
}
