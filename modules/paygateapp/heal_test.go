package paygateapp

import (
	"context"
	"testing"

	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/ownership"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/testenv"
)

// resolverFunc is an ownership.Resolver for every pi_ ID.
type resolverFunc func(id string) (string, bool)

func (f resolverFunc) OwnerKind(string) string { return "payment_intent" }
func (f resolverFunc) ResolveOwner(_ context.Context, id string) (string, bool, error) {
	owner, ok := f(id)
	return owner, ok, nil
}

// Every backend carries one healer for as long as it lives: the config
// after a reload heals with the resolver registered on it, and the memory
// store heals too.
func TestStoreCarriesHealer(t *testing.T) {
	ctx := context.Background()
	old := provision(t, &App{})
	hl := ownership.HealerOf(old.Store())
	if hl == nil {
		t.Fatal("the memory store carries no healer")
	}
	unregister := hl.Register(resolverFunc(func(string) (string, bool) { return "alice", true }))
	defer unregister()
	next := provision(t, &App{StoreConfig: &StoreConfig{Backend: "memory"}})
	if ownership.HealerOf(next.Store()) != hl {
		t.Error("a reload with the same store got another healer")
	}
	if owner, ok, err := ownership.Owner(ctx, next.Store(), "pi_lost"); err != nil || !ok || owner != "alice" {
		t.Errorf("Owner = %q, %v, %v; want alice, healed", owner, ok, err)
	}
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if err := next.Cleanup(); err != nil {
		t.Fatal(err)
	}

	rs := testenv.Redis(t)
	cfg := &App{StoreConfig: &StoreConfig{Backend: "redis", Redis: &RedisConfig{URL: rs.URL()}}}
	r := provision(t, cfg)
	defer r.Cleanup()
	if ownership.HealerOf(r.Store()) == nil {
		t.Error("the redis store carries no healer")
	}
}

// OpenStore opens the configured backend outside Caddy, as paygate reindex
// does, through Caddy's module registry.
func TestOpenStore(t *testing.T) {
	rs := testenv.Redis(t)
	s, backend, err := store.Open([]byte(`{"store":{"backend":"redis","redis":{"url":"`+rs.URL()+`"}}}`), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if backend != "redis" {
		t.Errorf("backend = %q, want redis", backend)
	}
	if err := s.Set(context.Background(), store.Key("t", "k"), []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if v, err := rs.Client(t).Get(context.Background(), "paygate:{t}:k").Result(); err != nil || v != "v" {
		t.Errorf("the value in Redis = %q, %v; want v under the default prefix", v, err)
	}
	m, backend, err := store.Open(nil, zap.NewNop())
	if err != nil || backend != "memory" {
		t.Fatalf("defaults: backend %q, %v; want memory", backend, err)
	}
	m.Close()
	if _, _, err := store.Open([]byte(`{"store":{"backend":"etcd"}}`), zap.NewNop()); err == nil {
		t.Error("an unknown backend opened")
	}
}
