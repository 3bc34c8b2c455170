package ownership

import (
	"context"
	"testing"
	"time"

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
