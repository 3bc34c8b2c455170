package ratelimit

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/testenv"
)

// roundTrips is a go-redis hook counting what a client sends: each
// command and each pipeline is one round trip. (Redis's own INFO
// commandstats would not do: it also counts the commands a script runs.)
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// BenchmarkStage measures one request through a stage of 1, 3 and 10
// request zones (per user, each admitting it), and through the shipped
// per-IP stage's first two zones (a request zone and one counting 401s and
// 404s, which a 200 does not spend), on the memory store and on Redis,
// where it reports the round trips per request: one, a single script
// deciding every zone.
func BenchmarkStage(b *testing.B) {
	srv := testenv.Redis(b)
	backends := []struct {
		name string
		// open returns a store and, on Redis, a count of its round trips.
		open func(b *testing.B) (store.Store, func() int64)
	}{
		{"memory", func(b *testing.B) (store.Store, func() int64) {
			return store.NewMemory(time.Now), nil
		}},
		{"redis", func(b *testing.B) (store.Store, func() int64) {
			c, rt := srv.Client(b), &roundTrips{}
			c.AddHook(rt)
			return store.NewRedis(c, store.RedisOptions{Prefix: fmt.Sprintf("bench%d:", time.Now().UnixNano())}), rt.n.Load
		}},
	}
	type stage struct {
		name  string
		zones []Zone
	}
	var stages []stage
	for _, n := range []int{1, 3, 10} {
		st := stage{name: fmt.Sprintf("zones=%d", n)}
		for i := range n {
			st.zones = append(st.zones, Zone{Name: fmt.Sprintf("zone_%d", i), Key: "{paygate.user}",
				Rate: 1_000_000, Period: caddy.Duration(time.Second), Burst: 1_000_000})
		}
		stages = append(stages, st)
	}
	stages = append(stages, stage{name: "zones=ip+ip_failures", zones: []Zone{
		{Name: "ip", Key: "{paygate.client_ip}", Rate: 1_000_000, Period: caddy.Duration(time.Second), Burst: 1_000_000},
		{Name: "ip_failures", Key: "{paygate.client_ip}", Statuses: []int{401, 404},
			Rate: 1_000_000, Period: caddy.Duration(time.Second), Burst: 1_000_000},
	}})
	for _, be := range backends {
		for _, st := range stages {
			b.Run(be.name+"/"+st.name, func(b *testing.B) {
				s, commands := be.open(b)
				b.Cleanup(func() { _ = s.Close() })
				h := &Handler{Zones: st.zones}
				if err := h.setUp(s, zap.NewNop(), zap.NewNop()); err != nil {
					b.Fatal(err)
				}
				r := httptest.NewRequest(http.MethodPost, "https://pay.example.com/v1/payment_intents", nil)
				w := httptest.NewRecorder()
				repl := caddy.NewReplacer()
				r = caddyhttp.PrepareRequest(r, repl, w, &caddyhttp.Server{})
				caddyhttp.SetVar(r.Context(), caddyhttp.ClientIPVarKey, clientIP)
				repl.Set("http.auth.user.id", "user_42")
				repl.Set("http.auth.user.iss", "https://idp.example")
				next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
				// A first request outside the count loads the script.
				if err := h.ServeHTTP(w, r, next); err != nil {
					b.Fatal(err)
				}
				var before int64
				if commands != nil {
					before = commands()
				}
				b.ReportAllocs()
				for b.Loop() {
					if err := h.ServeHTTP(w, r, next); err != nil {
						b.Fatal(err)
					}
				}
				if commands != nil {
					calls := commands() - before
					b.ReportMetric(float64(calls)/float64(b.N), "redis-calls/op")
					if calls != int64(b.N) {
						b.Errorf("%d round trips for %d requests, want one each", calls, b.N)
					}
				}
			})
		}
	}
}
