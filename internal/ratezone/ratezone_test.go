package ratezone

import (
	"context"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/store"
)

func TestRegistry(t *testing.T) {
	failedEvents := map[string]bool{"payment_intent.payment_failed": true}
	oldStage, newStage := new(int), new(int)
	Register(oldStage, []Zone{{Name: "declines", Events: failedEvents}, {Name: "gone", Events: failedEvents}})
	t.Cleanup(func() { Unregister(oldStage); Unregister(newStage) })
	if got := len(ForEvent("payment_intent.payment_failed")); got != 2 {
		t.Fatalf("%d zones for the event, want 2", got)
	}
	if got := len(ForEvent("payment_intent.succeeded")); got != 0 {
		t.Fatalf("%d zones for another event, want 0", got)
	}
	// A reload: the new stage registers before the old one is cleaned up,
	// and the cleanup leaves the new stage's zones alone.
	Register(newStage, []Zone{{Name: "declines", KeyTemplate: "new", Events: failedEvents}})
	Unregister(oldStage)
	zs := ForEvent("payment_intent.payment_failed")
	if len(zs) != 1 || zs[0].KeyTemplate != "new" {
		t.Fatalf("after the reload: %+v, want the new stage's declines only", zs)
	}

	// A reload that fails: its stage registers, then is cleaned up while
	// the running one stays; the running one's zones must still count.
	failed := new(int)
	Register(failed, []Zone{{Name: "declines", KeyTemplate: "failed", Events: failedEvents}})
	t.Cleanup(func() { Unregister(failed) })
	Unregister(failed)
	zs = ForEvent("payment_intent.payment_failed")
	if len(zs) != 1 || zs[0].KeyTemplate != "new" {
		t.Fatalf("after a failed reload: %+v, want the running stage's declines", zs)
	}
}

// TestCount: a distinct zone counts a value once, whichever caller saw it
// first, and charges even a spent zone: an outcome that happened counts.
// It tells when the charge left the zone refusing (never a shadow zone).
func TestCount(t *testing.T) {
	s := store.NewMemory(time.Now)
	defer s.Close()
	ctx := context.Background()
	z := Zone{Name: "declines", Distinct: true, Limit: store.LimitRequest{Rate: 2, Period: time.Hour, Burst: 2}}
	for _, step := range []struct {
		value          string
		charged, spent bool
	}{{"ch_1", true, false}, {"ch_1", false, false}, {"ch_2", true, true}, {"ch_3", true, true}} {
		charged, spent, err := Count(ctx, s, z, "alice", step.value)
		if err != nil || charged != step.charged || spent != step.spent {
			t.Fatalf("Count(%s) = %v, %v, %v; want %v, %v", step.value, charged, spent, err, step.charged, step.spent)
		}
	}
	// A unit held by a request in flight is not spent: the first decline
	// next to it leaves the zone refusing only because of it.
	held := store.LimitRequest{Key: CounterKey("carol", "declines"), Rate: 2, Period: time.Hour, Burst: 2, Cost: 1, Hold: true}
	if _, err := s.Limit(ctx, []store.LimitRequest{held}); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		value string
		spent bool
	}{{"ch_1", false}, {"ch_2", true}} {
		if charged, spent, err := Count(ctx, s, z, "carol", step.value); err != nil || !charged || spent != step.spent {
			t.Fatalf("Count(%s) next to a held unit = %v, %v, %v; want charged, spent %v", step.value, charged, spent, err, step.spent)
		}
	}
	shadow := z
	shadow.Name, shadow.Shadow = "shadow_declines", true
	for _, value := range []string{"ch_1", "ch_2", "ch_3"} {
		if charged, spent, err := Count(ctx, s, shadow, "alice", value); err != nil || !charged || spent {
			t.Fatalf("shadow Count(%s) = %v, %v, %v; want charged, never spent", value, charged, spent, err)
		}
	}
	// Three declines charged in a zone of burst 2: it refuses until two
	// periods' worth has drained, not one.
	limit := z.Limit
	limit.Key, limit.Cost = CounterKey("alice", "declines"), 1
	if res, err := s.Limit(ctx, []store.LimitRequest{limit}); err != nil || res[0].Allowed || res[0].RetryAfter <= time.Hour/2 {
		t.Fatalf("after three declines: %+v, %v; want refused for more than one unit's interval", res, err)
	}
	// The stage's own bookkeeping uses the same keys: a value it marked is
	// not counted again here.
	if _, err := s.PutIfAbsent(ctx, SeenKey(CounterKey("bob", "declines"), "ch_9"), nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, _, err := Count(ctx, s, z, "bob", "ch_9"); err != nil || got {
		t.Fatalf("Count of a value the stage counted = %v, %v", got, err)
	}
}
