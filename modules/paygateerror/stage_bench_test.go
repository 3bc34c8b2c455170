package paygateerror

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/testenv"
)

// BenchmarkServeHTTP is the cost of rendering one error: the API error
// resolved, its cause redacted and logged (JSON at INFO to nowhere, as
// Caddy would to a file) and the JSON body written. The errors are a
// policy's 404 with a cause, a rate limit's 429 with Retry-After, and
// Caddy's own 413 (no API error: the generic one for its status).
func BenchmarkServeHTTP(b *testing.B) {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	h := &Handler{logger: zap.New(zapcore.NewCore(enc, zapcore.AddSync(io.Discard), zap.InfoLevel))}
	rateLimited := apierror.New(http.StatusTooManyRequests, apierror.TypeRateLimit, "rate_limited", "Too many requests. Please retry later.").
		WithHeader("Retry-After", "1").WithCause(errors.New("rate limited by user"))
	for _, bc := range []struct {
		name   string
		err    error
		status int
	}{
		{"error=resource_missing", caddyhttp.Error(http.StatusNotFound,
			apierror.ResourceMissing.WithCause(errors.New("policy denied POST /v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa/confirm: not_owner"))), http.StatusNotFound},
		{"error=rate_limited", caddyhttp.Error(http.StatusTooManyRequests, rateLimited), http.StatusTooManyRequests},
		{"error=caddy_413", caddyhttp.Error(http.StatusRequestEntityTooLarge, errors.New("http: request body too large")), http.StatusRequestEntityTooLarge},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := testenv.NewSink()
			r := httptest.NewRequest(http.MethodPost, "https://pay.example.com/v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa/confirm", nil)
			r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, &caddyhttp.Server{})
			r = r.WithContext(context.WithValue(r.Context(), caddyhttp.ErrorCtxKey, bc.err))
			b.ReportAllocs()
			for b.Loop() {
				clear(w.H)
				if err := h.ServeHTTP(w, r, nil); err != nil {
					b.Fatal(err)
				}
				if w.Status != bc.status {
					b.Fatalf("status %d, want %d", w.Status, bc.status)
				}
			}
		})
	}
}
