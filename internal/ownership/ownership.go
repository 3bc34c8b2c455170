// Package ownership is the ownership index: which user owns a Stripe object
// (payment intent pi_..., setup intent seti_..., payment method pm_...). The
// payment handler writes it when it creates or attaches an object for a
// user; the policy stage reads it to decide "users can only touch their own
// payment methods and intents". Records live in the shared store, one key
// per object, hash-tagged by the object ID.
package ownership

import (
	"context"
	"errors"
	"fmt"

	"github.com/paygate/paygate/internal/store"
)

// Key is the store key of objectID's owner record.
func Key(objectID string) string {
	return store.Key(objectID, "owner")
}

// Record stores that userID owns objectID. Records are kept until Erase: an
// intent or a saved card can be used for as long as Stripe keeps it.
func Record(ctx context.Context, s store.Store, objectID, userID string) error {
	if objectID == "" || userID == "" {
		return errors.New("ownership: empty object or user ID")
	}
	if err := s.Set(ctx, Key(objectID), []byte(userID), 0); err != nil {
		return fmt.Errorf("ownership: record %s: %w", objectID, err)
	}
	return nil
}

// Owner returns the user who owns objectID, and false when no one is
// recorded (the object does not exist, or is not ours).
func Owner(ctx context.Context, s store.Store, objectID string) (string, bool, error) {
	v, ok, err := s.Get(ctx, Key(objectID))
	if err != nil {
		return "", false, fmt.Errorf("ownership: owner of %s: %w", objectID, err)
	}
	return string(v), ok, nil
}

// Erase removes the owner records of objectIDs.
func Erase(ctx context.Context, s store.Store, objectIDs ...string) error {
	keys := make([]string, len(objectIDs))
	for i, id := range objectIDs {
		keys[i] = Key(id)
	}
	if err := s.Delete(ctx, keys...); err != nil {
		return fmt.Errorf("ownership: erase: %w", err)
	}
	return nil
}
