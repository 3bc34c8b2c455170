package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/ownership"
	"github.com/paygate/paygate/internal/testenv"
)

// bolaSite is the policy stage as the shipped pipeline has it: TLS and
// headers, jwt_auth (the role claim becomes {http.auth.user.role}), the
// shipped ownership policy, and an upstream recorder standing in for the
// payment handler.
const bolaSite = `
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	route {
		security_headers api
		tls_enforce
		{{.Data.auth}}
		opa_authz {
			policy_dir {{.Data.policies}}
			claims role
		}
		reverse_proxy {{.Upstream}}
	}
	handle_errors {
		paygate_error
	}
}
`

// TestBOLA is broken object-level authorization through the binary: alice
// against bob's payment intent, setup intent and card, against objects that
// do not exist, and through every ambiguous spelling of a path. Every
// attempt is refused, the same way within each kind, and none reaches the
// payment handler; the positive controls pass.
func TestBOLA(t *testing.T) {
	rs := testenv.Redis(t)
	up := testenv.StartUpstream(t, nil)
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream: up,
		Global:   "paygate {\n\t\tstore redis {{.Data.redisURL}}\n\t}",
		Site:     bolaSite,
		Data: map[string]any{
			"redisURL": rs.URL(),
			"auth":     opaAuth(t),
			"policies": opaPolicies(t),
		},
	})
	// The payment handler's ownership records, as it writes them.
	redis := rs.Client(t)
	for id, owner := range map[string]string{
		"pi_alice": "alice", "seti_alice": "alice", "pm_alice": "alice",
		"pi_bob": "bob", "seti_bob": "bob", "pm_bob": "bob",
	} {
		if err := redis.Set(context.Background(), "paygate:"+ownership.Key(id), owner, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	c := pg.Client()
	alice, agent := opaBearer(t, "alice", "customer"), opaBearer(t, "agent", "support")

	t.Run("positive controls", func(t *testing.T) {
		for _, tt := range []struct {
			who          http.Header
			method, path string
		}{
			{alice, "GET", "/v1/payment_intents/pi_alice"},
			{alice, "POST", "/v1/payment_intents/pi_alice/confirm"},
			{alice, "POST", "/v1/payment_intents/pi_alice/cancel"},
			{alice, "GET", "/v1/setup_intents/seti_alice"},
			{alice, "DELETE", "/v1/payment_methods/pm_alice"},
			{alice, "POST", "/v1/payment_intents"},
			{alice, "POST", "/v1/setup_intents"},
			{alice, "GET", "/v1/payment_methods"},
			{alice, "DELETE", "/v1/customers/me"},
			{agent, "GET", "/v1/payment_intents/pi_bob"},
			{agent, "GET", "/v1/setup_intents/seti_alice"},
		} {
			before := up.Count()
			resp, body := send(t, c, tt.method, pg.HTTPSURL+tt.path, "", tt.who)
			if resp.StatusCode != 200 || up.Count() != before+1 {
				t.Errorf("%s %s: %d %s (upstream %d -> %d), want 200 from the upstream", tt.method, tt.path, resp.StatusCode, body, before, up.Count())
			}
		}
	})

	// refusals sends each request and checks that all are refused with the
	// same response (status, body but for request_id) and code, and that
	// none reached the upstream.
	refusals := func(t *testing.T, code string, do func(yield func(name string, resp *http.Response, body []byte))) {
		t.Helper()
		before := up.Count()
		var first, firstName string
		do(func(name string, resp *http.Response, body []byte) {
			t.Helper()
			e := decodeAPIError(t, resp, body, code)
			if strings.Contains(string(body), "bob") || strings.Contains(e.Error.Message, "owner") {
				t.Errorf("%s: the error body says too much: %s", name, body)
			}
			shape := opaShape(resp, body)
			if first == "" {
				first, firstName = shape, name
			} else if shape != first {
				t.Errorf("%s answered\n  %s\nbut %s answered\n  %s", name, shape, firstName, first)
			}
		})
		if n := up.Count() - before; n != 0 {
			t.Errorf("%d refused requests reached the upstream", n)
		}
	}

	t.Run("other user's objects and missing objects", func(t *testing.T) {
		refusals(t, "resource_missing", func(yield func(string, *http.Response, []byte)) {
			for _, tt := range []struct {
				who          http.Header
				method, path string
			}{
				{alice, "GET", "/v1/payment_intents/pi_bob"},
				{alice, "POST", "/v1/payment_intents/pi_bob/confirm"},
				{alice, "POST", "/v1/payment_intents/pi_bob/cancel"},
				{alice, "GET", "/v1/setup_intents/seti_bob"},
				{alice, "DELETE", "/v1/payment_methods/pm_bob"},
				{alice, "GET", "/v1/payment_intents/pi_nobody"},
				{alice, "POST", "/v1/payment_intents/pi_nobody/confirm"},
				{alice, "POST", "/v1/payment_intents/pi_nobody/cancel"},
				{alice, "DELETE", "/v1/payment_methods/pm_nobody"},
				{alice, "GET", "/v1/setup_intents/seti_nobody"},
				// The support role reads, never writes, and never sees what
				// does not exist.
				{agent, "POST", "/v1/payment_intents/pi_bob/confirm"},
				{agent, "POST", "/v1/payment_intents/pi_bob/cancel"},
				{agent, "DELETE", "/v1/payment_methods/pm_bob"},
				{agent, "GET", "/v1/payment_intents/pi_nobody"},
			} {
				// A method override does not turn the support role's
				// writes into reads.
				header := tt.who.Clone()
				header.Set("X-HTTP-Method-Override", "GET")
				resp, body := send(t, c, tt.method, pg.HTTPSURL+tt.path, "", header)
				yield(tt.method+" "+tt.path, resp, body)
			}
		})
	})

	t.Run("ambiguous paths", func(t *testing.T) {
		refusals(t, "invalid_path", func(yield func(string, *http.Response, []byte)) {
			for _, target := range []string{
				"/v1/payment_intents/pi_alice%2F..%2Fpi_bob",
				"/v1/payment_intents/pi_alice%2f..%2fpi_bob",
				"/v1/payment_intents%2Fpi_bob",
				"/v1/payment_intents/pi_alice%5C..%5Cpi_bob",
				"/v1/payment_intents/pi_alice%5c..%5cpi_bob",
				"/v1/payment_intents\\pi_bob",
				"/v1/payment_intents/pi_alice\\..\\pi_bob",
				"/v1/payment_intents/pi_alice/../pi_bob",
				"/v1/payment_intents/./pi_bob",
				"/v1/payment_intents/pi_bob/.",
				"/v1/payment_intents/%2e/pi_bob",
				"/v1/payment_intents/%2e%2e/payment_intents/pi_bob",
				"/v1/payment_intents/%2E%2E/payment_intents/pi_bob",
				"/v1/payment_intents/.%2e/payment_intents/pi_bob",
				"/v1/payment_intents//pi_bob",
				"//v1/payment_intents/pi_bob",
				"/v1/payment_intents/pi_bob/",
				"/v1/payment_intents/pi_bob;pi_alice",
				"/v1/payment_intents;x=1/pi_bob",
				"/v1/payment_intents/pi_bob%3Bx",
				"/v1/payment_intents/pi_bob%00",
				"/v1/payment_intents/pi_bob%252F",
				"/V1/payment_intents/pi_bob",
				"/v1/Payment_Intents/pi_bob",
				"/v1/PAYMENT_INTENTS/pi_bob",
				"/v1/payment_intents/pi_bob/Confirm",
				"/V1/payment_methods",
			} {
				resp, body := opaRaw(t, pg, "GET", target, alice)
				yield(target, resp, body)
			}
		})
	})

	t.Run("method override headers are removed", func(t *testing.T) {
		before := up.Count()
		header := alice.Clone()
		for _, name := range []string{"X-HTTP-Method-Override", "X-Http-Method", "X-Method-Override"} {
			header.Set(name, "DELETE")
		}
		resp, body := send(t, c, "POST", pg.HTTPSURL+"/v1/payment_intents", "{}", header)
		if resp.StatusCode != 200 || up.Count() != before+1 {
			t.Fatalf("POST: %d %s", resp.StatusCode, body)
		}
		// Spellings Go does not canonicalise, sent as they are.
		raw := alice.Clone()
		raw["x_http_method_override"] = []string{"DELETE"}
		raw["X_METHOD_OVERRIDE"] = []string{"DELETE"}
		if resp, body := opaRaw(t, pg, "POST", "/v1/payment_intents", raw); resp.StatusCode != 200 {
			t.Fatalf("POST with underscore spellings: %d %s", resp.StatusCode, body)
		}
		for _, r := range up.Requests()[before:] {
			for name := range r.Header {
				if strings.Contains(strings.ToLower(name), "method") {
					t.Errorf("%s reached the upstream", name)
				}
			}
		}
	})

	t.Run("denials are audited with the decision ID", func(t *testing.T) {
		resp, body := send(t, c, "GET", pg.HTTPSURL+"/v1/payment_intents/pi_bob", "", alice)
		if resp.StatusCode != 404 {
			t.Fatalf("status %d %s", resp.StatusCode, body)
		}
		requestID := resp.Header.Get("X-Request-Id")
		audit := pg.WaitForLog(t, "the audit event", testenv.LogFields(map[string]string{
			"msg": "audit", "request_id": requestID, "action": "policy_denied",
		}))
		if audit.Str("outcome") != "denied" || audit.Str("actor") != "alice" || audit.Str("resource") != "pi_bob" || audit.Str("reason") != "not_owner" {
			t.Errorf("audit event: %s", audit.Line)
		}
		decisionID := audit.Str("decision_id")
		if decisionID == "" {
			t.Fatal("the audit event has no decision_id")
		}
		decision := pg.WaitForLog(t, "the decision log entry "+decisionID, testenv.LogFields(map[string]string{
			"msg": "Decision Log", "decision_id": decisionID,
		}))
		if !strings.Contains(decision.Line, `"reason":"not_owner"`) || decision.Str("logger") != "http.handlers.opa_authz.decision_log" {
			t.Errorf("decision log entry: %s", decision.Line)
		}
		pg.WaitForMetric(t, `paygate_policy_decisions_total{result="deny"}`, testenv.MetricAbove(0))
		pg.WaitForMetric(t, `paygate_policy_decisions_total{result="invalid_path"}`, testenv.MetricAbove(0))
		// Tokens never reach the log: a scan of the complete log, once the
		// process has exited.
		pg.Stop()
		logs := string(pg.Logs(t))
		for _, h := range []http.Header{alice, agent} {
			if tok := strings.TrimPrefix(h.Get("Authorization"), "Bearer "); strings.Contains(logs, tok) {
				t.Error("the log holds a token")
			}
		}
	})
}
