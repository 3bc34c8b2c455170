package ownership

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/store"
)

// Every object recorded as a user's is in the user's index, also when the
// user's records are written concurrently; OwnedBy keeps only what is
// still recorded as the user's, and EraseIndex leaves nothing.
func TestIndexOfAUsersObjects(t *testing.T) {
	ctx := context.Background()
	s := store.NewMemory(time.Now)
	defer s.Close()

	var want []string
	var wg sync.WaitGroup
	for i := range 50 {
		id := fmt.Sprintf("pi_%02d", i)
		want = append(want, id)
		wg.Go(func() {
			if err := Record(ctx, s, id, "alice"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := Record(ctx, s, "pm_bobs", "bob"); err != nil {
		t.Fatal(err)
	}
	// A claim of bob's card for alice loses, an erased card is not hers
	// any more: both stay in her index, and OwnedBy leaves them out.
	if _, err := Claim(ctx, s, "pm_bobs", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := Record(ctx, s, "pm_detached", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := Erase(ctx, s, "pm_detached"); err != nil {
		t.Fatal(err)
	}

	got, err := OwnedBy(ctx, s, "alice", []string{"pi_00", "pi_unknown"})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("OwnedBy(alice) = %v, want %v", got, want)
	}
	if err := EraseIndex(ctx, s, "alice"); err != nil {
		t.Fatal(err)
	}
	// The records are still there, but nothing names them any more.
	if got, err := OwnedBy(ctx, s, "alice", nil); err != nil || len(got) != 0 {
		t.Errorf("OwnedBy after EraseIndex = %v, %v; want nothing", got, err)
	}
}

// A user's index is keyed by a hash of the user, never the user ID.
func TestIndexKeyHidesTheUser(t *testing.T) {
	k := indexKey("alice@example.com")
	if strings.Contains(k, "alice") || store.HashTag(k) != store.Digest("alice@example.com") {
		t.Errorf("index key %q names the user or is not tagged by the user's digest", k)
	}
	if indexKey("alice") == indexKey("bob") {
		t.Error("two users share an index")
	}
}
