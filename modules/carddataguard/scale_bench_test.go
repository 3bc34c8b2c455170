package carddataguard

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/testenv"
)

// BenchmarkLargeBody completes BenchmarkServeHTTP's body sizes (1 KB and
// 64 KB) with 1 MB: the same request with a 1 MB JSON body, clean and with
// a card number at its end, through a guard whose max_body is raised to
// 2 MiB (the default, 64 KiB, refuses such a body with 413 unread).
func BenchmarkLargeBody(b *testing.B) {
	h := testenv.Provision(b, &Handler{MaxBody: 2 << 20})
	h.audit = zap.NewNop() // refusals are audited; not to the benchmark's output
	next := caddyhttp.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) error {
		_, err := io.Copy(io.Discard, r.Body)
		return err
	})
	for _, bc := range []struct {
		name     string
		withCard bool
	}{
		{"json_1MB_clean", false},
		{"json_1MB_card", true},
	} {
		body := benchBody(1<<20, bc.withCard)
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			w := httptest.NewRecorder()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, "https://pay.example.com/v1/payment_intents?expand[]=customer", bytes.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("Authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyXzQyIn0.c2lnbmF0dXJl")
				r.Header.Set("Idempotency-Key", "123e4567-e89b-12d3-a456-426614174000")
				r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36")
				r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
				if err := h.ServeHTTP(w, r, next); (err != nil) != bc.withCard {
					b.Fatalf("err = %v", err)
				}
			}
		})
	}
}
