package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/paygate/paygate/internal/testenv"
)

// apiRoutes are the payment API's routes (the README's list), each as a
// path and the methods it takes, as its Allow header lists them.
var apiRoutes = []struct{ path, allow string }{
	{"/v1/payment_intents", "POST"},
	{"/v1/payment_intents/pi_123", "GET"},
	{"/v1/payment_intents/pi_123/confirm", "POST"},
	{"/v1/payment_intents/pi_123/cancel", "POST"},
	{"/v1/setup_intents", "POST"},
	{"/v1/setup_intents/seti_123", "GET"},
	{"/v1/payment_methods", "GET"},
	{"/v1/payment_methods/pm_123", "DELETE"},
	{"/v1/customers/me", "DELETE"},
}

// TestMethodsRefusedBeforeAuthentication sends every API route each
// method it does not take: a method the API knows (GET, POST, DELETE, HEAD,
// OPTIONS) is 405 with the route's Allow list, any other (PUT, PATCH,
// TRACE, lower-case "post", "FOO") is 501. The answer is paygate's error
// with the security headers, the same with a valid token as without one,
// and nothing reaches the payment handler's Stripe or the application.
func TestMethodsRefusedBeforeAuthentication(t *testing.T) {
	sm := testenv.StartStripeMock(t)
	up := testenv.StartUpstream(t, nil)
	token := http.Header{"Authorization": {"Bearer " + testenv.DevToken(t, "alice", nil)}}
	catalog, err := filepath.Abs("../testdata/catalog/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, terminal := range []struct{ name, directive string }{
		{"payments", fmt.Sprintf(`payments {
			stripe_key {env.STRIPE_SECRET_KEY}
			api_base %s
			catalog %s
		}`, sm.URL, catalog)},
		{"reverse_proxy", "reverse_proxy " + up.URL},
	} {
		t.Run(terminal.name, func(t *testing.T) {
			// The shipped pipeline, request_guard and api_response included.
			pg := startHardening(t, hardeningConfig{upstream: up, stripeMock: sm, terminal: terminal.directive})
			for _, rt := range apiRoutes {
				for _, method := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "post", "FOO"} {
					if method == rt.allow {
						continue
					}
					status, code, allow := http.StatusNotImplemented, "method_not_implemented", ""
					switch method {
					case "GET", "POST", "DELETE", "HEAD", "OPTIONS":
						status, code, allow = http.StatusMethodNotAllowed, "method_not_allowed", rt.allow
					}
					for _, auth := range []struct {
						name   string
						header http.Header
					}{{"anonymous", nil}, {"with a valid token", token}} {
						t.Run(method+" "+rt.path+" "+auth.name, func(t *testing.T) {
							resp, body := send(t, pg.Client(), method, pg.HTTPSURL+rt.path, "", auth.header)
							if resp.StatusCode != status {
								t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, status, body)
							}
							if got := resp.Header.Values("Allow"); allow == "" && len(got) != 0 || allow != "" && (len(got) != 1 || got[0] != allow) {
								t.Errorf("Allow = %q, want %q", got, allow)
							}
							checkHeaders(t, resp, apiHeaders)
							if method != "HEAD" { // a HEAD response has no body
								decodeAPIError(t, resp, body, code)
							}
						})
					}
				}
			}
		})
	}
	if n := up.Count(); n != 0 {
		t.Errorf("%d requests reached the application", n)
	}
	if calls := sm.Calls(); len(calls) != 0 {
		t.Errorf("%d calls reached Stripe: %v", len(calls), calls)
	}
}
