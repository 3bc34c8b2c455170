package idempotency

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/redis/go-redis/v9"

	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/testenv"
)

// benchAnswer is a typical created payment intent: 300 bytes of JSON.
var benchAnswer = func() []byte {
	const head = `{"id":"pi_3NvZQa2eZvKYlo2C0X6ZvEBd","object":"payment_intent","amount":8900,"currency":"usd","status":"requires_payment_method","client_secret":"pi_3NvZQa2eZvKYlo2C0X6ZvEBd_secret_9aKLmW3nQ","metadata":{"order":"`
	const tail = `"}}`
	return []byte(head + strings.Repeat("o", 300-len(head)-len(tail)) + tail)
}()

// benchNext answers every request with benchAnswer.
var benchNext = caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(benchAnswer)
	return err
})

// roundTripsSoFar is the round trips so far; 0 for none counted (the memory store).
func roundTripsSoFar(rt *testenv.RoundTrips) int64 {
	if rt == nil {
		return 0
	}
	return rt.Count()
}

// benchStores runs bench on the memory store and on a private Redis
// server; calls counts the Redis round trips (nil for memory).
func benchStores(b *testing.B, bench func(b *testing.B, s store.Store, calls *testenv.RoundTrips)) {
	b.Run("memory", func(b *testing.B) {
		s := store.NewMemory(time.Now)
		b.Cleanup(func() { _ = s.Close() })
		bench(b, s, nil)
	})
	b.Run("redis", func(b *testing.B) {
		client := testenv.Redis(b).Client(b)
		calls := testenv.CountRoundTrips(client)
		s := store.NewRedis(client, store.RedisOptions{Timeout: 5 * time.Second})
		b.Cleanup(func() { _ = s.Close() })
		bench(b, s, calls)
	})
}

// benchRequest is a prepared POST /v1/payment_intents of alice's, served
// to w; the caller sets its key and body before each use.
func benchRequest(w http.ResponseWriter) *http.Request {
	repl := caddy.NewReplacer()
	r := caddyhttp.PrepareRequest(post(intents, intentBody), repl, w, &caddyhttp.Server{})
	repl.Set(userPlaceholder, "alice")
	return r
}

// serveBench serves r with key through h, as a fresh request.
func serveBench(b *testing.B, h *Handler, w *testenv.Sink, r *http.Request, key string) {
	r.Header.Set("Idempotency-Key", key)
	r.Body = io.NopCloser(strings.NewReader(intentBody))
	clear(w.H)
	w.Status = 0
	if err := h.ServeHTTP(w, r, benchNext); err != nil {
		b.Fatal(err)
	}
	if w.Status != http.StatusOK {
		b.Fatalf("status %d, want 200", w.Status)
	}
}

// reportCalls reports the Redis round trips per operation.
func reportCalls(b *testing.B, calls *testenv.RoundTrips, before int64, ops int) {
	if calls != nil && ops > 0 {
		b.ReportMetric(float64(calls.Count()-before)/float64(ops), "redis-calls/op")
	}
}

// BenchmarkIdempotentPOST is the stage's cost on a request with a new key:
// the lease taken, next run under it, its 300-byte answer sealed and
// stored.
func BenchmarkIdempotentPOST(b *testing.B) {
	benchStores(b, func(b *testing.B, s store.Store, calls *testenv.RoundTrips) {
		h := setUpFixture(b, s, &Handler{SealKeys: freshSealKey(b)}).h
		w := testenv.NewSink()
		r := benchRequest(w)
		// Load the scripts, so that what is measured is the steady state.
		serveBench(b, h, w, r, "warm-up")
		before, ops := roundTripsSoFar(calls), 0
		b.SetBytes(int64(len(benchAnswer)))
		b.ReportAllocs()
		for b.Loop() {
			ops++
			serveBench(b, h, w, r, "k"+strconv.Itoa(ops))
		}
		if w.H.Get(replayedHdr) != "" {
			b.Fatal("a new key was answered with a replay")
		}
		reportCalls(b, calls, before, ops)
	})
}

// BenchmarkReplay is the stage's cost on a retry: the record fetched,
// opened and written.
func BenchmarkReplay(b *testing.B) {
	benchStores(b, func(b *testing.B, s store.Store, calls *testenv.RoundTrips) {
		h := setUpFixture(b, s, &Handler{SealKeys: freshSealKey(b)}).h
		w := testenv.NewSink()
		r := benchRequest(w)
		serveBench(b, h, w, r, "k")
		before, ops := roundTripsSoFar(calls), 0
		b.SetBytes(int64(len(benchAnswer)))
		b.ReportAllocs()
		for b.Loop() {
			ops++
			serveBench(b, h, w, r, "k")
		}
		if w.H.Get(replayedHdr) != "true" {
			b.Fatal("a retry was not answered with a replay")
		}
		reportCalls(b, calls, before, ops)
	})
}

var _ redis.Hook = (*testenv.RoundTrips)(nil)
