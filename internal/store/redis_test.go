package store_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/testenv"
)

// prefixes gives every store of a run its own key prefix, so that the tests
// sharing one server cannot see each other's keys.
var prefixes atomic.Int64

func uniquePrefix() string {
	return fmt.Sprintf("test%d:", prefixes.Add(1))
}

// redisHarness runs the suite on stores over clients from newClient, with
// or without the automatic pipeliner.
func redisHarness(newClient func(t testing.TB) redis.UniversalClient, auto bool) storetest.Harness {
	return storetest.Harness{New: func(t *testing.T) storetest.Backend {
		c := newClient(t)
		opts := store.RedisOptions{Prefix: uniquePrefix(), Timeout: 10 * time.Second}
		if auto {
			opts.AutoPipeliner = autoPipeliner(t, c)
		}
		return storetest.Backend{Store: store.NewRedis(c, opts)}
	}}
}

// runRedis runs the suite on stores over clients from newClient, once with
// each call on its own and once through the automatic pipeliner.
func runRedis(t *testing.T, newClient func(t testing.TB) redis.UniversalClient) {
	t.Run("Plain", func(t *testing.T) { storetest.Run(t, redisHarness(newClient, false)) })
	t.Run("AutoPipeline", func(t *testing.T) { storetest.Run(t, redisHarness(newClient, true)) })
}

// autoPipeliner returns c's deferred automatic pipeliner, as paygate's app
// makes it.
func autoPipeliner(t testing.TB, c redis.UniversalClient) *redis.AutoPipeliner {
	t.Helper()
	ap, err := c.AsyncAutoPipeline()
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

func TestRedis(t *testing.T) {
	srv := testenv.Redis(t)
	runRedis(t, func(t testing.TB) redis.UniversalClient { return srv.Client(t) })
}

// TestRedisAutoPipeline: the rate-limit calls that concurrent callers make
// while a batch is out go to the server together, in the next batch. The
// server is paused, so that the first batch stays out while every caller
// sends its call; unpaused, the calls held meanwhile go in one round trip,
// and each caller gets its own answer.
func TestRedisAutoPipeline(t *testing.T) {
	ctx := &waitingCtx{Context: context.Background()}
	srv := testenv.Redis(t)
	raw := srv.Client(t)
	c := srv.Client(t)
	var batches largestBatch
	c.AddHook(&batches)
	ap := autoPipeliner(t, c)
	// No Timeout: the callers wait on ctx itself, which counts them.
	s := store.NewRedis(c, store.RedisOptions{Prefix: uniquePrefix(), AutoPipeliner: ap})
	defer s.Close()
	zone := func(i int) []store.LimitRequest {
		return []store.LimitRequest{{Key: store.Key(fmt.Sprint("u", i), "rl"), Rate: 1, Period: time.Hour, Burst: 1, Cost: 1}}
	}
	// The script's first run loads it.
	if _, err := s.Limit(ctx, zone(0)); err != nil {
		t.Fatal(err)
	}
	if err := raw.Do(ctx, "client", "pause", 60_000, "write").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Do(ctx, "client", "unpause").Err() })

	const callers = 20
	errs := make(chan error, callers)
	for i := 1; i <= callers; i++ {
		go func() {
			res, err := s.Limit(ctx, zone(i))
			if err == nil && (len(res) != 1 || !res[0].Allowed) {
				err = fmt.Errorf("zone %d: %v, want admitted", i, res)
			}
			errs <- err
		}()
	}
	testenv.Eventually(t, "every caller waiting for its reply", func() bool { return ctx.waiting.Load() >= callers })
	if err := raw.Do(ctx, "client", "unpause").Err(); err != nil {
		t.Fatal(err)
	}
	for range callers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := batches.max.Load(); n < callers/2 {
		t.Errorf("the largest round trip carried %d of %d calls, want at least half", n, callers)
	}
	// A second time, the zones are spent: each answer is the caller's own.
	// The first of them finds the script cache flushed (a restart, a
	// failover) and runs the script with EVAL instead, once.
	if err := raw.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= callers; i++ {
		if res, err := s.Limit(ctx, zone(i)); err != nil || res[0].Allowed || res[0].Remaining != 0 {
			t.Errorf("zone %d again: %+v, %v; want refused, none remaining", i, res, err)
		}
	}
}

// waitingCtx counts the calls of its Done: a caller of the store asks for
// it once it has sent its command and waits for the reply.
type waitingCtx struct {
	context.Context
	waiting atomic.Int64
}

func (c *waitingCtx) Done() <-chan struct{} {
	c.waiting.Add(1)
	return c.Context.Done()
}

// largestBatch records the most commands one pipeline of a client carried.
type largestBatch struct{ max atomic.Int64 }

func (*largestBatch) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (*largestBatch) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (h *largestBatch) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for n := int64(len(cmds)); ; {
			m := h.max.Load()
			if n <= m || h.max.CompareAndSwap(m, n) {
				break
			}
		}
		return next(ctx, cmds)
	}
}

// TestRedisCluster runs the suite on a three-master cluster, where every
// multi-key script would fail with CROSSSLOT if a call's keys spanned
// slots.
func TestRedisCluster(t *testing.T) {
	cluster := testenv.RedisCluster(t)
	runRedis(t, func(t testing.TB) redis.UniversalClient { return cluster.Client(t) })

	t.Run("KeysFollowTheirTag", func(t *testing.T) {
		ctx := context.Background()
		c := cluster.Client(t)
		s := store.NewRedis(cluster.Client(t), store.RedisOptions{Prefix: "pay{gate}:"})
		defer s.Close()
		reqs := make([]store.LimitRequest, 3)
		for i := range reqs {
			reqs[i] = store.LimitRequest{Key: store.Key("u1", "rl", fmt.Sprint(i)), Rate: 1, Period: time.Hour, Burst: 1, Cost: 1}
		}
		if _, err := s.Limit(ctx, reqs); err != nil {
			t.Fatal(err)
		}
		tagSlot, err := c.ClusterKeySlot(ctx, "u1").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reqs {
			key := "pay%7Bgate%7D:" + r.Key
			slot, err := c.ClusterKeySlot(ctx, key).Result()
			if err != nil || slot != tagSlot {
				t.Errorf("slot of %s = %d, %v; want %d, the slot of tag u1", key, slot, err, tagSlot)
			}
			if n, err := c.Exists(ctx, key).Result(); n != 1 || err != nil {
				t.Errorf("EXISTS %s = %d, %v; want 1", key, n, err)
			}
		}
	})
}

// TestRedisSentinel runs the suite through Sentinel, on the master it
// names.
func TestRedisSentinel(t *testing.T) {
	sentinel := testenv.RedisSentinel(t)
	runRedis(t, func(t testing.TB) redis.UniversalClient {
		c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: sentinel.MasterName, SentinelAddrs: sentinel.Addrs})
		t.Cleanup(func() { _ = c.Close() })
		return c
	})
}

// TestRedisAcquireLimit: the lease and the limits take one round trip, and
// a server whose script cache was flushed (a restart, a failover) runs
// each script once all the same: EVALSHA's NOSCRIPT inside the pipeline is
// retried with EVAL.
func TestRedisAcquireLimit(t *testing.T) {
	ctx := context.Background()
	srv := testenv.Redis(t)
	raw := srv.Client(t)
	s := newCountingStore(srv.Client(t))
	defer s.Close()
	zone := store.LimitRequest{Key: store.Key("u1", "rl", "user"), Rate: 1, Period: time.Hour, Burst: 3, Cost: 1}
	acquire := func(key string) store.Lease {
		t.Helper()
		l, res, err := s.AcquireLimit(ctx, key, "a", []byte("fp"), time.Minute, []store.LimitRequest{zone})
		if err != nil || len(res) != 1 || !res[0].Allowed {
			t.Fatalf("AcquireLimit(%s) = %v, %v; want admitted", key, res, err)
		}
		return l
	}
	// The scripts' first runs load them.
	acquire(store.Key("k0", "idem"))

	before := s.RoundTrips()
	if l := acquire(store.Key("k1", "idem")); l.State != store.Acquired {
		t.Fatalf("lease %v, want acquired", l.State)
	}
	if got := s.RoundTrips() - before; got != 1 {
		t.Errorf("AcquireLimit took %d round trips, want 1", got)
	}

	if err := raw.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if l := acquire(store.Key("k2", "idem")); l.State != store.Acquired {
		t.Fatalf("lease after SCRIPT FLUSH %v, want acquired", l.State)
	}
	// Three runs of burst 3: the zone is spent, so none ran twice.
	res, err := s.Limit(ctx, []store.LimitRequest{zone})
	if err != nil || res[0].Allowed {
		t.Fatalf("Limit after three AcquireLimits = %v, %v; want refused", res, err)
	}
	if l, err := s.Acquire(ctx, store.Key("k2", "idem"), "b", nil, time.Minute); err != nil || l.State != store.Held {
		t.Fatalf("Acquire after AcquireLimit = %v, %v; want held", l.State, err)
	}
}

func TestRedisPrefix(t *testing.T) {
	ctx := context.Background()
	srv := testenv.Redis(t)
	raw := srv.Client(t)
	tests := []struct{ prefix, want string }{
		{"", "paygate:{u1}:k"},
		{"app:", "app:{u1}:k"},
		{"a{b}:", "a%7Bb%7D:{u1}:k"},
	}
	for _, tc := range tests {
		t.Run(tc.prefix, func(t *testing.T) {
			s := store.NewRedis(srv.Client(t), store.RedisOptions{Prefix: tc.prefix})
			defer s.Close()
			if err := s.Set(ctx, store.Key("u1", "k"), []byte("v"), time.Minute); err != nil {
				t.Fatal(err)
			}
			if got, err := raw.Get(ctx, tc.want).Result(); got != "v" || err != nil {
				t.Errorf("GET %s = %q, %v; want v", tc.want, got, err)
			}
		})
	}
}

// TestRedisUnavailable: an outage fails every call with ErrUnavailable
// within the per-call budget, keeping the cause.
func TestRedisUnavailable(t *testing.T) {
	ctx := context.Background()
	const budget = 200 * time.Millisecond

	t.Run("stopped", func(t *testing.T) {
		srv := testenv.Redis(t)
		s := store.NewRedis(srv.Client(t), store.RedisOptions{Timeout: budget})
		defer s.Close()
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("Ping before the outage: %v", err)
		}
		srv.Stop()
		start := time.Now()
		_, _, err := s.Get(ctx, store.Key("u1", "k"))
		if elapsed := time.Since(start); !errors.Is(err, store.ErrUnavailable) || elapsed > budget+time.Second {
			t.Fatalf("Get: %v after %v; want ErrUnavailable within %v", err, elapsed, budget)
		}
		storetest.Unavailable(ctx, t, s, nil)
	})

	// A server that never answers: each call ends with its budget, also
	// when it waits for a batch of the automatic pipeliner, which the
	// callers' contexts do not bound.
	for _, auto := range []bool{false, true} {
		t.Run(fmt.Sprint("silent/auto_pipeline=", auto), func(t *testing.T) {
			addr := silentServer(t)
			// As paygate's app configures it: reads and writes without a
			// caller's context (the pipeliner's) end with the budget too.
			c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, ReadTimeout: budget, WriteTimeout: budget})
			opts := store.RedisOptions{Timeout: budget}
			if auto {
				opts.AutoPipeliner = autoPipeliner(t, c)
			}
			s := store.NewRedis(c, opts)
			defer s.Close()
			start := time.Now()
			_, _, err := s.Get(ctx, store.Key("u1", "k"))
			if elapsed := time.Since(start); !errors.Is(err, context.DeadlineExceeded) || elapsed > budget+time.Second {
				t.Fatalf("Get: %v after %v; want DeadlineExceeded within %v", err, elapsed, budget)
			}
			storetest.Unavailable(ctx, t, s, context.DeadlineExceeded)
		})
	}
}

// silentServer listens on loopback and accepts connections but never
// answers, like a Redis that hangs.
func silentServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// countingStore is a Redis store that reports its round trips to
// storetest.Bench.
type countingStore struct {
	store.Store
	rt *testenv.RoundTrips
}

func (s countingStore) RoundTrips() int64 { return s.rt.Count() }

func newCountingStore(c redis.UniversalClient) countingStore {
	rt := testenv.CountRoundTrips(c)
	return countingStore{Store: store.NewRedis(c, store.RedisOptions{Prefix: uniquePrefix()}), rt: rt}
}

func BenchmarkRedis(b *testing.B) {
	srv := testenv.Redis(b)
	storetest.Bench(b, func(b *testing.B) store.Store { return newCountingStore(srv.Client(b)) })
}

func BenchmarkRedisCluster(b *testing.B) {
	cluster := testenv.RedisCluster(b)
	storetest.Bench(b, func(b *testing.B) store.Store { return newCountingStore(cluster.Client(b)) })
}
