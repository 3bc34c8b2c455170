package securityheaders

import (
	"crypto/tls"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/testenv"
)

// BenchmarkServeHTTP is the stage's cost on a request over TLS with the
// stripe preset: the headers set before the next handler runs, and, when
// that handler writes a response head (as every real one does), set again
// on it. Each request is a new one to Caddy (its request ID is made anew)
// and starts with an empty response header.
func BenchmarkServeHTTP(b *testing.B) {
	h := testenv.Provision(b, &Handler{})
	for _, bc := range []struct {
		name string
		next caddyhttp.HandlerFunc
	}{
		{"next=noop", func(http.ResponseWriter, *http.Request) error { return nil }},
		{"next=writes_head", func(w http.ResponseWriter, _ *http.Request) error {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			return nil
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := testenv.NewSink()
			r := httptest.NewRequest(http.MethodGet, "https://pay.example.com/v1/payment_methods", nil)
			r.TLS = &tls.ConnectionState{Version: tls.VersionTLS13}
			r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, &caddyhttp.Server{})
			newRequest := resetter(r)
			b.ReportAllocs()
			for b.Loop() {
				newRequest()
				clear(w.H)
				if err := h.ServeHTTP(w, r, bc.next); err != nil {
					b.Fatal(err)
				}
			}
			if w.H.Get("Content-Security-Policy") == "" || w.H.Get("Strict-Transport-Security") == "" {
				b.Fatalf("headers not set: %v", w.H)
			}
		})
	}
}

// resetter returns a function that makes r a new request again to Caddy:
// it restores r's variables to what they are now, so that what Caddy
// remembers per request (the request ID) is made again.
func resetter(r *http.Request) func() {
	vars := r.Context().Value(caddyhttp.VarsCtxKey).(map[string]any)
	initial := maps.Clone(vars)
	return func() {
		clear(vars)
		maps.Copy(vars, initial)
	}
}
