package opaauthz

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/paygate/paygate/internal/ownership"
	"github.com/paygate/paygate/internal/store"
)

// benchHandler provisions the shipped policy on a memory store holding one
// owned intent, logging JSON at INFO to nowhere (as Caddy would to a file).
func benchHandler(b *testing.B, dl *DecisionLogConfig) *Handler {
	b.Helper()
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	logger := zap.New(zapcore.NewCore(enc, zapcore.AddSync(io.Discard), zap.InfoLevel))
	s := store.NewMemory(time.Now)
	b.Cleanup(func() { _ = s.Close() })
	h := &Handler{PolicyDir: repoPolicies, Claims: []string{"role"}, DecisionLog: dl}
	if err := h.provision(context.Background(), logger, logger, prometheus.NewRegistry(), s); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = h.Cleanup() })
	if err := ownership.Record(context.Background(), s, "pi_3MtwBwLkdIwHu7ix28a3tqPa", "user_42"); err != nil {
		b.Fatal(err)
	}
	return h
}

// BenchmarkServeHTTP measures the stage's cost for one allowed request on a
// resource route: path check, input, ownership lookup, evaluation and the
// masked decision log (written to the log, or buffered for a service that
// the plug-in uploads to in the background).
func BenchmarkServeHTTP(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer sink.Close()
	for _, bc := range []struct {
		name string
		dl   *DecisionLogConfig
	}{
		{"decision_log=off", &DecisionLogConfig{Disabled: true}},
		{"decision_log=console", nil},
		{"decision_log=service", &DecisionLogConfig{Service: sink.URL + "/logs"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := benchHandler(b, bc.dl)
			r, w := newRequest("POST", "/v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa/confirm", caller{user: "user_42", claims: map[string]string{"role": "customer"}})
			b.ReportAllocs()
			for b.Loop() {
				if out := serve(b, h, r, w); !out.passed {
					b.Fatalf("refused: %v", out.err)
				}
			}
		})
	}
}

// BenchmarkSteps splits the cost: the input document (with the ownership
// lookup) and the evaluation of the prepared query.
func BenchmarkSteps(b *testing.B) {
	h := benchHandler(b, &DecisionLogConfig{Disabled: true})
	r, _ := newRequest("POST", "/v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa/confirm", caller{user: "user_42", claims: map[string]string{"role": "customer"}})
	b.Run("input", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.buildInput(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	in, err := h.buildInput(r)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("evaluation", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if d := h.engine.decide(context.Background(), in, nil, ""); !d.allowed() {
				b.Fatalf("decision %+v", d)
			}
		}
	})
}
