package ownership

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/store"
)

// fakeResolver answers from a map of owners; anything else is not found.
type fakeResolver struct {
	owners map[string]string
	err    error
	calls  atomic.Int64
	// gate, when set, holds every lookup until it is closed.
	gate chan struct{}
}

func (f *fakeResolver) OwnerKind(id string) string {
	if len(id) > 3 && id[:3] == "pi_" {
		return "payment_intent"
	}
	return ""
}

func (f *fakeResolver) ResolveOwner(ctx context.Context, id string) (string, bool, error) {
	f.calls.Add(1)
	if f.gate != nil {
		<-f.gate
	}
	if f.err != nil {
		return "", false, f.err
	}
	owner, ok := f.owners[id]
	return owner, ok, nil
}

// healingStore is a memory store carrying a healer, as the paygate app's
// store does.
type healingStore struct {
	store.Store
	healer *Healer
}

func (s healingStore) OwnerHealer() *Healer { return s.healer }

// newHealing returns a healing memory store whose healer reads the time
// the test sets in *clock (tests move it from their own goroutine only).
func newHealing(t *testing.T, r *fakeResolver) (healingStore, *time.Time) {
	t.Helper()
	clock := time.Unix(1_700_000_000, 0)
	now := func() time.Time { return clock }
	s := healingStore{Store: store.NewMemory(now), healer: NewHealer(now, zap.NewNop())}
	t.Cleanup(func() { s.Close() })
	if r != nil {
		s.healer.Register(r)
	}
	return s, &clock
}

// A lost record is looked up once and recorded again; the next lookup is
// the store's.
func TestOwnerHealsAndRecordsAgain(t *testing.T) {
	ctx := context.Background()
	r := &fakeResolver{owners: map[string]string{"pi_1": "alice"}}
	s, _ := newHealing(t, r)
	for range 3 {
		owner, ok, err := Owner(ctx, s, "pi_1")
		if err != nil || !ok || owner != "alice" {
			t.Fatalf("Owner(pi_1) = %q, %v, %v; want alice", owner, ok, err)
		}
	}
	if n := r.calls.Load(); n != 1 {
		t.Errorf("resolver called %d times, want 1", n)
	}
	if v, ok, _ := s.Get(ctx, Key("pi_1")); !ok || string(v) != "alice" {
		t.Errorf("record after the heal = %q, %v; want alice", v, ok)
	}
}

// A record in the store is never replaced by what the resolver says, and
// is read without asking it.
func TestOwnerStoreFirst(t *testing.T) {
	ctx := context.Background()
	r := &fakeResolver{owners: map[string]string{"pi_1": "alice"}}
	s, _ := newHealing(t, r)
	if err := Record(ctx, s, "pi_1", "bob"); err != nil {
		t.Fatal(err)
	}
	if owner, _, _ := Owner(ctx, s, "pi_1"); owner != "bob" {
		t.Errorf("owner = %q, want the recorded bob", owner)
	}
	if n := r.calls.Load(); n != 0 {
		t.Errorf("resolver called %d times for a recorded object, want 0", n)
	}
}

// "Not found" is remembered for NegativeTTL, then asked again.
func TestOwnerNegativeCache(t *testing.T) {
	ctx := context.Background()
	r := &fakeResolver{}
	s, clock := newHealing(t, r)
	for range 5 {
		if _, ok, err := Owner(ctx, s, "pi_other"); ok || err != nil {
			t.Fatalf("Owner of a foreign object: ok=%v err=%v, want not found", ok, err)
		}
	}
	if n := r.calls.Load(); n != 1 {
		t.Errorf("resolver called %d times within the TTL, want 1", n)
	}
	*clock = clock.Add(NegativeTTL)
	if _, ok, _ := Owner(ctx, s, "pi_other"); ok {
		t.Fatal("found after the TTL")
	}
	if n := r.calls.Load(); n != 2 {
		t.Errorf("resolver called %d times after the TTL, want 2", n)
	}
}

// Lookups beyond the budget are not found (KnownOwner: not known), not
// remembered, and cost nothing; the budget refills with time.
func TestOwnerBudget(t *testing.T) {
	ctx := context.Background()
	r := &fakeResolver{owners: map[string]string{"pi_mine": "alice"}}
	s, clock := newHealing(t, r)
	for i := range HealBurst + 10 {
		if _, ok, err := Owner(ctx, s, fmt.Sprintf("pi_random%d", i)); ok || err != nil {
			t.Fatalf("random ID: ok=%v err=%v", ok, err)
		}
	}
	if n := r.calls.Load(); n != HealBurst {
		t.Errorf("resolver called %d times for %d random IDs, want the burst %d", n, HealBurst+10, HealBurst)
	}
	if _, ok, _ := Owner(ctx, s, "pi_mine"); ok {
		t.Error("over budget: found, want not found")
	}
	if _, ok, err := KnownOwner(ctx, s, "pi_mine"); ok || !errors.Is(err, ErrOverBudget) {
		t.Errorf("KnownOwner over budget: ok=%v err=%v, want ErrOverBudget", ok, err)
	}
	*clock = clock.Add(time.Second)
	if owner, ok, _ := Owner(ctx, s, "pi_mine"); !ok || owner != "alice" {
		t.Errorf("after a refill: %q, %v; want alice (an over-budget miss is not remembered)", owner, ok)
	}
}

// A failed lookup is an error (the owner cannot be told), and is not
// remembered as "not found".
func TestOwnerResolverError(t *testing.T) {
	ctx := context.Background()
	r := &fakeResolver{err: errors.New("stripe: 503")}
	s, _ := newHealing(t, r)
	if _, _, err := Owner(ctx, s, "pi_1"); err == nil {
		t.Fatal("no error from a failed lookup")
	}
	r.err = nil
	r.owners = map[string]string{"pi_1": "alice"}
	if owner, ok, err := Owner(ctx, s, "pi_1"); err != nil || !ok || owner != "alice" {
		t.Errorf("after the failure: %q, %v, %v; want alice", owner, ok, err)
	}
}

// IDs the resolver does not look up cost nothing; without a resolver, or
// after it is unregistered, nothing is looked up.
func TestOwnerNoLookup(t *testing.T) {
	ctx := context.Background()
	r := &fakeResolver{owners: map[string]string{"pi_1": "alice", "xx_1": "alice"}}
	s, _ := newHealing(t, nil)
	if _, ok, _ := Owner(ctx, s, "pi_1"); ok {
		t.Error("found without a resolver")
	}
	unregister := s.healer.Register(r)
	if _, ok, _ := Owner(ctx, s, "xx_1"); ok || r.calls.Load() != 0 {
		t.Errorf("an ID of no kind: found=%v, %d calls; want not found, 0 calls", ok, r.calls.Load())
	}
	unregister()
	if _, ok, _ := Owner(ctx, s, "pi_1"); ok || r.calls.Load() != 0 {
		t.Errorf("after unregistering: found=%v, %d calls", ok, r.calls.Load())
	}
}

// The newest registration still in place resolves; unregistering an old
// one (the old config's Cleanup after a reload) leaves the new one.
func TestRegisterNewestWins(t *testing.T) {
	ctx := context.Background()
	oldR := &fakeResolver{owners: map[string]string{"pi_1": "old"}}
	newR := &fakeResolver{owners: map[string]string{"pi_1": "new", "pi_2": "new"}}
	s, _ := newHealing(t, nil)
	unregisterOld := s.healer.Register(oldR)
	unregisterNew := s.healer.Register(newR)
	unregisterOld()
	if owner, _, _ := Owner(ctx, s, "pi_1"); owner != "new" {
		t.Errorf("owner = %q, want the newest resolver's", owner)
	}
	unregisterNew()
	if _, ok, _ := Owner(ctx, s, "pi_2"); ok {
		t.Error("found with every resolver unregistered")
	}
}

// Concurrent lookups of one object make one call: with every goroutine
// blocked (synctest.Wait), the one call holds the others.
func TestOwnerSingleFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		r := &fakeResolver{owners: map[string]string{"pi_1": "alice"}, gate: make(chan struct{})}
		s, _ := newHealing(t, r)
		var wg sync.WaitGroup
		errs := make(chan error, 10)
		for range 10 {
			wg.Go(func() {
				if owner, ok, err := Owner(ctx, s, "pi_1"); err != nil || !ok || owner != "alice" {
					errs <- fmt.Errorf("Owner = %q, %v, %v", owner, ok, err)
				}
			})
		}
		synctest.Wait()
		if n := r.calls.Load(); n != 1 {
			t.Errorf("resolver called %d times by 10 concurrent lookups, want 1", n)
		}
		close(r.gate)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}
