package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/testenv"
)

// corsSite allows one origin to call the API from a browser; its page
// route allows none.
const corsSite = `
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	route /v1/* {
		security_headers api {
			cors https://shop.example.com
		}
		tls_enforce
		request_guard
		api_methods
		{{.Data.auth}}
		reverse_proxy {{.Upstream}}
	}
	route {
		security_headers stripe
		request_guard page
		reverse_proxy {{.Upstream}}
	}
	handle_errors {
		paygate_error
	}
}
`

// reflectingCORS answers like an application with the classic CORS mistake:
// it allows whatever Origin asks, with credentials.
func reflectingCORS() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		w.Header().Set("Access-Control-Allow-Methods", "*")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":[]}`))
	})
}

// TestCORSOnlyForAllowedOrigins: a browser page on another site may read
// the API only when its origin is on the allow-list, which names it exactly
// (never "*", always with Vary: Origin); an upstream's own CORS fields never
// reach the browser, so an application that reflects any origin with
// credentials cannot expose a user's saved cards to evil.example. A
// preflight from the allowed origin is answered before any stage that
// would refuse OPTIONS; from any other origin it gets the API's 405,
// without CORS fields.
func TestCORSOnlyForAllowedOrigins(t *testing.T) {
	up := testenv.StartUpstream(t, reflectingCORS())
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream: up,
		Site:     corsSite,
		Data:     map[string]any{"auth": opaAuth(t)},
	})
	token := "Bearer " + testenv.DevToken(t, "alice", nil)
	noCORS := func(t *testing.T, resp *http.Response) {
		t.Helper()
		for k, v := range resp.Header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("%s: %q reached the browser", k, v)
			}
		}
	}
	preflight := func(origin string) http.Header {
		return http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"POST"},
			"Access-Control-Request-Headers": {"authorization, content-type, idempotency-key"}}
	}

	t.Run("allowed origin reads the API", func(t *testing.T) {
		resp, body := send(t, pg.Client(), "GET", pg.HTTPSURL+"/v1/payment_methods", "",
			http.Header{"Authorization": {token}, "Origin": {"https://shop.example.com"}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status = %d (body %s)", resp.StatusCode, body)
		}
		checkHeaders(t, resp, map[string]string{
			"Access-Control-Allow-Origin":      "https://shop.example.com",
			"Access-Control-Allow-Credentials": "true",
		})
		if resp.Header.Get("Access-Control-Allow-Methods") != "" {
			t.Error("the upstream's Access-Control-Allow-Methods reached the browser")
		}
		if !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "X-Request-Id") {
			t.Errorf("Access-Control-Expose-Headers = %q, want X-Request-Id among them", resp.Header.Get("Access-Control-Expose-Headers"))
		}
		if vary := strings.Join(resp.Header.Values("Vary"), ","); !strings.Contains(vary, "Origin") {
			t.Errorf("Vary = %q, want Origin", vary)
		}
	})
	for _, origin := range []string{"https://evil.example", "null", "http://shop.example.com", "https://shop.example.com.evil.example"} {
		t.Run("API, origin "+origin, func(t *testing.T) {
			resp, body := send(t, pg.Client(), "GET", pg.HTTPSURL+"/v1/payment_methods", "",
				http.Header{"Authorization": {token}, "Origin": {origin}})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d (body %s)", resp.StatusCode, body)
			}
			noCORS(t, resp)
		})
	}
	t.Run("page route allows no origin", func(t *testing.T) {
		resp, _ := send(t, pg.Client(), "GET", pg.HTTPSURL+"/account", "", http.Header{"Origin": {"https://shop.example.com"}})
		noCORS(t, resp)
	})

	t.Run("preflight from the allowed origin", func(t *testing.T) {
		before := up.Count()
		resp, body := send(t, pg.Client(), "OPTIONS", pg.HTTPSURL+"/v1/payment_intents", "", preflight("https://shop.example.com"))
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("status = %d, want 204 (body %s)", resp.StatusCode, body)
		}
		checkHeaders(t, resp, apiHeaders)
		checkHeaders(t, resp, map[string]string{
			"Access-Control-Allow-Origin":      "https://shop.example.com",
			"Access-Control-Allow-Credentials": "true",
			"Access-Control-Allow-Methods":     "GET, POST, DELETE",
			"Access-Control-Allow-Headers":     "Authorization, Content-Type, Idempotency-Key",
		})
		if n := up.Count() - before; n != 0 {
			t.Errorf("the preflight reached the upstream %d times", n)
		}
	})
	t.Run("preflight from another origin", func(t *testing.T) {
		resp, body := send(t, pg.Client(), "OPTIONS", pg.HTTPSURL+"/v1/payment_intents", "", preflight("https://evil.example"))
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("status = %d, want the API's 405 (body %s)", resp.StatusCode, body)
		}
		decodeAPIError(t, resp, body, "method_not_allowed")
		noCORS(t, resp)
	})
}
