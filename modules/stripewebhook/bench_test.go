package stripewebhook

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/testenv"
)

// BenchmarkVerifyAndDedup measures the stage on one delivery of a new event
// per iteration: the request's preparation, the checks, the signature, the
// event's parsing, the lease, a trivial next handler and the done record.
// On Redis it also reports the round trips per event. request_only is the
// preparation of the same requests alone, to subtract.
func BenchmarkVerifyAndDedup(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		s := store.NewMemory(time.Now)
		b.Cleanup(func() { _ = s.Close() })
		benchDeliveries(b, benchHandler(b, s), nil)
	})
	b.Run("redis", func(b *testing.B) {
		c := testenv.Redis(b).Client(b)
		rt := testenv.CountRoundTrips(c)
		benchDeliveries(b, benchHandler(b, store.NewRedis(c, store.RedisOptions{})), rt)
	})
	b.Run("request_only", func(b *testing.B) {
		benchDeliveries(b, benchNext, nil)
	})
}

// benchNext is the handler after the stage: it answers 204.
var benchNext caddyhttp.HandlerFunc = func(w http.ResponseWriter, _ *http.Request) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// benchHandler is the stage on s in front of benchNext.
func benchHandler(b *testing.B, s store.Store) caddyhttp.Handler {
	b.Setenv(secretEnv, secretNew)
	h := &Handler{Secrets: []string{"{env." + secretEnv + "}"}}
	if err := h.setUp(s, zap.NewNop(), zap.NewNop(), caddy.NewReplacer()); err != nil {
		b.Fatal(err)
	}
	return caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return h.ServeHTTP(w, r, benchNext)
	})
}

// benchDeliveries serves b.N deliveries of distinct events to h, counting
// rt's round trips when rt is not nil.
func benchDeliveries(b *testing.B, h caddyhttp.Handler, rt *testenv.RoundTrips) {
	// Signing is Stripe's work, not the stage's: every delivery is made
	// before the timer starts. The first one, outside the count, loads the
	// store's scripts.
	bodies, headers := make([][]byte, b.N+1), make([]string, b.N+1)
	for i := range bodies {
		bodies[i] = newEvent(fmt.Sprintf("evt_bench_%d", i)).body(b)
		headers[i] = sign(time.Now(), bodies[i], secretNew)
	}
	serve := func(i int) {
		w := httptest.NewRecorder()
		r := caddyhttp.PrepareRequest(signedRequest(bodies[i], headers[i]), caddy.NewReplacer(), w, &caddyhttp.Server{})
		if err := h.ServeHTTP(w, r); err != nil || w.Code != http.StatusNoContent {
			b.Fatalf("delivery %d: %d, %v", i, w.Code, err)
		}
	}
	serve(b.N)
	var before int64
	if rt != nil {
		before = rt.Count()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		serve(i)
	}
	b.StopTimer()
	if rt != nil {
		b.ReportMetric(float64(rt.Count()-before)/float64(b.N), "roundtrips/op")
	}
}

// BenchmarkParseSignature measures the header check: Stripe's usual header
// (t, v1 and, in test mode, v0), and one while a secret is rolled.
func BenchmarkParseSignature(b *testing.B) {
	body := []byte(`{"id":"evt_1"}`)
	now := time.Now()
	for _, bc := range []struct{ name, header string }{
		{"usual", sign(now, body, secretNew) + ",v0=" + v1Hex},
		{"rolled", sign(now, body, secretNew, secretOld) + ",v0=" + v1Hex},
	} {
		b.Run(bc.name, func(b *testing.B) {
			values := []string{bc.header}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := parseSignature(values); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify measures the signature check of an event with one
// secret, and with two where the second matches (a secret being rolled,
// the costlier order).
func BenchmarkVerify(b *testing.B) {
	body := newEvent("evt_bench").body(b)
	h, err := parseSignature([]string{sign(time.Now(), body, secretOld)})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name    string
		secrets []string
	}{
		{"one_secret", []string{secretOld}},
		{"two_secrets", []string{secretNew, secretOld}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := verify(body, h, bc.secrets, 5*time.Minute, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
