package store

import (
	"fmt"
	"time"
)

// Both backends run the GCRA on integer microseconds: the Redis script keeps
// its times in Lua numbers (doubles), which hold every microsecond since the
// Unix epoch exactly for the next two centuries, so the two backends compute
// bit-for-bit the same decisions.

// maxCapacity bounds a zone's capacity (Burst emission intervals) so that
// every theoretical arrival time stays exact in a double.
const maxCapacity = 100 * 365 * 24 * time.Hour

// Validate reports whether r is a limit both backends can enforce: Rate
// and Burst at least 1, Cost, Refund and Release between 0 and Burst and
// not all 0, a Period of at least one
// microsecond per unit of Rate, and a capacity (Burst units' worth of time)
// of at most 100 years. The error wraps ErrInvalidLimit.
func (r LimitRequest) Validate() error {
	switch {
	case r.Rate < 1:
		return fmt.Errorf("%w: rate %d is below 1", ErrInvalidLimit, r.Rate)
	case r.Period <= 0:
		return fmt.Errorf("%w: period %v is not positive", ErrInvalidLimit, r.Period)
	case r.Period/time.Microsecond < time.Duration(r.Rate):
		return fmt.Errorf("%w: period %v over rate %d is below 1µs", ErrInvalidLimit, r.Period, r.Rate)
	case r.Burst < 1:
		return fmt.Errorf("%w: burst %d is below 1", ErrInvalidLimit, r.Burst)
	case r.Cost < 0 || r.Cost == 0 && r.Refund == 0 && r.Release == 0:
		return fmt.Errorf("%w: cost %d is below 1", ErrInvalidLimit, r.Cost)
	case r.Refund < 0 || r.Refund > r.Burst:
		return fmt.Errorf("%w: refund %d is not between 0 and burst %d", ErrInvalidLimit, r.Refund, r.Burst)
	case r.Release < 0 || r.Release > r.Burst:
		return fmt.Errorf("%w: release %d is not between 0 and burst %d", ErrInvalidLimit, r.Release, r.Burst)
	case r.Cost > r.Burst:
		return fmt.Errorf("%w: cost %d exceeds burst %d", ErrInvalidLimit, r.Cost, r.Burst)
	case r.Burst > int64(maxCapacity/time.Microsecond)/r.interval():
		return fmt.Errorf("%w: burst %d at rate %d per %v exceeds %v", ErrInvalidLimit, r.Burst, r.Rate, r.Period, maxCapacity)
	}
	return nil
}

// Unbounded returns r with the largest burst a zone can have (a capacity
// of 100 years): charged so, a zone admits whatever it holds. It is how an
// outcome that happened (a decline Stripe reported) is counted: it must
// count even when the zone looks spent (units reserved by requests in
// flight, or owed back), and the zone then refuses until it drains.
func (r LimitRequest) Unbounded() LimitRequest {
	if r.Rate >= 1 && r.Period/time.Microsecond >= time.Duration(r.Rate) {
		r.Burst = int64(maxCapacity/time.Microsecond) / r.interval()
	}
	return r
}

// Spent reports whether a zone limited by r, whose last decision (made
// with r or r.Unbounded(), reading its held units) was res, would refuse a
// request of r's Cost now, and not only because of units held by requests
// in flight: how an outcome counted with Unbounded tells that it spent the
// zone.
func (r LimitRequest) Spent(res LimitResult) bool {
	t := r.interval()
	return res.ResetAfter.Microseconds()-res.Held*t+r.Cost*t > r.Burst*t
}

// interval is the emission interval T = Period/Rate in microseconds, rounded
// up so that a zone never admits more than Rate units per Period.
func (r LimitRequest) interval() int64 {
	return ceilDiv(ceilDiv(int64(r.Period), r.Rate), int64(time.Microsecond))
}

func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 {
		q++
	}
	return q
}

// zone is a validated LimitRequest in the GCRA's microseconds (the held
// units in units).
type zone struct {
	interval  int64 // T
	capacity  int64 // C = Burst*T
	increment int64 // Cost*T
	refund    int64 // Refund*T
	hold      int64 // Cost, when Hold
	release   int64 // Release
	readHeld  bool  // the count of held units is read
}

// prepareLimit checks one Limit call and converts its requests to zones.
func prepareLimit(reqs []LimitRequest) ([]zone, error) {
	if len(reqs) == 0 {
		return nil, fmt.Errorf("%w: no zone", ErrInvalidLimit)
	}
	zones := make([]zone, len(reqs))
	tag := HashTag(reqs[0].Key)
	for i, r := range reqs {
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("zone %d: %w", i, err)
		}
		for _, prev := range reqs[:i] {
			if prev.Key == r.Key {
				return nil, fmt.Errorf("%w: zone %d repeats a key", ErrInvalidLimit, i)
			}
		}
		if HashTag(r.Key) != tag {
			return nil, fmt.Errorf("zone %d: %w", i, ErrCrossSlot)
		}
		t := r.interval()
		zones[i] = zone{interval: t, capacity: r.Burst * t, increment: r.Cost * t, refund: r.Refund * t, release: r.Release,
			readHeld: r.Hold || r.Release > 0 || r.ReadHeld}
		if r.Hold {
			zones[i].hold = r.Cost
		}
	}
	return zones, nil
}

// refunded is the zone's theoretical arrival time tat (already raised to
// now) once the units given back are taken off it, never below now.
func (z zone) refunded(now, tat int64) int64 {
	return max(tat-z.refund, now)
}

// admits reports whether the zone, whose theoretical arrival time is tat
// (already raised to now), would admit the request.
func (z zone) admits(now, tat int64) bool {
	return tat+z.increment-now <= z.capacity
}

// held is the zone's count of held units once the call's release is let
// go of: stored is the count before it.
func (z zone) held(stored int64) int64 {
	return max(stored-z.release, 0)
}

// result is the zone's part of a decision; held is the count of units held
// (see held), charged tells whether the call was admitted by every zone
// and so charged. A refusal's RetryAfter leaves the held units out (0 when
// only they stand in the way). scripts/limit.lua computes the same.
func (z zone) result(now, tat, held int64, charged bool) LimitResult {
	res := LimitResult{Allowed: true, Held: held}
	used := tat - now
	switch {
	case charged:
		used += z.increment
	case !z.admits(now, tat):
		res.Allowed = false
		spent := max(used-held*z.interval, 0)
		res.RetryAfter = micros(max(spent+z.increment-z.capacity, 0))
	}
	res.Remaining = max((z.capacity-used)/z.interval, 0)
	res.ResetAfter = micros(used)
	return res
}

func micros(us int64) time.Duration {
	return time.Duration(us) * time.Microsecond
}
