// Package ratezone is what the rate-limit stage (redis_rate_limit) shares
// with the event processor (payment_events): where a zone's counter and
// its seen values live in the store, and the zones that also count Stripe
// events (a payment_intent.payment_failed is a decline as much as a 402
// is), registered by the stages of the running configuration; and the Gate
// through which the idempotency stage decides a nested rate-limit stage's
// zones in its own store call.
package ratezone

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/paygate/paygate/internal/store"
)

// CounterKey is the store key of zone's GCRA counter for key (the value of
// the zone's key template), tagged by the key so that every zone of one
// stage is decided in one call on Redis Cluster too.
func CounterKey(key, zone string) string {
	return DigestCounterKey(store.Digest(key), zone)
}

// DigestCounterKey is CounterKey for the key's Digest, for a caller that
// works out the counters of several zones for one key.
func DigestCounterKey(digest, zone string) string {
	return store.Key(digest, "rl", zone)
}

// SeenKey is the store key that marks value as counted by the zone whose
// counter is counterKey (a distinct zone counts each value once).
func SeenKey(counterKey, value string) string {
	return counterKey + ":" + store.Digest(value)
}

// Zone is a zone that also counts Stripe events.
type Zone struct {
	// Name is the zone's name; KeyTemplate its key template, which may use
	// SubjectUser and SubjectIP.
	Name, KeyTemplate string
	// Limit is the zone's rate, period and burst (Key unset, Cost 1).
	Limit store.LimitRequest
	// Distinct says that each counted value (a decline's ID) counts once,
	// whichever way it arrives (the 402 or the event).
	Distinct bool
	// Events are the event types that count.
	Events map[string]bool
	// Shadow says that the zone refuses nothing: it only counts.
	Shadow bool
}

// The placeholders a zone's key template may use for an event: the
// subject of the payment, as it was when the payment was made.
const (
	SubjectUser = "paygate.user"
	SubjectIP   = "paygate.client_ip"
)

var (
	mu sync.Mutex
	// zones holds, by name, the registrations of each configuration that
	// has the zone, the last one in force.
	zones = map[string][]registered{}
)

type registered struct {
	owner any
	zone  Zone
}

// Register makes owner's zones count events; a zone of the same name
// registered before (by the previous configuration) is set aside while
// owner's is registered.
func Register(owner any, zs []Zone) {
	mu.Lock()
	defer mu.Unlock()
	for _, z := range zs {
		zones[z.Name] = append(zones[z.Name], registered{owner: owner, zone: z})
	}
}

// Unregister removes the zones owner registered. A reload provisions the
// new stage before cleaning up the old one, and a reload that fails cleans
// up the new one while the old one runs on: whichever goes, the other's
// zones stay in force.
func Unregister(owner any) {
	mu.Lock()
	defer mu.Unlock()
	for name, rs := range zones {
		rs = slices.DeleteFunc(rs, func(r registered) bool { return r.owner == owner })
		if len(rs) == 0 {
			delete(zones, name)
		} else {
			zones[name] = rs
		}
	}
}

// ForEvent returns the zones in force that count events of type t.
func ForEvent(t string) []Zone {
	mu.Lock()
	defer mu.Unlock()
	var out []Zone
	for _, rs := range zones {
		if z := rs[len(rs)-1].zone; z.Events[t] {
			out = append(out, z)
		}
	}
	return out
}

// Count charges z one unit for the outcome value (a decline's ID) of the
// subject whose key is key, unless z is distinct and already counted it.
// It reports whether it charged, and whether the zone, charged, now
// refuses for units spent, not only held by requests in flight (shadow
// zones never do). The charge is unbounded (see
// store.LimitRequest.Unbounded): an outcome that happened counts even when
// the zone looks spent, since part of what it holds may be units reserved
// by requests in flight, or owed back.
func Count(ctx context.Context, s store.Store, z Zone, key, value string) (charged, spent bool, err error) {
	counter := CounterKey(key, z.Name)
	if z.Distinct {
		fresh, err := s.PutIfAbsent(ctx, SeenKey(counter, value), nil, z.Limit.Period)
		if err != nil || !fresh {
			return false, false, err
		}
	}
	req := z.Limit.Unbounded()
	req.Key, req.Cost, req.ReadHeld = counter, 1, true
	res, err := s.Limit(ctx, []store.LimitRequest{req})
	if err != nil {
		return false, false, err
	}
	bounded := z.Limit
	bounded.Cost = 1
	return res[0].Allowed, res[0].Allowed && !z.Shadow && bounded.Spent(res[0]), nil
}

// SubjectTTL is how long a payment's subject is kept for its events: the
// events of a failed payment come within minutes, Stripe's retries within
// three days.
const SubjectTTL = 72 * time.Hour
