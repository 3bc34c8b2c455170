package ownership

import (
	"context"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/store"
)

func TestRecordOwnerErase(t *testing.T) {
	ctx := context.Background()
	s := store.NewMemory(time.Now)
	defer s.Close()

	if _, ok, err := Owner(ctx, s, "pi_1"); err != nil || ok {
		t.Fatalf("Owner of an unknown object: ok=%v err=%v, want not found", ok, err)
	}
	for id, user := range map[string]string{"pi_1": "user_a", "pm_2": "user_b"} {
		if err := Record(ctx, s, id, user); err != nil {
			t.Fatal(err)
		}
	}
	if got, ok, err := Owner(ctx, s, "pi_1"); err != nil || !ok || got != "user_a" {
		t.Fatalf("Owner(pi_1) = %q, %v, %v; want user_a", got, ok, err)
	}
	if err := Erase(ctx, s, "pi_1", "pm_2", "pm_never"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"pi_1", "pm_2"} {
		if _, ok, _ := Owner(ctx, s, id); ok {
			t.Errorf("%s still has an owner after Erase", id)
		}
	}
	if err := Record(ctx, s, "", "user_a"); err == nil {
		t.Error("Record with an empty object ID: got no error")
	}
}

func TestKeyIsTaggedByObject(t *testing.T) {
	if got := store.HashTag(Key("pi_123")); got != "pi_123" {
		t.Errorf("hash tag = %q, want the object ID", got)
	}
}

// The second lookup of an object within one request is answered from the
// request, not the store; another request asks the store again.
func TestOwnerForRequest(t *testing.T) {
	s := store.NewMemory(time.Now)
	defer s.Close()
	background := context.Background()
	if err := Record(background, s, "pi_1", "user_a"); err != nil {
		t.Fatal(err)
	}
	request := func() context.Context {
		return context.WithValue(background, caddyhttp.VarsCtxKey, map[string]any{})
	}

	ctx := request()
	if got, ok, err := OwnerForRequest(ctx, s, "pi_1"); err != nil || !ok || got != "user_a" {
		t.Fatalf("first lookup = %q, %v, %v; want user_a", got, ok, err)
	}
	if _, ok, err := OwnerForRequest(ctx, s, "pi_2"); err != nil || ok {
		t.Fatalf("unknown object: found=%v err=%v", ok, err)
	}
	// The store changes: this request keeps its answers, a new one sees the change.
	if err := Erase(background, s, "pi_1"); err != nil {
		t.Fatal(err)
	}
	if err := Record(background, s, "pi_2", "user_b"); err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := OwnerForRequest(ctx, s, "pi_1"); !ok || got != "user_a" {
		t.Errorf("same request, pi_1 = %q, %v; want the remembered user_a", got, ok)
	}
	if _, ok, _ := OwnerForRequest(ctx, s, "pi_2"); ok {
		t.Error("same request, pi_2: want the remembered 'not found'")
	}
	if _, ok, _ := OwnerForRequest(request(), s, "pi_1"); ok {
		t.Error("new request, pi_1: found the erased record")
	}
	// A value of another type under the key (a vars directive) is not an answer.
	planted := request()
	caddyhttp.SetVar(planted, varKey("pi_2"), "user_a")
	if got, _, _ := OwnerForRequest(planted, s, "pi_2"); got != "user_b" {
		t.Errorf("planted var: owner = %q, want the store's user_b", got)
	}
}

// TestGrantForRequest: a grant holds for its object within its request only,
// and a vars entry of any other type under its name is no grant.
func TestGrantForRequest(t *testing.T) {
	vars := map[string]any{}
	ctx := context.WithValue(context.Background(), caddyhttp.VarsCtxKey, vars)
	if GrantedForRequest(ctx, "pi_1") {
		t.Fatal("granted before any grant")
	}
	GrantForRequest(ctx, "pi_1")
	if !GrantedForRequest(ctx, "pi_1") || GrantedForRequest(ctx, "pi_2") {
		t.Error("the grant is not for pi_1 alone")
	}
	other := context.WithValue(context.Background(), caddyhttp.VarsCtxKey, map[string]any{})
	if GrantedForRequest(other, "pi_1") {
		t.Error("a grant crossed into another request")
	}
	// What a `vars` directive could plant: a string under the same name.
	planted := map[string]any{grantKey("pi_9"): "true"}
	if GrantedForRequest(context.WithValue(context.Background(), caddyhttp.VarsCtxKey, planted), "pi_9") {
		t.Error("a planted string counts as a grant")
	}
}

// cachedStore is a shared store with an owner cache, counting its reads.
type cachedStore struct {
	store.Store
	owners *Cache
	gets   int
}

func (s *cachedStore) OwnerCache() *Cache { return s.owners }

func (s *cachedStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	s.gets++
	return s.Store.Get(ctx, key)
}

// TestCache: a replica reads an owner from the store once per CacheTTL,
// never remembers an absent one, and forgets an erased one at once.
func TestCache(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	mem := store.NewMemory(time.Now)
	t.Cleanup(func() { _ = mem.Close() })
	s := &cachedStore{Store: mem, owners: NewCache(func() time.Time { return now })}
	other := &cachedStore{Store: mem, owners: NewCache(func() time.Time { return now })}

	// Absent: read every time, so that an object another replica creates
	// is found at once.
	for range 2 {
		if _, ok, err := Owner(ctx, s, "pi_1"); err != nil || ok {
			t.Fatalf("Owner of an unknown object: %v, %v", ok, err)
		}
	}
	if err := Record(ctx, other, "pi_1", "alice"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if owner, ok, err := Owner(ctx, s, "pi_1"); err != nil || !ok || owner != "alice" {
			t.Fatalf("Owner = %q, %v, %v", owner, ok, err)
		}
	}
	if s.gets != 3 {
		t.Errorf("%d store reads, want 3 (two misses, then one read for three lookups)", s.gets)
	}

	// An erasure by this replica is seen at once; one by another replica
	// within CacheTTL.
	if err := Erase(ctx, s, "pi_1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := Owner(ctx, s, "pi_1"); ok {
		t.Error("the erasing replica still sees the owner")
	}
	if err := Record(ctx, s, "pi_2", "bob"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Owner(ctx, other, "pi_2"); err != nil {
		t.Fatal(err)
	}
	if err := Erase(ctx, s, "pi_2"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := Owner(ctx, other, "pi_2"); !ok {
		t.Error("another replica forgot before CacheTTL (the test's premise changed)")
	}
	now = now.Add(CacheTTL)
	if _, ok, _ := Owner(ctx, other, "pi_2"); ok {
		t.Error("another replica still sees an erased owner after CacheTTL")
	}

	// Claim remembers the owner it stored.
	if _, err := Claim(ctx, s, "pm_1", "carol"); err != nil {
		t.Fatal(err)
	}
	gets := s.gets
	if owner, _, _ := Owner(ctx, s, "pm_1"); owner != "carol" || s.gets != gets {
		t.Errorf("after Claim: owner %q, %d more reads", owner, s.gets-gets)
	}
}
