package apimethods

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/testenv"
)

// BenchmarkServeHTTP is the stage's cost on a method the route takes (the
// request passed on), on a known method the route does not take (405 with
// Allow) and on a method the API does not implement (501); the errors are
// built, not rendered.
func BenchmarkServeHTTP(b *testing.B) {
	h := testenv.Provision(b, &Handler{})
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
	for _, bc := range []struct {
		name, method, target string
		status               int // 0: passed on
	}{
		{"allowed", http.MethodPost, "/v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa/confirm", 0},
		{"method_not_allowed", http.MethodGet, "/v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa/confirm", http.StatusMethodNotAllowed},
		{"not_implemented", http.MethodPatch, "/v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa", http.StatusNotImplemented},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(bc.method, "https://pay.example.com"+bc.target, nil)
			r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, &caddyhttp.Server{})
			b.ReportAllocs()
			for b.Loop() {
				if got := statusOf(h.ServeHTTP(w, r, next)); got != bc.status {
					b.Fatalf("status %d, want %d", got, bc.status)
				}
			}
		})
	}
}

// statusOf is the status of the handler error err, 0 for none and -1 for
// an error that is not a caddyhttp.HandlerError.
func statusOf(err error) int {
	var he caddyhttp.HandlerError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &he):
		return he.StatusCode
	}
	return -1
}
