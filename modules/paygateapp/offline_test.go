package paygateapp

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/paygate/paygate/internal/offline"
	"github.com/paygate/paygate/internal/testenv"
)

// connCounter listens on loopback and counts the connections made to it.
func connCounter(t *testing.T) (addr string, conns *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	conns = new(atomic.Int32)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			_ = c.Close()
		}
	}()
	return ln.Addr().String(), conns
}

// TestOfflineValidation: in offline validation the Redis store's settings
// are checked as for a server but Redis is not reached (the start-up check
// of its eviction policy is skipped); the same store online is reached at
// once. An app provisioned offline refuses to start.
func TestOfflineValidation(t *testing.T) {
	offlineAddr, offlineConns := connCounter(t)
	onlineAddr, onlineConns := connCounter(t)
	redisApp := func(rc *RedisConfig) *App {
		return &App{StoreConfig: &StoreConfig{Backend: "redis", Redis: rc}}
	}
	disable := offline.Enable()
	t.Cleanup(disable)

	// Offline is not "skip validation": what a server refuses, it refuses.
	for _, tc := range []struct {
		app  *App
		want string
	}{
		{redisApp(&RedisConfig{URL: "http://user:hunter2@x"}), "invalid redis url"},
		{redisApp(&RedisConfig{URL: "redis://" + offlineAddr, TLS: &RedisTLS{CAFile: "/nonexistent/ca.pem"}}), "ca_file"},
		{redisApp(&RedisConfig{URL: "redis://" + offlineAddr, ClusterAddrs: []string{offlineAddr}}), "exactly one of"},
	} {
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		if err := tc.app.Provision(ctx); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("offline: err = %v, want one containing %q", err, tc.want)
		}
		cancel()
	}

	a := provision(t, redisApp(&RedisConfig{URL: "redis://" + offlineAddr + "/0"}))
	t.Cleanup(func() { _ = a.Cleanup() })
	if err := a.Start(); err == nil {
		_ = a.Stop()
		t.Error("an app provisioned for offline validation started")
	}
	disable()

	b := provision(t, redisApp(&RedisConfig{URL: "redis://" + onlineAddr + "/0"}))
	t.Cleanup(func() { _ = b.Cleanup() })
	testenv.Eventually(t, "the online store's eviction-policy check", func() bool { return onlineConns.Load() > 0 })
	// The offline store was provisioned first: a connection of its own
	// would have come by now.
	if n := offlineConns.Load(); n != 0 {
		t.Errorf("Redis was reached %d times in offline validation, want never", n)
	}
}
