package opaauthz

import (
	"context"
	"io"
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/paygate/paygate/internal/ownership"
	"github.com/paygate/paygate/internal/reqid"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/testenv"
)

// provisionOn provisions h on s, where user_42 owns the object id,
// logging JSON at INFO to nowhere (as Caddy would to a file).
func provisionOn(b *testing.B, h *Handler, s store.Store, id string) *Handler {
	b.Helper()
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	logger := zap.New(zapcore.NewCore(enc, zapcore.AddSync(io.Discard), zap.InfoLevel))
	if err := h.provision(context.Background(), logger, logger, prometheus.NewRegistry(), s); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = h.Cleanup() })
	if err := ownership.Record(context.Background(), s, id, "user_42"); err != nil {
		b.Fatal(err)
	}
	return h
}

// serveAllowed serves user_42's request method target through h until
// the benchmark ends, failing it unless each is passed on. Each request is
// a new one to the stage: what it remembers per request (the owner it
// looked up) is forgotten before the next, while the request ID, which an
// earlier stage makes, stays.
func serveAllowed(b *testing.B, h *Handler, method, target string) {
	r, w := newRequest(method, target, caller{user: "user_42", claims: map[string]string{"role": "customer"}})
	reqid.From(r)
	vars := r.Context().Value(caddyhttp.VarsCtxKey).(map[string]any)
	initial := maps.Clone(vars)
	passed := false
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		passed = true
		return nil
	})
	b.ReportAllocs()
	for b.Loop() {
		clear(vars)
		maps.Copy(vars, initial)
		passed = false
		if err := h.ServeHTTP(w, r, next); err != nil || !passed {
			b.Fatalf("refused: %v", err)
		}
	}
}

// BenchmarkServeHTTPStore is the stage with the shipped policy on an
// allowed request on a resource route, decision logs off, with the
// ownership index in the memory store and in Redis, where it also reports
// the round trips per request. Unlike BenchmarkServeHTTP, each request
// looks its owner up.
func BenchmarkServeHTTPStore(b *testing.B) {
	const intent = "pi_3MtwBwLkdIwHu7ix28a3tqPa"
	b.Run("store=memory", func(b *testing.B) {
		s := store.NewMemory(time.Now)
		b.Cleanup(func() { _ = s.Close() })
		h := provisionOn(b, &Handler{PolicyDir: repoPolicies, Claims: []string{"role"}, DecisionLog: &DecisionLogConfig{Disabled: true}}, s, intent)
		serveAllowed(b, h, http.MethodPost, "/v1/payment_intents/"+intent+"/confirm")
	})
	b.Run("store=redis", func(b *testing.B) {
		c := testenv.Redis(b).Client(b)
		rt := testenv.CountRoundTrips(c)
		s := store.NewRedis(c, store.RedisOptions{})
		b.Cleanup(func() { _ = s.Close() })
		h := provisionOn(b, &Handler{PolicyDir: repoPolicies, Claims: []string{"role"}, DecisionLog: &DecisionLogConfig{Disabled: true}}, s, intent)
		before := rt.Count()
		serveAllowed(b, h, http.MethodPost, "/v1/payment_intents/"+intent+"/confirm")
		b.ReportMetric(float64(rt.Count()-before)/float64(b.N), "redis-calls/op")
	})
}
