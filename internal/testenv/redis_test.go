package testenv

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestRedis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := Redis(t)

	opts, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatalf("ParseURL(%q): %v", srv.URL(), err)
	}
	if opts.Network != "unix" || opts.Addr != srv.Socket {
		t.Errorf("ParseURL(%q) = %s %s, want unix %s", srv.URL(), opts.Network, opts.Addr, srv.Socket)
	}
	c := srv.Client(t)
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := c.Get(ctx, "k").Result(); got != "v" || err != nil {
		t.Errorf("GET = %q, %v; want v", got, err)
	}
	if got, err := c.ConfigGet(ctx, "port").Result(); err != nil || got["port"] != "0" {
		t.Errorf("CONFIG GET port = %v, %v; want 0 (no TCP listener)", got, err)
	}

	srv.Stop()
	srv.Stop()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Error("PING after Stop succeeded")
	}

	// Restarted, it answers on the same socket, empty.
	srv.Restart()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}
	if n, err := c.Exists(ctx, "k").Result(); n != 0 || err != nil {
		t.Errorf("EXISTS k after Restart = %d, %v; want 0", n, err)
	}
}

func TestRedisCluster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := RedisCluster(t)
	if len(cl.Addrs) != 3 {
		t.Fatalf("Addrs = %v, want 3 masters", cl.Addrs)
	}
	c := cl.Client(t)

	// Keys spread over the slots reach every master.
	for i := range 30 {
		if err := c.Set(ctx, fmt.Sprintf("key-%d", i), i, 0).Err(); err != nil {
			t.Fatalf("SET key-%d: %v", i, err)
		}
	}
	var (
		mu            sync.Mutex
		masters, keys int64
	)
	err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		n, err := m.DBSize(ctx).Result()
		if err == nil && n == 0 {
			err = fmt.Errorf("master %s holds no key", m.Options().Addr)
		}
		mu.Lock()
		defer mu.Unlock()
		masters++
		keys += n
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if masters != 3 || keys != 30 {
		t.Errorf("masters, keys = %d, %d; want 3, 30", masters, keys)
	}
}
