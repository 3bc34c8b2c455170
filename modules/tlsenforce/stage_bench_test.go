package tlsenforce

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/testenv"
)

// BenchmarkServeHTTP is the stage's cost on a request over TLS 1.3, on one
// that a trusted proxy says arrived over HTTPS, and on a plain-HTTP request
// it refuses (the 403 tls_required error built, not rendered).
func BenchmarkServeHTTP(b *testing.B) {
	h := testenv.Provision(b, &Handler{})
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
	for _, bc := range []struct {
		name    string
		tls     bool
		trusted bool
		proto   string
		refused bool
	}{
		{name: "tls13", tls: true},
		{name: "forwarded_https", trusted: true, proto: "https"},
		{name: "plain_http_refused", refused: true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPost, "http://pay.example.com/v1/payment_intents", nil)
			r.TLS = nil
			if bc.tls {
				r.TLS = &tls.ConnectionState{Version: tls.VersionTLS13}
			}
			if bc.proto != "" {
				r.Header.Set("X-Forwarded-Proto", bc.proto)
			}
			r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, &caddyhttp.Server{})
			caddyhttp.SetVar(r.Context(), caddyhttp.TrustedProxyVarKey, bc.trusted)
			b.ReportAllocs()
			for b.Loop() {
				if err := h.ServeHTTP(w, r, next); (err != nil) != bc.refused {
					b.Fatalf("err = %v", err)
				}
			}
		})
	}
}
