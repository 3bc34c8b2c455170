package ownership

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/ttlcache"
)

// Bounds of healing: what a replica spends on looking up, outside the
// store, what the store has lost.
const (
	// HealRate and HealBurst are a replica's budget of lookups (one Stripe
	// call each): an authenticated client probing random IDs spends this
	// budget, never Stripe's rate limit. A lookup over budget is answered
	// "not found" (and not remembered as such).
	HealRate  = 5
	HealBurst = 20
	// HealTimeout bounds one lookup. The lookup does not end with the
	// request that asked first: others may be waiting for its answer.
	HealTimeout = 5 * time.Second
	// NegativeTTL is how long a replica remembers that a lookup found
	// nothing (no such object, or not paygate's), so that asking again
	// costs no call; an object created since is found in the store first.
	NegativeTTL = 30 * time.Second
	// negativeSize bounds the answers remembered as "not found".
	negativeSize = 10000
)

// Outcomes of a heal, the values of paygate_ownership_heal_total's outcome
// label.
const (
	HealHealed   = "healed"
	HealConflict = "conflict"
	HealNotFound = "not_found"
	// HealCachedNotFound: "not found" remembered from an earlier lookup.
	HealCachedNotFound = "cached_not_found"
	HealOverBudget     = "over_budget"
	HealError          = "error"
)

// HealTotal counts heals by kind (payment_intent, setup_intent,
// payment_method, customer) and outcome. The paygate app registers it with
// the store's other metrics.
var HealTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "paygate_ownership_heal_total",
	Help: "Lookups outside the store of an owner or a customer mapping the store did not hold, by kind and outcome (healed, conflict, not_found, cached_not_found, over_budget, error).",
}, []string{"kind", "outcome"})

// ErrOverBudget is Lookup's answer over the replica's budget: the answer
// is not known. Owner takes it as "not found" (what a client probing
// random IDs gets anyway); a caller that would act on "not found" by
// creating something (a second Stripe customer) or by acknowledging
// something for good (a Stripe event) must not, and uses KnownOwner.
var ErrOverBudget = errors.New("ownership: over the budget of lookups outside the store")

// Resolver finds the owner of an object where paygate wrote it besides the
// store: in the metadata of the Stripe object (the payment handler
// provides it). It must trust only what no one but paygate can write.
type Resolver interface {
	// OwnerKind is the kind of object objectID names (a metric label), or
	// "" when the resolver does not look up such IDs: they are not found,
	// at no cost.
	OwnerKind(objectID string) string
	// ResolveOwner returns objectID's owner, false when the object does not
	// exist or is not paygate's, and an error when that could not be told.
	ResolveOwner(ctx context.Context, objectID string) (owner string, found bool, err error)
}

// Healer lets a shared store heal itself: an owner the store does not hold
// is looked up with the registered Resolver, within a replica's budget,
// once at a time per object, and recorded again. One Healer goes with one
// backend for as long as it lives (across config reloads).
type Healer struct {
	now      func() time.Time
	logger   *zap.Logger
	budget   *rate.Limiter
	negative *ttlcache.Cache[struct{}]
	flight   singleflight.Group

	mu        sync.Mutex
	resolvers []*registration
}

type registration struct{ r Resolver }

// NewHealer returns a healer with no resolver, reading time from now.
func NewHealer(now func() time.Time, logger *zap.Logger) *Healer {
	return &Healer{
		now:      now,
		logger:   logger,
		budget:   rate.NewLimiter(HealRate, HealBurst),
		negative: ttlcache.New[struct{}](NegativeTTL, negativeSize),
	}
}

// Healing is a store that carries a Healer (the shared store paygate's app
// hands out).
type Healing interface {
	OwnerHealer() *Healer
}

// HealerOf returns s's healer, or nil.
func HealerOf(s store.Store) *Healer {
	if h, ok := s.(Healing); ok {
		return h.OwnerHealer()
	}
	return nil
}

// Register makes r the resolver until the returned function is called. The
// newest registration still in place is used: a reloaded config's handler
// takes over from the old one's, and the old one's Cleanup, which comes
// after, leaves it in place; a new config that fails to start hands back to
// the old one.
func (h *Healer) Register(r Resolver) (unregister func()) {
	reg := &registration{r: r}
	h.mu.Lock()
	h.resolvers = append(h.resolvers, reg)
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		for i, x := range h.resolvers {
			if x == reg {
				h.resolvers = append(h.resolvers[:i], h.resolvers[i+1:]...)
				return
			}
		}
	}
}

// Resolver returns the resolver registered last and not yet unregistered
// (the payment handler of the running configuration), or nil.
func (h *Healer) Resolver() Resolver {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.resolvers) == 0 {
		return nil
	}
	return h.resolvers[len(h.resolvers)-1].r
}

// Lookup runs find, which looks up what the store lost under key, within
// the healer's bounds: an answer "not found" remembered for NegativeTTL
// is given again at no cost; over the replica's budget the answer is
// ErrOverBudget (not remembered); concurrent lookups of one key share one
// call; find gets a context of its own bounded by HealTimeout. find
// returns its answer and the outcome to count (HealHealed or HealConflict
// with an answer, HealNotFound without, "" for an answer found at no
// cost). Lookup reports whether there is an answer.
func (h *Healer) Lookup(ctx context.Context, kind, key string, find func(ctx context.Context) (string, string, error)) (string, bool, error) {
	nkey := kind + "\x00" + key
	if _, ok := h.negative.Get(nkey, h.now()); ok {
		HealTotal.WithLabelValues(kind, HealCachedNotFound).Inc()
		return "", false, nil
	}
	v, err, _ := h.flight.Do(nkey, func() (any, error) {
		if !h.budget.AllowN(h.now(), 1) {
			HealTotal.WithLabelValues(kind, HealOverBudget).Inc()
			return "", ErrOverBudget
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), HealTimeout)
		defer cancel()
		answer, outcome, err := find(ctx)
		if err != nil {
			HealTotal.WithLabelValues(kind, HealError).Inc()
			return "", err
		}
		if outcome != "" {
			HealTotal.WithLabelValues(kind, outcome).Inc()
		}
		if outcome == HealNotFound {
			h.negative.Put(nkey, struct{}{}, h.now())
			return "", nil
		}
		return answer, nil
	})
	if err != nil {
		return "", false, err
	}
	answer := v.(string)
	return answer, answer != "", nil
}

// Forget drops a remembered "not found" for key: what was not found has
// just been created (a user's first customer).
func (h *Healer) Forget(kind, key string) {
	if h != nil {
		h.negative.Delete(kind + "\x00" + key)
	}
}

// heal looks objectID's owner up with the registered resolver and records
// it again. A record that appeared meanwhile stands: Stripe's answer never
// moves an object to another user. Over the budget it returns
// ErrOverBudget.
func (h *Healer) heal(ctx context.Context, s store.Store, objectID string) (string, bool, error) {
	r := h.Resolver()
	if r == nil {
		return "", false, nil
	}
	kind := r.OwnerKind(objectID)
	if kind == "" {
		return "", false, nil
	}
	owner, found, err := h.Lookup(ctx, kind, objectID, func(ctx context.Context) (string, string, error) {
		// A lookup that missed the store just before another one recorded
		// the owner finds it now, at no cost.
		if owner, ok, err := RecordedOwner(ctx, s, objectID); err != nil || ok {
			return owner, "", err
		}
		owner, found, err := r.ResolveOwner(ctx, objectID)
		if err != nil || !found {
			return "", HealNotFound, err
		}
		recorded, stored, err := RecordIfAbsent(ctx, s, objectID, owner)
		if err != nil {
			return "", "", err
		}
		if recorded {
			h.logger.Warn("ownership healed from Stripe: the store had lost the record",
				zap.String("object", objectID), zap.String("user_hash", UserHash(owner)))
			return owner, HealHealed, nil
		}
		if stored == "" {
			// Erased meanwhile.
			return "", HealNotFound, nil
		}
		if stored != owner {
			h.logger.Warn("ownership heal: the store records another owner than Stripe's metadata; the store's stands",
				zap.String("object", objectID), zap.String("user_hash", UserHash(owner)), zap.String("recorded_user_hash", UserHash(stored)))
			return stored, HealConflict, nil
		}
		return owner, HealHealed, nil
	})
	return owner, found, err
}

// UserHash names a user in logs without the user ID (which may be personal
// data): 12 hex digits of a hash, enough to tell users apart when
// correlating lines.
func UserHash(user string) string {
	sum := sha256.Sum256([]byte("paygate-user\x00" + user))
	return hex.EncodeToString(sum[:6])
}
