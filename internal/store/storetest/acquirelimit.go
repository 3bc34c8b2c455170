package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/store"
)

var acquireLimitTests = []test{
	{"AcquiredAdmitted", testAcquireLimitAdmitted},
	{"Refused", testAcquireLimitRefused},
	{"Held", testAcquireLimitHeld},
	{"Completed", testAcquireLimitCompleted},
	{"NoZones", testAcquireLimitNoZones},
	{"OwedRefund", testAcquireLimitOwedRefund},
	{"Invalid", testAcquireLimitInvalid},
}

// The lease key and the zones of one AcquireLimit have different hash tags,
// as an idempotency record's and a user's counters do: on a Cluster they
// live on different nodes, which the pipeline reaches at once.
var (
	leaseKey = store.Key("idemhash", "idem")
	zoneA    = store.Key("u1", "rl", "user")
	zoneB    = store.Key("u1", "rl", "velocity")
)

// acquireLimit calls AcquireLimit, failing the test on an error.
func (e *env) acquireLimit(key, owner string, reqs ...store.LimitRequest) (store.Lease, []store.LimitResult) {
	e.t.Helper()
	l, res, err := e.s.AcquireLimit(e.ctx, key, owner, []byte("value of "+owner), long, reqs)
	if err != nil {
		e.t.Fatalf("AcquireLimit(%s, %s): %v", key, owner, err)
	}
	if len(res) != len(reqs) {
		e.t.Fatalf("AcquireLimit returned %d results for %d zones", len(res), len(reqs))
	}
	return l, res
}

// wantState requires l to be state with value.
func (e *env) wantState(l store.Lease, state store.LeaseState, value string) {
	e.t.Helper()
	if want := (store.Lease{State: state, Value: []byte(value)}); !sameLease(l, want) {
		e.t.Fatalf("lease %s, want %s", leaseString(l), leaseString(want))
	}
}

// testAcquireLimitAdmitted: a fresh key with zones that admit takes the
// lease and charges every zone, as Acquire and Limit would.
func testAcquireLimitAdmitted(e *env) {
	h := time.Hour
	l, res := e.acquireLimit(leaseKey, "a", hourly(zoneA, 2, 1), hourly(zoneB, 5, 1))
	e.wantState(l, store.Acquired, "value of a")
	e.wantResults(res, allowed(1, h), allowed(4, h))
	e.wantLease(leaseKey, "b", long, store.Held, "value of a")
	e.wantResults(e.limit(hourly(zoneA, 2, 1), hourly(zoneB, 5, 1)), allowed(0, 2*h), allowed(3, 2*h))
}

// testAcquireLimitRefused: a spent zone refuses, charging none of them,
// and the absent lease is taken all the same (its caller releases it).
func testAcquireLimitRefused(e *env) {
	h := time.Hour
	e.wantResults(e.limit(hourly(zoneA, 1, 1)), allowed(0, h))
	l, res := e.acquireLimit(leaseKey, "a", hourly(zoneA, 1, 1), hourly(zoneB, 5, 1))
	e.wantState(l, store.Acquired, "value of a")
	e.wantResults(res, denied(0, h, h), allowed(5, 0))
	e.wantResults(e.limit(hourly(zoneB, 5, 1)), allowed(4, h))
	if !e.release(leaseKey, "a") {
		e.t.Fatal("Release of the lease AcquireLimit took failed")
	}
	e.wantLease(leaseKey, "b", long, store.Acquired, "value of b")
}

// testAcquireLimitHeld: a lease in flight is reported with its holder's
// value and left alone, and the zones are decided (and charged) anyway:
// the caller gives the units back.
func testAcquireLimitHeld(e *env) {
	h := time.Hour
	e.wantLease(leaseKey, "a", long, store.Acquired, "value of a")
	l, res := e.acquireLimit(leaseKey, "b", hourly(zoneA, 2, 1))
	e.wantState(l, store.Held, "value of a")
	e.wantResults(res, allowed(1, h))
	e.refund(store.Charged([]store.LimitRequest{hourly(zoneA, 2, 1)})...)
	e.wantResults(e.limit(hourly(zoneA, 2, 1)), allowed(1, h))
	if !e.complete(leaseKey, "a", "done by a", long) {
		e.t.Fatal("the holder's Complete failed after AcquireLimit found its lease")
	}
}

// testAcquireLimitCompleted: a completed record is reported and kept.
func testAcquireLimitCompleted(e *env) {
	h := time.Hour
	e.wantLease(leaseKey, "a", long, store.Acquired, "value of a")
	if !e.complete(leaseKey, "a", "done by a", long) {
		e.t.Fatal("Complete failed")
	}
	l, res := e.acquireLimit(leaseKey, "b", hourly(zoneA, 1, 1))
	e.wantState(l, store.Completed, "done by a")
	e.wantResults(res, allowed(0, h))
	e.wantLease(leaseKey, "c", long, store.Completed, "done by a")
}

// testAcquireLimitNoZones: without zones it is Acquire.
func testAcquireLimitNoZones(e *env) {
	l, res := e.acquireLimit(leaseKey, "a")
	e.wantState(l, store.Acquired, "value of a")
	if res != nil {
		e.t.Fatalf("results %v without zones, want nil", res)
	}
	l, _ = e.acquireLimit(leaseKey, "b")
	e.wantState(l, store.Held, "value of a")
}

// testAcquireLimitOwedRefund: units given back in the call (Refund, as
// Limit takes them) count before its decision.
func testAcquireLimitOwedRefund(e *env) {
	h := time.Hour
	e.wantResults(e.limit(hourly(zoneA, 1, 1)), allowed(0, h))
	back := hourly(zoneA, 1, 1)
	back.Refund = 1
	_, res := e.acquireLimit(leaseKey, "a", back)
	e.wantResults(res, allowed(0, h))
}

// testAcquireLimitInvalid: a call that Limit or Acquire would refuse takes
// no lease and charges nothing.
func testAcquireLimitInvalid(e *env) {
	tests := []struct {
		name string
		ttl  time.Duration
		reqs []store.LimitRequest
		want error
	}{
		{"zones across tags", long, []store.LimitRequest{hourly(zoneA, 5, 1), hourly(store.Key("u2", "rl", "user"), 5, 1)}, store.ErrCrossSlot},
		{"invalid zone", long, []store.LimitRequest{hourly(zoneA, 1, 2)}, store.ErrInvalidLimit},
		{"zero ttl", 0, []store.LimitRequest{hourly(zoneA, 5, 1)}, store.ErrInvalidTTL},
	}
	for _, tc := range tests {
		e.t.Run(tc.name, func(t *testing.T) {
			_, _, err := e.s.AcquireLimit(e.ctx, leaseKey, "a", nil, tc.ttl, tc.reqs)
			if !errors.Is(err, tc.want) || errors.Is(err, store.ErrUnavailable) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
	e.wantLease(leaseKey, "b", long, store.Acquired, "value of b")
	e.wantResults(e.limit(hourly(zoneA, 5, 1)), allowed(4, time.Hour))
}
