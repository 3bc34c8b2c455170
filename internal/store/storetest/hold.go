package storetest

import (
	"time"

	"github.com/paygate/paygate/internal/store"
)

// holding is hourly's request with its units held for a request in
// flight, letting go of release held units first.
func holding(key string, burst, cost, release int64) store.LimitRequest {
	r := hourly(key, burst, cost)
	r.Hold, r.Release = true, release
	return r
}

// letGo lets go of release held units, giving back refund of them.
func letGo(key string, burst, refund, release int64) store.LimitRequest {
	r := hourly(key, burst, refund)
	r.Release = release
	return r
}

// testLimitHold: held units are charged like any, so concurrent requests
// never exceed the budget, but a refusal's RetryAfter leaves them out
// (0 while only they stand in the way); units let go of without a refund
// stay charged and count from then on, units given back are admitted
// again, and a release within a Limit call counts before its decision.
func testLimitHold(e *env) {
	k := store.Key("u1", "rl", "declines")
	e.wantResults(e.limit(holding(k, 2, 1, 0)), allowed(1, time.Hour))
	e.wantResults(e.limit(holding(k, 2, 1, 0)), allowed(0, 2*time.Hour))
	e.wantResults(e.limit(holding(k, 2, 1, 0)), denied(0, 0, 2*time.Hour))
	// The count is reported to a call that holds, or asks; not otherwise.
	if res := e.limit(holding(k, 2, 1, 0)); res[0].Held != 2 {
		e.t.Fatalf("a call that holds: Held %d, want 2", res[0].Held)
	}
	asks := hourly(k, 2, 1)
	asks.ReadHeld = true
	if res := e.limit(asks); res[0].Held != 2 {
		e.t.Fatalf("a call that asks: Held %d, want 2", res[0].Held)
	}
	if res := e.limit(hourly(k, 2, 1)); res[0].Held != 0 {
		e.t.Fatalf("a call that neither holds nor asks: Held %d, want 0", res[0].Held)
	}

	// One outcome counts: its unit is spent, the other still held.
	e.refund(letGo(k, 2, 0, 1))
	e.wantResults(e.limit(holding(k, 2, 1, 0)), denied(0, 0, 2*time.Hour))
	// The other does not count: its unit comes back and pays for a new
	// hold.
	e.refund(letGo(k, 2, 1, 1))
	e.wantResults(e.limit(holding(k, 2, 1, 0)), allowed(0, 2*time.Hour))
	// Both spent: the wait is the GCRA's again.
	e.refund(letGo(k, 2, 0, 1))
	e.wantResults(e.limit(holding(k, 2, 1, 0)), denied(0, time.Hour, 2*time.Hour))
	e.wantResults(e.limit(hourly(k, 2, 1)), denied(0, time.Hour, 2*time.Hour))

	// A release in the call counts before its decision, and is kept when
	// the call is refused.
	other := store.Key("u1", "rl", "other")
	e.limit(holding(other, 2, 1, 0))
	e.limit(holding(other, 2, 1, 0))
	withRelease := hourly(other, 2, 1)
	withRelease.Release = 2
	e.wantResults(e.limit(withRelease), denied(0, time.Hour, 2*time.Hour))
	e.wantResults(e.limit(holding(other, 2, 1, 0)), denied(0, time.Hour, 2*time.Hour))
	// Refunded and let go of in the call that holds again.
	third := store.Key("u1", "rl", "third")
	e.limit(holding(third, 1, 1, 0))
	again := holding(third, 1, 1, 1)
	again.Refund = 1
	e.wantResults(e.limit(again), allowed(0, time.Hour))
	e.wantResults(e.limit(holding(third, 1, 1, 0)), denied(0, 0, time.Hour))

	// Letting go of more than is held, or of a zone that holds nothing,
	// changes nothing else.
	e.refund(letGo(store.Key("u1", "rl", "unknown"), 2, 0, 2))
	e.wantResults(e.limit(hourly(store.Key("u1", "rl", "unknown"), 2, 1)), allowed(1, time.Hour))
}

// testLimitHeldExpires: a count of held units not let go of (its replica
// stopped) stops counting apart HeldTTL after the last hold; the units stay
// charged.
func testLimitHeldExpires(e *env) {
	k := store.Key("u1", "rl", "declines")
	e.limit(holding(k, 2, 1, 0))
	e.limit(holding(k, 2, 1, 0))
	e.advance(store.HeldTTL - time.Microsecond)
	e.wantResults(e.limit(holding(k, 2, 1, 0)), denied(0, 0, 2*time.Hour-store.HeldTTL+time.Microsecond))
	e.advance(time.Microsecond)
	e.wantResults(e.limit(holding(k, 2, 1, 0)), denied(0, time.Hour-store.HeldTTL, 2*time.Hour-store.HeldTTL))
}
