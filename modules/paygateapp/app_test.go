package paygateapp

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"

	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/testenv"
)

func provision(t *testing.T, a *App) *App {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := a.Provision(ctx); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	return a
}

// A reload provisions the new config before cleaning up the old one; with
// the same store settings both must see the same store, so that the memory
// store's limits and idempotency records survive the reload.
func TestMemoryStoreSurvivesReload(t *testing.T) {
	ctx := context.Background()
	old := provision(t, &App{})
	if err := old.Store().Set(ctx, store.Key("t", "k"), []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	next := provision(t, &App{StoreConfig: &StoreConfig{Backend: "memory"}})
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := next.Store().Get(ctx, store.Key("t", "k")); err != nil || !ok || string(v) != "v" {
		t.Fatalf("after reload: Get = %q, %v, %v; want the value set before", v, ok, err)
	}
	if err := next.Cleanup(); err != nil {
		t.Fatal(err)
	}
	// Once no config holds it, the store is gone: a later config starts empty.
	fresh := provision(t, &App{})
	t.Cleanup(func() { _ = fresh.Cleanup() })
	if _, ok, err := fresh.Store().Get(ctx, store.Key("t", "k")); err != nil || ok {
		t.Fatalf("new store after the last release: found=%v err=%v, want empty", ok, err)
	}
}

func TestRedisStoreClosedWhenReleased(t *testing.T) {
	rs := testenv.Redis(t)
	ctx := context.Background()
	cfg := func() *StoreConfig {
		return &StoreConfig{Backend: "redis", Redis: &RedisConfig{URL: rs.URL(), Timeout: caddy.Duration(time.Second)}}
	}
	a := provision(t, &App{StoreConfig: cfg()})
	b := provision(t, &App{StoreConfig: cfg()})
	if err := a.Store().Set(ctx, store.Key("t", "k"), []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := a.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := b.Store().Get(ctx, store.Key("t", "k")); err != nil || !ok {
		t.Fatalf("shared client closed while still in use: found=%v err=%v", ok, err)
	}
	if err := b.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Store().Get(ctx, store.Key("t", "k")); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("after the last release: err = %v, want the client closed (ErrUnavailable)", err)
	}
}

func TestProvisionErrors(t *testing.T) {
	for name, a := range map[string]*App{
		"unknown backend":     {StoreConfig: &StoreConfig{Backend: "etcd"}},
		"redis without block": {StoreConfig: &StoreConfig{Backend: "redis"}},
		"redis two topologies": {StoreConfig: &StoreConfig{Backend: "redis", Redis: &RedisConfig{
			URL: "redis://127.0.0.1:1", ClusterAddrs: []string{"127.0.0.1:2"}}}},
		"redis bad url": {StoreConfig: &StoreConfig{Backend: "redis", Redis: &RedisConfig{URL: "http://user:hunter2@x"}}},
		"redis missing ca file": {StoreConfig: &StoreConfig{Backend: "redis", Redis: &RedisConfig{
			URL: "redis://127.0.0.1:1", TLS: &RedisTLS{CAFile: "/nonexistent/ca.pem"}}}},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			err := a.Provision(ctx)
			if err == nil {
				_ = a.Cleanup()
				t.Fatal("got no error")
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

// Each topology of the redis backend, provisioned from configuration and
// used for a real multi-zone decision (hash-tagged keys: one slot).
func TestRedisTopologies(t *testing.T) {
	tests := map[string]func(t *testing.T) *RedisConfig{
		"url": func(t *testing.T) *RedisConfig { return &RedisConfig{URL: testenv.Redis(t).URL()} },
		"sentinel": func(t *testing.T) *RedisConfig {
			s := testenv.RedisSentinel(t)
			return &RedisConfig{SentinelMaster: s.MasterName, SentinelAddrs: s.Addrs}
		},
		"cluster": func(t *testing.T) *RedisConfig { return &RedisConfig{ClusterAddrs: testenv.RedisCluster(t).Addrs} },
	}
	for name, cfg := range tests {
		t.Run(name, func(t *testing.T) {
			a := provision(t, &App{StoreConfig: &StoreConfig{Backend: "redis", Redis: cfg(t)}})
			t.Cleanup(func() { _ = a.Cleanup() })
			ctx := context.Background()
			if err := a.Store().Ping(ctx); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			reqs := []store.LimitRequest{
				{Key: store.Key("user_1", "rl", "user"), Rate: 10, Period: time.Minute, Burst: 2, Cost: 1},
				{Key: store.Key("user_1", "rl", "create"), Rate: 1, Period: time.Minute, Burst: 1, Cost: 1},
			}
			for i, want := range []bool{true, false} {
				res, err := a.Store().Limit(ctx, reqs)
				if err != nil {
					t.Fatalf("Limit #%d: %v", i+1, err)
				}
				if got := res[0].Allowed && res[1].Allowed; got != want {
					t.Fatalf("Limit #%d admitted = %v, want %v (%+v)", i+1, got, want, res)
				}
			}
		})
	}
}

// The rate-limit calls ride go-redis's automatic pipeliner unless
// auto_pipeline is off, and the client's reads and writes, which bound the
// pipeliner's batches, end with the store's per-call budget.
func TestRedisStoreOptions(t *testing.T) {
	for _, off := range []bool{false, true} {
		cfg, err := RedisConfig{URL: testenv.Redis(t).URL(), NoAutoPipeline: off}.resolve(caddy.NewReplacer())
		if err != nil {
			t.Fatal(err)
		}
		client, err := cfg.client()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = client.Close() })
		opts, err := cfg.storeOptions(client)
		if err != nil {
			t.Fatal(err)
		}
		if got := opts.AutoPipeliner != nil; got == off {
			t.Errorf("no_auto_pipeline %v: automatic pipeliner %v", off, got)
		}
		if o := client.(*redis.Client).Options(); o.ReadTimeout != 250*time.Millisecond || o.WriteTimeout != 250*time.Millisecond || opts.Timeout != 250*time.Millisecond {
			t.Errorf("read timeout %v, write timeout %v, store timeout %v; want the default budget, 250ms", o.ReadTimeout, o.WriteTimeout, opts.Timeout)
		}
	}
}
