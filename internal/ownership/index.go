package ownership

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/paygate/paygate/internal/store"
)

// Each user has an index of the objects recorded as theirs, so that the
// right to deletion finds every record, also those of objects Stripe no
// longer links to the user's customer (a payment method named when an
// intent was created and replaced when it was confirmed). The index is
// written before the record it names (the two keys have different hash
// tags, so no store call can write both): a record never exists without
// its index entry. The index may name objects whose records are gone (a
// detached card) or that another user owns (an event's claim that lost);
// whoever reads it checks each record. Like the records, it is kept until
// the user is erased.

// indexKey is the store key of userID's index, tagged by a digest of the
// user: no store key holds a user ID (which may be personal data).
func indexKey(userID string) string {
	return store.Key(store.Digest(userID), "owned")
}

// ownedList is the index's record. Version is also the record's rank in
// the store (see index).
type ownedList struct {
	Version int64    `json:"version"`
	IDs     []string `json:"ids"`
}

func readIndex(ctx context.Context, s store.Store, userID string) (ownedList, error) {
	var l ownedList
	v, ok, err := s.Get(ctx, indexKey(userID))
	if err != nil || !ok {
		return l, err
	}
	if err := json.Unmarshal(v, &l); err != nil {
		return l, fmt.Errorf("ownership: a user's index: %w", err)
	}
	return l, nil
}

// index adds objectID to userID's index. The store has no sets: the index
// is one ranked record whose rank is its version, and SetIfHigher with
// the next version is a compare-and-set (an equal rank never replaces).
// Of concurrent writers of one version one stores it and the others read
// again, so no entry is lost.
func index(ctx context.Context, s store.Store, objectID, userID string) error {
	for {
		l, err := readIndex(ctx, s, userID)
		if err != nil {
			return err
		}
		if slices.Contains(l.IDs, objectID) {
			return nil
		}
		l.Version++
		l.IDs = append(l.IDs, objectID)
		b, err := json.Marshal(l)
		if err != nil {
			return err
		}
		stored, err := s.SetIfHigher(ctx, indexKey(userID), l.Version, b, 0)
		if err != nil || stored {
			return err
		}
	}
}

// OwnedBy returns those of objectIDs, and of the objects in userID's
// index, that are recorded as userID's, each once: what the right to
// deletion erases. objectIDs are the user's objects known elsewhere (on
// Stripe), which covers records written before the index existed.
func OwnedBy(ctx context.Context, s store.Store, userID string, objectIDs []string) ([]string, error) {
	l, err := readIndex(ctx, s, userID)
	if err != nil {
		return nil, fmt.Errorf("ownership: objects of a user: %w", err)
	}
	var owned []string
	seen := map[string]bool{}
	for _, id := range append(slices.Clone(objectIDs), l.IDs...) {
		if seen[id] {
			continue
		}
		seen[id] = true
		owner, ok, err := RecordedOwner(ctx, s, id)
		if err != nil {
			return nil, err
		}
		if ok && owner == userID {
			owned = append(owned, id)
		}
	}
	return owned, nil
}

// EraseIndex removes userID's index, once the records it names are
// erased (Erase): until then a failed erasure finds them again.
func EraseIndex(ctx context.Context, s store.Store, userID string) error {
	if err := s.Delete(ctx, indexKey(userID)); err != nil {
		return fmt.Errorf("ownership: erase a user's index: %w", err)
	}
	return nil
}
