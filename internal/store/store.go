// Package store is paygate's shared state: rate-limit counters, idempotency
// records, webhook de-duplication, the ownership index and the customer
// mapping. Two backends implement Store: an embedded in-memory store (one
// instance, no set-up) and Redis (standalone, Sentinel or Cluster).
//
// Every multi-step operation is atomic in both backends. Keys are given by the
// caller without the backend prefix; a key's hash tag ("{...}", see Key)
// decides its Redis Cluster slot, and every key of one multi-key call must
// carry the same tag.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"
)

// ErrUnavailable wraps every error caused by the backend being unreachable,
// slow beyond its budget, or failing. Callers map it to 503 store_unavailable
// (or to their configured fallback); it never means "not found".
var ErrUnavailable = errors.New("store unavailable")

// ErrCrossSlot is returned when the keys of one multi-key call do not share a
// hash tag, so the call could not be atomic on Redis Cluster.
var ErrCrossSlot = errors.New("store: keys of one call must share a hash tag")

// ErrInvalidLimit is returned by Limit, before the backend is asked, when a
// request is one no backend can enforce (see LimitRequest.Validate) or the
// call names no zone or one key twice.
var ErrInvalidLimit = errors.New("store: invalid limit")

// ErrInvalidTTL is returned, before the backend is asked, for a negative
// ttl, and for a zero one where a record must expire (a lease and a completed
// record).
var ErrInvalidTTL = errors.New("store: invalid ttl")

// Store is the contract both backends fulfil; the same test suite
// (storetest) runs against each of them.
type Store interface {
	// Limit makes one GCRA decision over several zones atomically: either
	// every zone admits the request and all of them are charged, or none is
	// charged. Results are in the order of reqs. Every key must share one
	// hash tag.
	Limit(ctx context.Context, reqs []LimitRequest) ([]LimitResult, error)
	// Refund gives back Cost units to each zone, atomically: a unit
	// charged by Limit for a request whose outcome, known later, does not
	// count (a zone of declines reserves a unit with each payment attempt
	// and gives it back when the attempt was not declined, so that
	// concurrent attempts can never exceed its budget), and lets go of
	// Release held units (see LimitRequest.Hold). A zone never holds more
	// than its capacity. Every key must share one hash tag.
	Refund(ctx context.Context, reqs []LimitRequest) error

	// Acquire takes the lease on key for owner, storing value with the lease,
	// unless a lease is already held (Held) or a completed record exists
	// (Completed). In those two cases Lease carries the existing record's
	// value and nothing is changed. A lease whose TTL passed is absent.
	Acquire(ctx context.Context, key, owner string, value []byte, ttl time.Duration) (Lease, error)
	// AcquireLimit is Acquire and Limit(reqs) in one round trip: a request
	// under an idempotency key takes the key's lease and is decided by its
	// caller's zones together. With no reqs it is Acquire, and its results
	// are nil. The key need not share the zones' hash tag (the zones must
	// share theirs, as for Limit); a call Limit would refuse (ErrInvalidLimit,
	// ErrCrossSlot, ErrInvalidTTL) changes nothing.
	//
	// The two parts are decided independently of each other, and on Redis
	// they are not one atomic step (two scripts in one pipeline, on two
	// nodes of a Cluster): a refused limit still takes an absent lease, and
	// a lease found Held or Completed does not keep the zones from being
	// charged. The caller undoes what it does not want: it releases a lease
	// whose request it refuses and refunds the zones of a request it does
	// not run. Until it has, another request may see the lease taken or
	// the units spent. On an error nothing is left changed, as far as the
	// backend can undo it (Redis tries to, but a backend that fails may
	// keep a charged unit, or a lease until its TTL).
	AcquireLimit(ctx context.Context, key, owner string, value []byte, ttl time.Duration, reqs []LimitRequest) (Lease, []LimitResult, error)
	// Complete replaces owner's lease on key by a completed record holding
	// value, kept for retention. It reports false, changing nothing, when
	// owner no longer holds the lease (it expired, or was taken over).
	Complete(ctx context.Context, key, owner string, value []byte, retention time.Duration) (bool, error)
	// Release drops owner's lease on key so that the work may run again. It
	// reports false, changing nothing, when owner does not hold the lease.
	Release(ctx context.Context, key, owner string) (bool, error)
	// Renew extends owner's lease on key to ttl from now, so that work that
	// runs longer than the lease's first TTL keeps it (only a dead holder's
	// lease expires). It reports false, changing nothing, when owner does
	// not hold the lease (it expired and was taken over, or was completed).
	Renew(ctx context.Context, key, owner string, ttl time.Duration) (bool, error)

	// PutIfAbsent stores value under key for ttl unless key exists, and
	// reports whether it stored it.
	PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// Get returns the value under key and whether it exists.
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// Set stores value under key; ttl 0 keeps it until it is deleted.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes the keys (which need not share a hash tag); absent keys
	// are not an error.
	Delete(ctx context.Context, keys ...string) error

	// SetIfHigher stores value under key with rank, for ttl (0 keeps it
	// until it is deleted), when key is absent or holds a ranked record of a
	// lower rank, and reports whether it stored it; an equal rank does not
	// replace. It is how a record that must never move backwards (a
	// payment's status, from events that may arrive out of order) is kept.
	// Get returns a ranked record's value; Set replaces it by a plain one,
	// and SetIfHigher on a key holding a plain value, a lease or a limit
	// counter fails rather than corrupting it. Ranks compare exactly over
	// the whole int64 range.
	SetIfHigher(ctx context.Context, key string, rank int64, value []byte, ttl time.Duration) (bool, error)

	// Ping checks that the backend answers.
	Ping(ctx context.Context) error
	// Close releases the backend's connections.
	Close() error
}

// LimitRequest asks one zone for Cost units.
type LimitRequest struct {
	// Key identifies the counter (zone and subject), with its hash tag.
	Key string
	// Rate is how many units the zone admits per Period on average.
	Rate int64
	// Period is the window Rate refers to.
	Period time.Duration
	// Burst is how many units may be admitted at once from idle (the
	// bucket's capacity, at least 1); over any window of one Period at most
	// Rate+Burst units pass.
	Burst int64
	// Cost is the number of units this request takes (at least 1 unless
	// Refund is set; at most Burst).
	Cost int64
	// Refund is the number of units given back to the zone in the same
	// atomic call, before it decides: what an earlier request reserved
	// and turned out not to count (see Refund). A zone with Cost 0 only
	// takes its units back, and always admits. At most Burst; Limit only.
	Refund int64
	// Hold marks the Cost units, when admitted, as held for a request in
	// flight whose outcome decides whether they count: they are charged
	// at once like any units (so that concurrent requests never exceed
	// the budget), and counted apart until a later call's Release lets
	// go of them, so that a refusal's RetryAfter counts only units spent,
	// not units held by requests that have not finished. A hold not let
	// go of within HeldTTL (its replica stopped) is no longer counted
	// apart; its unit stays charged.
	Hold bool
	// Release is the number of held units the call lets go of before it
	// decides: they stay charged (the outcome counted) unless Refund gives
	// them back too. At most Burst; Limit and Refund.
	Release int64
	// ReadHeld reports the zone's count of held units in the result
	// (LimitResult.Held) for a call that neither holds nor lets go of any;
	// one that does always reads it. Limit only.
	ReadHeld bool
}

// HeldTTL is how long a zone's count of held units outlives the last hold
// that raised it: longer than any request paygate serves runs.
const HeldTTL = 10 * time.Minute

// heldKey is the key of the count of units held on the counter key (a
// store.Key part never holds ':', a Digest never spells "held").
func heldKey(key string) string { return key + ":held" }

// LimitResult is one zone's part of a decision.
type LimitResult struct {
	// Allowed reports whether this zone alone would admit the request.
	Allowed bool
	// Remaining is how many more units the zone would admit right now.
	Remaining int64
	// RetryAfter is how long until this request would be admitted (0 when
	// it was), counting only the units spent: units held by requests in
	// flight may come back sooner (0 when only they stand in the way).
	RetryAfter time.Duration
	// ResetAfter is how long until the zone is back to its full capacity.
	ResetAfter time.Duration
	// Held is how many of the zone's units requests in flight hold, once
	// the call's Release is let go of and before its own hold: read only
	// for a call that holds, lets go of units or asks (ReadHeld), else 0.
	Held int64
}

// Admitted reports whether every zone of a decision admitted it, and so
// was charged.
func Admitted(results []LimitResult) bool {
	for _, res := range results {
		if !res.Allowed {
			return false
		}
	}
	return true
}

// Charged returns what an admitted call of reqs took, as the requests
// that give it back with Refund: the zones that cost something, without
// the units the call itself gave back.
func Charged(reqs []LimitRequest) []LimitRequest {
	var out []LimitRequest
	for _, r := range reqs {
		if r.Cost > 0 {
			r.Refund, r.Release = 0, 0
			if r.Hold {
				r.Release = r.Cost
			}
			r.Hold = false
			out = append(out, r)
		}
	}
	return out
}

// LeaseState is the state a lease key was found in by Acquire.
type LeaseState int

const (
	// Acquired: the key was absent and the caller now holds the lease.
	Acquired LeaseState = iota + 1
	// Held: someone (possibly the same owner) holds an unexpired lease.
	Held
	// Completed: the work finished and its record is kept.
	Completed
)

func (s LeaseState) String() string {
	switch s {
	case Acquired:
		return "acquired"
	case Held:
		return "held"
	case Completed:
		return "completed"
	}
	return "unknown"
}

// Lease is the outcome of Acquire.
type Lease struct {
	State LeaseState
	// Value is the value stored with the lease (Acquired: the caller's own;
	// Held: the holder's; Completed: the completed record's).
	Value []byte
}

// Key joins a hash tag and further parts into a store key:
// Key("user_1", "rl", "user") is "{user_1}:rl:user". The encoding is
// injective: '%' (the escape character itself), the tag's braces and the
// parts' ':' separators are percent-encoded, so a caller-chosen tag or part
// can neither move a key to another slot nor make two different (tag,
// parts) lists the same key ("a{b" and "a%7Bb" stay two users).
func Key(tag string, parts ...string) string {
	var b strings.Builder
	n := len(tag) + 2
	for _, p := range parts {
		n += len(p) + 1
	}
	b.Grow(n) // exact, unless something is escaped
	b.WriteByte('{')
	b.WriteString(tagEscaper.Replace(tag))
	b.WriteByte('}')
	for _, p := range parts {
		b.WriteByte(':')
		b.WriteString(partEscaper.Replace(p))
	}
	return b.String()
}

var (
	tagEscaper  = strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D")
	partEscaper = strings.NewReplacer("%", "%25", ":", "%3A")
)

// Digest hides a value that may be personal data or a secret (an IP, a
// user ID, a counted card fingerprint) where a key needs it: 96 bits of its
// SHA-256, in hex.
func Digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:12])
}

// HashTag returns the part of key that decides its Redis Cluster slot,
// following the Cluster specification: the text between the first '{' and
// the next '}' when it is not empty, else the whole key.
func HashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}
