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
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/ttlcache"
)

// CacheTTL is how long a replica remembers an owner it read or wrote, so
// that a client reading its own object again (polling an intent's status)
// costs no store round trip. An owner is never moved to another user
// (Record writes objects Stripe just created, Claim never overwrites), so a
// remembered owner can only be out of date after an Erase by another
// replica, for at most CacheTTL; an Erase clears this replica's memory at
// once. An absent owner is never remembered: an object created through
// another replica is found at once.
const CacheTTL = 2 * time.Second

// cacheSize bounds the owners a Cache remembers.
const cacheSize = 10000

// Cache is a replica's memory of owners for one shared store.
type Cache struct {
	owners *ttlcache.Cache[string]
	now    func() time.Time
}

// NewCache returns an empty cache reading time from now.
func NewCache(now func() time.Time) *Cache {
	return &Cache{owners: ttlcache.New[string](CacheTTL, cacheSize), now: now}
}

// Cached is a store that carries a Cache of its owners (the shared store
// paygate's app hands out). The index reads and writes through it; other
// stores are read every time.
type Cached interface {
	OwnerCache() *Cache
}

// cacheOf returns s's owner cache, or nil.
func cacheOf(s store.Store) *Cache {
	if c, ok := s.(Cached); ok {
		return c.OwnerCache()
	}
	return nil
}

func (c *Cache) remember(objectID, userID string) {
	if c != nil {
		c.owners.Put(objectID, userID, c.now())
	}
}

func (c *Cache) forget(objectID string) {
	if c != nil {
		c.owners.Delete(objectID)
	}
}

func (c *Cache) lookup(objectID string) (string, bool) {
	if c == nil {
		return "", false
	}
	return c.owners.Get(objectID, c.now())
}

// Key is the store key of objectID's owner record.
func Key(objectID string) string {
	return store.Key(objectID, "owner")
}

// Record stores that userID owns objectID, in the user's index first (see
// index.go). Records are kept until Erase: an intent or a saved card can
// be used for as long as Stripe keeps it.
func Record(ctx context.Context, s store.Store, objectID, userID string) error {
	if objectID == "" || userID == "" {
		return errors.New("ownership: empty object or user ID")
	}
	if err := index(ctx, s, objectID, userID); err != nil {
		return fmt.Errorf("ownership: record %s: %w", objectID, err)
	}
	if err := s.Set(ctx, Key(objectID), []byte(userID), 0); err != nil {
		return fmt.Errorf("ownership: record %s: %w", objectID, err)
	}
	cacheOf(s).remember(objectID, userID)
	return nil
}

// Claim records that userID owns objectID unless another user is recorded
// already, and reports whether userID owns it after the call: a record is
// never moved from one user to another. It is how what a Stripe event says
// about ownership is recorded (events are hints; the record written when
// the object was created for its user stands).
func Claim(ctx context.Context, s store.Store, objectID, userID string) (bool, error) {
	_, owner, err := RecordIfAbsent(ctx, s, objectID, userID)
	return err == nil && owner == userID, err
}

// RecordIfAbsent records that userID owns objectID unless someone is
// recorded already, and returns whether it recorded and the owner recorded
// after the call ("" when the record was erased in between). It never
// looks up what the store lacks: it is how owners found outside the store
// (a heal, paygate reindex) are written back.
func RecordIfAbsent(ctx context.Context, s store.Store, objectID, userID string) (bool, string, error) {
	if objectID == "" || userID == "" {
		return false, "", errors.New("ownership: empty object or user ID")
	}
	if err := index(ctx, s, objectID, userID); err != nil {
		return false, "", fmt.Errorf("ownership: record %s: %w", objectID, err)
	}
	stored, err := s.PutIfAbsent(ctx, Key(objectID), []byte(userID), 0)
	if err != nil {
		return false, "", fmt.Errorf("ownership: record %s: %w", objectID, err)
	}
	if stored {
		cacheOf(s).remember(objectID, userID)
		return true, userID, nil
	}
	v, _, err := s.Get(ctx, Key(objectID))
	if err != nil {
		return false, "", fmt.Errorf("ownership: owner of %s: %w", objectID, err)
	}
	return false, string(v), nil
}

// Owner returns the user who owns objectID, and false when no one is
// recorded (the object does not exist, or is not ours). When the store
// holds no record and carries a Healer with a resolver (see heal.go), the
// owner is looked up where paygate wrote it on Stripe and recorded again,
// so that a store that lost its data heals on use; an error of that
// lookup is returned like the store's (the owner cannot be told).
// Over the healer's budget the owner is "not found" (see ErrOverBudget).
func Owner(ctx context.Context, s store.Store, objectID string) (string, bool, error) {
	owner, ok, err := KnownOwner(ctx, s, objectID)
	if errors.Is(err, ErrOverBudget) {
		return "", false, nil
	}
	return owner, ok, err
}

// KnownOwner is Owner for a caller that must not take an owner it could
// not look up for "not found": over the healer's budget it returns
// ErrOverBudget. "Not found" then means that neither the store nor
// Stripe knows an owner. The event processor uses it: an event about an
// object whose owner is unknown for now is answered with a failure, which
// Stripe retries, instead of being acknowledged as not paygate's.
func KnownOwner(ctx context.Context, s store.Store, objectID string) (string, bool, error) {
	owner, ok, err := RecordedOwner(ctx, s, objectID)
	if err != nil || ok {
		return owner, ok, err
	}
	return HealerOf(s).heal(ctx, s, objectID)
}

// RecordedOwner is Owner without healing: what the store (or this
// replica's memory of it) records, for callers about to erase records,
// which need not look up what is not there.
func RecordedOwner(ctx context.Context, s store.Store, objectID string) (string, bool, error) {
	c := cacheOf(s)
	if owner, ok := c.lookup(objectID); ok {
		return owner, true, nil
	}
	v, ok, err := s.Get(ctx, Key(objectID))
	if err != nil {
		return "", false, fmt.Errorf("ownership: owner of %s: %w", objectID, err)
	}
	if ok {
		c.remember(objectID, string(v))
	}
	return string(v), ok, nil
}

// answer is a remembered Owner result. Its type is unexported, so nothing
// outside this package (a client, or a vars directive) can plant one.
type answer struct {
	owner string
	found bool
}

// varKey is the Caddy request variable that remembers objectID's owner.
func varKey(objectID string) string { return "paygate.ownership." + objectID }

// OwnerForRequest is Owner, remembered for the rest of the request that ctx
// belongs to: the policy stage and the payment handler both check the owner
// of the object a request addresses, and the second check costs no store
// round trip. Outside a Caddy request it is Owner.
func OwnerForRequest(ctx context.Context, s store.Store, objectID string) (string, bool, error) {
	if a, ok := caddyhttp.GetVar(ctx, varKey(objectID)).(answer); ok {
		return a.owner, a.found, nil
	}
	owner, found, err := Owner(ctx, s, objectID)
	if err == nil {
		caddyhttp.SetVar(ctx, varKey(objectID), answer{owner: owner, found: found})
	}
	return owner, found, err
}

// grant is the request variable a policy stage sets when it allowed the
// request on an object whoever owns it. Its type is unexported, so nothing
// outside this package can plant one.
type grant struct{}

// grantKey is the Caddy request variable of a policy grant for objectID.
func grantKey(objectID string) string { return "paygate.ownership.grant." + objectID }

// GrantForRequest records that the policy allowed the request that ctx
// belongs to on objectID, whoever owns it (the support role's read): the
// payment handler, which otherwise serves owners only, honours it on reads.
func GrantForRequest(ctx context.Context, objectID string) {
	caddyhttp.SetVar(ctx, grantKey(objectID), grant{})
}

// GrantedForRequest reports whether a policy stage granted the request that
// ctx belongs to on objectID.
func GrantedForRequest(ctx context.Context, objectID string) bool {
	_, ok := caddyhttp.GetVar(ctx, grantKey(objectID)).(grant)
	return ok
}

// Erase removes the owner records of objectIDs.
func Erase(ctx context.Context, s store.Store, objectIDs ...string) error {
	c := cacheOf(s)
	keys := make([]string, len(objectIDs))
	for i, id := range objectIDs {
		keys[i] = Key(id)
		c.forget(id)
	}
	if err := s.Delete(ctx, keys...); err != nil {
		return fmt.Errorf("ownership: erase: %w", err)
	}
	return nil
}
