package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/store"
)

var limitTests = []test{
	{"Burst", testLimitBurst},
	{"Cost", testLimitCost},
	{"Rounding", testLimitRounding},
	{"Recovers", testLimitRecovers},
	{"KeyExpires", testLimitKeyExpires},
	{"AllOrNothing", testLimitAllOrNothing},
	{"Refund", testLimitRefund},
	{"RefundInCall", testLimitRefundInCall},
	{"Hold", testLimitHold},
	{"SeparateKeys", testLimitSeparateKeys},
	{"ShrunkBurst", testLimitShrunkBurst},
	{"SharedTag", testLimitSharedTag},
	{"Invalid", testLimitInvalid},
	{"CrossSlot", testLimitCrossSlot},
}

// hourly is a zone admitting one unit per hour, burst units at once.
func hourly(key string, burst, cost int64) store.LimitRequest {
	return store.LimitRequest{Key: key, Rate: 1, Period: time.Hour, Burst: burst, Cost: cost}
}

func allowed(remaining int64, reset time.Duration) store.LimitResult {
	return store.LimitResult{Allowed: true, Remaining: remaining, ResetAfter: reset}
}

func denied(remaining int64, retry, reset time.Duration) store.LimitResult {
	return store.LimitResult{Remaining: remaining, RetryAfter: retry, ResetAfter: reset}
}

// wantResults compares a decision with want, the results on a stopped
// clock; see realSlack.
func (e *env) wantResults(got []store.LimitResult, want ...store.LimitResult) {
	e.t.Helper()
	for i, w := range want {
		g := got[i]
		if g.Allowed != w.Allowed || g.Remaining != w.Remaining || !e.near(g.RetryAfter, w.RetryAfter) || !e.near(g.ResetAfter, w.ResetAfter) {
			e.t.Fatalf("zone %d: got %+v, want %+v", i, g, w)
		}
	}
}

func (e *env) near(got, want time.Duration) bool {
	if want == 0 {
		return got == 0
	}
	return got <= want && got >= want-e.slack()
}

func testLimitBurst(e *env) {
	k := store.Key("u1", "rl", "user")
	for i := range int64(5) {
		e.wantResults(e.limit(hourly(k, 5, 1)), allowed(4-i, time.Duration(i+1)*time.Hour))
	}
	for range 2 {
		e.wantResults(e.limit(hourly(k, 5, 1)), denied(0, time.Hour, 5*time.Hour))
	}
}

// testLimitRefund: units given back are admitted again, atomically over
// several zones; a zone never holds more than its capacity, and giving back
// to an unknown zone changes nothing.
func testLimitRefund(e *env) {
	declines := store.Key("u1", "rl", "declines")
	other := store.Key("u1", "rl", "user")
	e.wantResults(e.limit(hourly(declines, 2, 1), hourly(other, 3, 1)), allowed(1, time.Hour), allowed(2, time.Hour))
	e.wantResults(e.limit(hourly(declines, 2, 1)), allowed(0, 2*time.Hour))
	e.wantResults(e.limit(hourly(declines, 2, 1)), denied(0, time.Hour, 2*time.Hour))
	e.refund(hourly(declines, 2, 1), hourly(other, 3, 1))
	e.wantResults(e.limit(hourly(declines, 2, 1), hourly(other, 3, 1)), allowed(0, 2*time.Hour), allowed(2, time.Hour))
	// More than was charged: back to full, not beyond.
	e.refund(hourly(declines, 2, 2), hourly(other, 3, 3))
	e.refund(hourly(declines, 2, 2))
	for range 2 {
		e.limit(hourly(declines, 2, 1))
	}
	e.wantResults(e.limit(hourly(declines, 2, 1)), denied(0, time.Hour, 2*time.Hour))
	e.refund(hourly(store.Key("u1", "rl", "unknown"), 2, 1))
	e.wantResults(e.limit(hourly(store.Key("u1", "rl", "unknown"), 2, 1)), allowed(1, time.Hour))
}

// testLimitRefundInCall: units given back within a Limit call count before
// its decision, are kept whatever the decision, and a zone that only takes
// units back (Cost 0) admits and never holds more than its capacity.
func testLimitRefundInCall(e *env) {
	declines := store.Key("u1", "rl", "declines")
	user := store.Key("u1", "rl", "user")
	withRefund := func(r store.LimitRequest, units int64) store.LimitRequest {
		r.Refund = units
		return r
	}
	e.limit(hourly(declines, 2, 2))
	e.wantResults(e.limit(hourly(declines, 2, 1)), denied(0, time.Hour, 2*time.Hour))
	// The unit given back pays for this request.
	e.wantResults(e.limit(withRefund(hourly(declines, 2, 1), 1)), allowed(0, 2*time.Hour))

	// A refused call keeps the units given back to another zone.
	e.limit(hourly(user, 1, 1))
	e.wantResults(e.limit(hourly(user, 1, 1), withRefund(hourly(declines, 2, 0), 2)),
		denied(0, time.Hour, time.Hour), allowed(2, 0))
	e.wantResults(e.limit(hourly(declines, 2, 2)), allowed(0, 2*time.Hour))

	// More than was charged: back to full, not beyond; nothing is created
	// for a zone that holds nothing.
	e.wantResults(e.limit(withRefund(hourly(declines, 2, 0), 2)), allowed(2, 0))
	e.wantResults(e.limit(withRefund(hourly(declines, 2, 0), 2)), allowed(2, 0))
	e.wantResults(e.limit(hourly(declines, 2, 2)), allowed(0, 2*time.Hour))
	e.wantResults(e.limit(hourly(declines, 2, 1)), denied(0, time.Hour, 2*time.Hour))
}

func testLimitCost(e *env) {
	k := store.Key("u1", "rl", "user")
	h := time.Hour
	steps := []struct {
		cost int64
		want store.LimitResult
	}{
		{4, allowed(6, 4*h)},
		{4, allowed(2, 8*h)},
		{4, denied(2, 2*h, 8*h)},
		{2, allowed(0, 10*h)},
		{1, denied(0, h, 10*h)},
	}
	for i, s := range steps {
		e.t.Logf("step %d: cost %d", i, s.cost)
		e.wantResults(e.limit(hourly(k, 10, s.cost)), s.want)
	}
}

// testLimitRounding checks the units both backends compute in: the emission
// interval Period/Rate is rounded up to a whole microsecond.
func testLimitRounding(e *env) {
	tests := []struct {
		name string
		req  store.LimitRequest
		want store.LimitResult
	}{
		{"third of a second", store.LimitRequest{Rate: 3, Period: time.Second, Burst: 3, Cost: 1}, allowed(2, 333334*time.Microsecond)},
		{"one microsecond", store.LimitRequest{Rate: 1000, Period: time.Millisecond, Burst: 1000, Cost: 1}, allowed(999, time.Microsecond)},
		{"ns rounded up", store.LimitRequest{Rate: 1, Period: 1500 * time.Nanosecond, Burst: 4, Cost: 2}, allowed(2, 4*time.Microsecond)},
	}
	for i, tc := range tests {
		e.t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			tc.req.Key = store.Key("u1", "rl", fmt.Sprint(i))
			e.wantResults(e.limit(tc.req), tc.want)
		})
	}
}

func testLimitRecovers(e *env) {
	k := store.Key("ip_1", "rl", "ip")
	// One unit per 100ms, two at once.
	zone := func(cost int64) store.LimitRequest {
		return store.LimitRequest{Key: k, Rate: 10, Period: time.Second, Burst: 2, Cost: cost}
	}
	const t = 100 * time.Millisecond
	e.wantResults(e.limit(zone(2)), allowed(0, 2*t))
	e.expiresAfter(t, "denial of one unit", func() bool {
		res := e.limit(zone(1))
		if !res[0].Allowed && (res[0].RetryAfter <= 0 || res[0].RetryAfter > t) {
			e.t.Fatalf("denied with RetryAfter %v, want in (0, %v]", res[0].RetryAfter, t)
		}
		return !res[0].Allowed
	})
	e.expiresAfter(2*t, "denial of the whole burst", func() bool {
		return !e.limit(zone(2))[0].Allowed
	})
}

func testLimitKeyExpires(e *env) {
	k := store.Key("ip_1", "rl", "ip")
	// Three units of 50ms each are charged: the key lives 150ms.
	res := e.limit(store.LimitRequest{Key: k, Rate: 20, Period: time.Second, Burst: 5, Cost: 3})
	e.wantResults(res, allowed(2, 150*time.Millisecond))
	e.expiresAfter(150*time.Millisecond, "limiter key", func() bool {
		return !e.putIfAbsent(k, "x", time.Hour)
	})
}

func testLimitAllOrNothing(e *env) {
	a := hourly(store.Key("u1", "rl", "a"), 2, 1)
	b := hourly(store.Key("u1", "rl", "b"), 5, 1)
	c := hourly(store.Key("u1", "rl", "c"), 4, 1)
	h := time.Hour

	e.wantResults(e.limit(a, b), allowed(1, h), allowed(4, h))
	e.wantResults(e.limit(a, b), allowed(0, 2*h), allowed(3, 2*h))
	// a denies: nothing is charged, and b reports its own, uncharged state.
	e.wantResults(e.limit(a, b), denied(0, h, 2*h), allowed(3, 2*h))
	e.wantResults(e.limit(b, a), allowed(3, 2*h), denied(0, h, 2*h))
	e.wantResults(e.limit(c, a), allowed(4, 0), denied(0, h, 2*h))
	// b and c were never charged by the denied calls.
	e.wantResults(e.limit(b), allowed(2, 3*h))
	e.wantResults(e.limit(c), allowed(3, h))
}

func testLimitSeparateKeys(e *env) {
	u1 := hourly(store.Key("u1", "rl", "user"), 1, 1)
	u2 := hourly(store.Key("u2", "rl", "user"), 1, 1)
	e.wantResults(e.limit(u1), allowed(0, time.Hour))
	e.wantResults(e.limit(u2), allowed(0, time.Hour))
	e.wantResults(e.limit(u1), denied(0, time.Hour, time.Hour))
}

// testLimitShrunkBurst covers a zone whose burst was lowered (a config
// reload) while its key still holds more than the new capacity.
func testLimitShrunkBurst(e *env) {
	k := store.Key("u1", "rl", "user")
	h := time.Hour
	e.wantResults(e.limit(hourly(k, 10, 8)), allowed(2, 8*h))
	e.wantResults(e.limit(hourly(k, 2, 1)), denied(0, 7*h, 8*h))
}

// testLimitSharedTag: keys need not look alike, only share a hash tag.
func testLimitSharedTag(e *env) {
	a := hourly("{u1}:rl:a", 2, 1)
	b := hourly("ip:{u1}", 2, 1)
	e.wantResults(e.limit(a, b), allowed(1, time.Hour), allowed(1, time.Hour))
}

func testLimitInvalid(e *env) {
	k := store.Key("u1", "rl", "user")
	ok := hourly(k, 5, 1)
	with := func(change func(*store.LimitRequest)) store.LimitRequest {
		r := ok
		change(&r)
		return r
	}
	tests := []struct {
		name string
		reqs []store.LimitRequest
	}{
		{"no zone", nil},
		{"zero rate", []store.LimitRequest{with(func(r *store.LimitRequest) { r.Rate = 0 })}},
		{"negative rate", []store.LimitRequest{with(func(r *store.LimitRequest) { r.Rate = -1 })}},
		{"zero period", []store.LimitRequest{with(func(r *store.LimitRequest) { r.Period = 0 })}},
		{"negative period", []store.LimitRequest{with(func(r *store.LimitRequest) { r.Period = -time.Second })}},
		{"interval below 1µs", []store.LimitRequest{with(func(r *store.LimitRequest) { r.Rate, r.Period = 1001, time.Millisecond })}},
		{"zero burst", []store.LimitRequest{with(func(r *store.LimitRequest) { r.Burst = 0 })}},
		{"zero cost", []store.LimitRequest{with(func(r *store.LimitRequest) { r.Cost = 0 })}},
		{"negative cost with a refund", []store.LimitRequest{with(func(r *store.LimitRequest) { r.Cost, r.Refund = -1, 1 })}},
		{"negative refund", []store.LimitRequest{with(func(r *store.LimitRequest) { r.Refund = -1 })}},
		{"refund above burst", []store.LimitRequest{with(func(r *store.LimitRequest) { r.Refund = 6 })}},
		{"negative release", []store.LimitRequest{with(func(r *store.LimitRequest) { r.Release = -1 })}},
		{"release above burst", []store.LimitRequest{with(func(r *store.LimitRequest) { r.Release = 6 })}},
		{"cost above burst", []store.LimitRequest{with(func(r *store.LimitRequest) { r.Cost = 6 })}},
		{"capacity above 100 years", []store.LimitRequest{with(func(r *store.LimitRequest) { r.Period, r.Burst = 365*24*time.Hour, 101 })}},
		{"huge burst", []store.LimitRequest{with(func(r *store.LimitRequest) { r.Burst, r.Cost = 1<<62, 1 })}},
		{"repeated key", []store.LimitRequest{ok, ok}},
		{"second zone invalid", []store.LimitRequest{ok, with(func(r *store.LimitRequest) { r.Key, r.Burst = store.Key("u1", "x"), 0 })}},
	}
	for _, tc := range tests {
		e.t.Run(tc.name, func(t *testing.T) {
			_, err := e.s.Limit(e.ctx, tc.reqs)
			if !errors.Is(err, store.ErrInvalidLimit) || errors.Is(err, store.ErrUnavailable) {
				t.Errorf("Limit: %v, want ErrInvalidLimit", err)
			}
		})
	}
	e.wantResults(e.limit(ok), allowed(4, time.Hour))
}

func testLimitCrossSlot(e *env) {
	tests := []struct{ name, a, b string }{
		{"different tags", store.Key("u1", "rl"), store.Key("u2", "rl")},
		{"no tags", "rl:u1", "rl:u2"},
		{"one tag", store.Key("u1", "rl"), "rl:u1"},
	}
	for _, tc := range tests {
		e.t.Run(tc.name, func(t *testing.T) {
			_, err := e.s.Limit(e.ctx, []store.LimitRequest{hourly(tc.a, 5, 1), hourly(tc.b, 5, 1)})
			if !errors.Is(err, store.ErrCrossSlot) || errors.Is(err, store.ErrUnavailable) {
				t.Errorf("Limit(%s, %s): %v, want ErrCrossSlot", tc.a, tc.b, err)
			}
		})
	}
	e.wantResults(e.limit(hourly(tests[0].a, 5, 1)), allowed(4, time.Hour))
}
