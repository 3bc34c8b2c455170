package carddataguard

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// benchBody is a JSON request body of about size bytes, with a card number
// at its end or not.
func benchBody(size int, withCard bool) []byte {
	const item = `{"sku":"cleaning-2h","quantity":2,"reference":"ORD-2024-000123","payment_method":"pm_1NvZQa2eZvKYlo2CnLtoMzIo","created":1700000000000,"phone":"+1 415 555 2671","id":"123e4567-e89b-12d3-a456-426614174000"},`
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for b.Len() < size-100 {
		b.WriteString(item)
	}
	if withCard {
		b.WriteString(`{"number":"4242 4242 4242 4242"}`)
	} else {
		b.WriteString(`{"currency":"usd"}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkServeHTTP measures the guard on a whole request: the head (a
// path, a query, the usual headers and a bearer token) and a JSON body read,
// scanned and handed on.
func BenchmarkServeHTTP(b *testing.B) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	h := &Handler{}
	if err := h.Provision(ctx); err != nil {
		b.Fatal(err)
	}
	h.audit = zap.NewNop() // refusals are audited; not to the benchmark's output
	next := caddyhttp.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) error {
		_, err := io.Copy(io.Discard, r.Body)
		return err
	})
	for _, bc := range []struct {
		name     string
		size     int
		withCard bool
	}{
		{"json_1KB_clean", 1 << 10, false},
		{"json_1KB_card", 1 << 10, true},
		{"json_64KB_clean", 63 << 10, false},
		{"json_64KB_card", 63 << 10, true},
	} {
		body := benchBody(bc.size, bc.withCard)
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
				err := h.ServeHTTP(w, r, next)
				if (err != nil) != bc.withCard {
					b.Fatalf("err = %v", err)
				}
			}
		})
	}
}
