package requestguard

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/testenv"
)

// BenchmarkAPIRequest is the stage's cost on a typical API POST: a dozen
// headers, a short query, a JSON body.
func BenchmarkAPIRequest(b *testing.B) {
	h := testenv.Provision(b, &Handler{})
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
	w := httptest.NewRecorder()
	base := httptest.NewRequest(http.MethodPost, "https://pay.example.com/v1/payment_intents?expand=customer", nil)
	for k, v := range map[string]string{
		"Authorization": "Bearer eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2ln", "Content-Type": "application/json",
		"Idempotency-Key": "0f8fad5b-d9cb-469f-a165-70867728950e", "User-Agent": "Mozilla/5.0", "Accept": "application/json",
		"Accept-Language": "en-GB", "Origin": "https://app.example.com", "Sec-Fetch-Site": "same-site",
		"X-Forwarded-User": "spoofed", "Connection": "keep-alive",
	} {
		base.Header.Set(k, v)
	}
	base.ContentLength = 80
	base = caddyhttp.PrepareRequest(base, caddy.NewReplacer(), w, &caddyhttp.Server{})
	b.ReportAllocs()
	for b.Loop() {
		r := base.Clone(base.Context())
		if err := h.ServeHTTP(w, r, next); err != nil {
			b.Fatal(err)
		}
	}
}
