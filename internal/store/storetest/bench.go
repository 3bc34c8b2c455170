package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/store"
)

// RoundTripCounter is implemented by a store wrapped to count the round
// trips to its backend; Bench reports them as "roundtrips/op".
type RoundTripCounter interface {
	RoundTrips() int64
}

// Bench runs one sub-benchmark per primitive, each on a store from
// newStore, which it closes when the sub-benchmark ends. Each loop calls
// the store once per iteration (twice for Acquire+Complete) from one
// goroutine, so ns/op is a call's latency.
func Bench(b *testing.B, newStore func(b *testing.B) store.Store) {
	benchmarks := []struct {
		name string
		// setup runs before the timer starts; op is one iteration.
		setup func(ctx context.Context, s store.Store) error
		op    func(ctx context.Context, s store.Store, i int) error
	}{
		{"Limit/zones=1", nil, benchLimit(1)},
		{"Limit/zones=3", nil, benchLimit(3)},
		{"Acquire+Complete", nil, func(ctx context.Context, s store.Store, i int) error {
			k := store.Key("u1", "idem", fmt.Sprint(i))
			if _, err := s.Acquire(ctx, k, "owner", []byte("fingerprint"), time.Minute); err != nil {
				return err
			}
			_, err := s.Complete(ctx, k, "owner", []byte("201 {\"id\":\"pi_123\"}"), time.Minute)
			return err
		}},
		{"AcquireLimit+Complete/zones=3", nil, func(ctx context.Context, s store.Store, i int) error {
			// An idempotent POST's lease with the user's zones, then its
			// record: compare with Acquire+Complete plus Limit/zones=3.
			k := store.Key("u1", "idem", fmt.Sprint(i))
			if _, _, err := s.AcquireLimit(ctx, k, "owner", []byte("fingerprint"), time.Minute, userZones); err != nil {
				return err
			}
			_, err := s.Complete(ctx, k, "owner", []byte("201 {\"id\":\"pi_123\"}"), time.Minute)
			return err
		}},
		{"Acquire/held", func(ctx context.Context, s store.Store) error {
			_, err := s.Acquire(ctx, store.Key("u1", "idem", "held"), "owner", []byte("fingerprint"), time.Hour)
			return err
		}, func(ctx context.Context, s store.Store, _ int) error {
			_, err := s.Acquire(ctx, store.Key("u1", "idem", "held"), "other", []byte("fingerprint"), time.Hour)
			return err
		}},
		{"PutIfAbsent", nil, func(ctx context.Context, s store.Store, i int) error {
			_, err := s.PutIfAbsent(ctx, store.Key("evt", fmt.Sprint(i)), []byte("1"), time.Minute)
			return err
		}},
		{"Get", func(ctx context.Context, s store.Store) error {
			return s.Set(ctx, store.Key("u1", "customer"), []byte("cus_123"), time.Hour)
		}, func(ctx context.Context, s store.Store, _ int) error {
			_, _, err := s.Get(ctx, store.Key("u1", "customer"))
			return err
		}},
		{"Set", nil, func(ctx context.Context, s store.Store, _ int) error {
			return s.Set(ctx, store.Key("u1", "customer"), []byte("cus_123"), time.Hour)
		}},
		{"Delete/keys=1", nil, func(ctx context.Context, s store.Store, _ int) error {
			return s.Delete(ctx, store.Key("u1", "customer"))
		}},
		{"Delete/keys=3", nil, func(ctx context.Context, s store.Store, _ int) error {
			return s.Delete(ctx, store.Key("u1", "customer"), store.Key("u2", "customer"), store.Key("u3", "customer"))
		}},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			ctx := context.Background()
			s := newStore(b)
			b.Cleanup(func() { _ = s.Close() })
			if bm.setup != nil {
				if err := bm.setup(ctx, s); err != nil {
					b.Fatal(err)
				}
			}
			// A first call outside the count loads scripts and routing.
			if err := bm.op(ctx, s, -1); err != nil {
				b.Fatal(err)
			}
			counter, counts := s.(RoundTripCounter)
			var before int64
			if counts {
				before = counter.RoundTrips()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := bm.op(ctx, s, i); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if counts {
				b.ReportMetric(float64(counter.RoundTrips()-before)/float64(b.N), "roundtrips/op")
			}
		})
	}
}

// benchLimit makes one decision over zones zones of one tag.
func benchLimit(zones int) func(ctx context.Context, s store.Store, i int) error {
	reqs := benchZones("ip_1", zones)
	return func(ctx context.Context, s store.Store, _ int) error {
		_, err := s.Limit(ctx, reqs)
		return err
	}
}

// userZones are three zones of one user, under another hash tag than the
// idempotency records of the benchmarks.
var userZones = benchZones("user_1", 3)

// benchZones returns n zones of tag, each admitting a million units a
// second so that a loop is never denied.
func benchZones(tag string, n int) []store.LimitRequest {
	reqs := make([]store.LimitRequest, n)
	for i := range reqs {
		reqs[i] = store.LimitRequest{Key: store.Key(tag, "rl", fmt.Sprint(i)), Rate: 1_000_000, Period: time.Second, Burst: 1_000_000, Cost: 1}
	}
	return reqs
}
