package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/store"
)

var leaseTests = []test{
	{"Acquire", testLeaseAcquire},
	{"Complete", testLeaseComplete},
	{"Release", testLeaseRelease},
	{"Renew", testLeaseRenew},
	{"Absent", testLeaseAbsent},
	{"Expires", testLeaseExpires},
	{"CompletedExpires", testLeaseCompletedExpires},
	{"InvalidTTL", testLeaseInvalidTTL},
}

const long = time.Hour

func testLeaseAcquire(e *env) {
	k := store.Key("u1", "idem", "k1")
	e.wantLease(k, "a", long, store.Acquired, "value of a")
	e.wantLease(k, "a", long, store.Held, "value of a")
	e.wantLease(k, "b", long, store.Held, "value of a")
}

func testLeaseComplete(e *env) {
	k := store.Key("u1", "idem", "k1")
	e.wantLease(k, "a", long, store.Acquired, "value of a")
	if e.complete(k, "b", "by b", long) {
		e.t.Fatal("Complete by a non-holder succeeded")
	}
	e.wantLease(k, "b", long, store.Held, "value of a")
	if !e.complete(k, "a", "done by a", long) {
		e.t.Fatal("Complete by the holder failed")
	}
	e.wantLease(k, "b", long, store.Completed, "done by a")
	if e.complete(k, "a", "again", long) {
		e.t.Fatal("second Complete succeeded")
	}
	if e.release(k, "a") {
		e.t.Fatal("Release of a completed record succeeded")
	}
	e.wantLease(k, "a", long, store.Completed, "done by a")
}

func testLeaseRelease(e *env) {
	k := store.Key("u1", "idem", "k1")
	e.wantLease(k, "a", long, store.Acquired, "value of a")
	if e.release(k, "b") {
		e.t.Fatal("Release by a non-holder succeeded")
	}
	e.wantLease(k, "b", long, store.Held, "value of a")
	if !e.release(k, "a") {
		e.t.Fatal("Release by the holder failed")
	}
	if e.release(k, "a") {
		e.t.Fatal("second Release succeeded")
	}
	if e.complete(k, "a", "late", long) {
		e.t.Fatal("Complete after Release succeeded")
	}
	e.wantLease(k, "b", long, store.Acquired, "value of b")
}

// testLeaseRenew: only the holder renews, and only its live lease; a
// renewed lease outlives its first TTL.
func testLeaseRenew(e *env) {
	k := store.Key("u1", "idem", "k1")
	if e.renew(k, "a", long) {
		e.t.Fatal("Renew of an absent lease succeeded")
	}
	const ttl = 300 * time.Millisecond
	e.wantLease(k, "a", ttl, store.Acquired, "value of a")
	if e.renew(k, "b", long) {
		e.t.Fatal("Renew by a non-holder succeeded")
	}
	if !e.renew(k, "a", long) {
		e.t.Fatal("Renew by the holder failed")
	}
	// Renewed for an hour: still held once the first TTL has passed
	// (each Acquire below changes nothing while it is held).
	deadline := time.Now().Add(2 * ttl)
	for time.Now().Before(deadline) {
		e.wantLease(k, "b", long, store.Held, "value of a")
	}
	if !e.complete(k, "a", "done by a", long) {
		e.t.Fatal("Complete after Renew failed")
	}
	if e.renew(k, "a", long) {
		e.t.Fatal("Renew of a completed record succeeded")
	}
	e.wantLease(k, "b", long, store.Completed, "done by a")
}

func testLeaseAbsent(e *env) {
	k := store.Key("u1", "idem", "none")
	if e.complete(k, "a", "v", long) {
		e.t.Error("Complete of an absent lease succeeded")
	}
	if e.release(k, "a") {
		e.t.Error("Release of an absent lease succeeded")
	}
	e.wantLease(k, "a", long, store.Acquired, "value of a")
}

// testLeaseExpires: a lease whose TTL passed is absent, and its former
// holder can neither complete nor release the new one.
func testLeaseExpires(e *env) {
	k := store.Key("u1", "idem", "k1")
	const ttl = 100 * time.Millisecond
	e.wantLease(k, "a", ttl, store.Acquired, "value of a")
	e.expiresAfter(ttl, "lease", func() bool {
		return e.acquire(k, "b", "value of b", long).State == store.Held
	})
	if e.complete(k, "a", "late", long) || e.release(k, "a") {
		e.t.Fatal("the expired holder changed the new lease")
	}
	e.wantLease(k, "c", long, store.Held, "value of b")
	if !e.complete(k, "b", "done by b", long) {
		e.t.Fatal("Complete by the new holder failed")
	}
	e.wantLease(k, "c", long, store.Completed, "done by b")
}

// testLeaseHeldKeepsTTL: Acquire finding a lease changes nothing, not even
// its TTL. Only a fake clock can tell.
func testLeaseHeldKeepsTTL(e *env) {
	k := store.Key("u1", "idem", "k1")
	e.wantLease(k, "a", 10*time.Second, store.Acquired, "value of a")
	e.advance(6 * time.Second)
	e.wantLease(k, "a", 10*time.Second, store.Held, "value of a")
	e.advance(4 * time.Second)
	e.wantLease(k, "b", 10*time.Second, store.Acquired, "value of b")
}

func testLeaseCompletedExpires(e *env) {
	k := store.Key("u1", "idem", "k1")
	const retention = 100 * time.Millisecond
	e.wantLease(k, "a", long, store.Acquired, "value of a")
	if !e.complete(k, "a", "done", retention) {
		e.t.Fatal("Complete failed")
	}
	e.expiresAfter(retention, "completed record", func() bool {
		return e.acquire(k, "b", "value of b", long).State == store.Completed
	})
	e.wantLease(k, "c", long, store.Held, "value of b")
}

func testLeaseInvalidTTL(e *env) {
	k := store.Key("u1", "idem", "k1")
	tests := []struct {
		name string
		call func() error
	}{
		{"acquire zero", func() error {
			_, err := e.s.Acquire(e.ctx, k, "a", nil, 0)
			return err
		}},
		{"acquire negative", func() error {
			_, err := e.s.Acquire(e.ctx, k, "a", nil, -time.Second)
			return err
		}},
		{"complete zero", func() error {
			_, err := e.s.Complete(e.ctx, k, "a", nil, 0)
			return err
		}},
		{"renew zero", func() error {
			_, err := e.s.Renew(e.ctx, k, "a", 0)
			return err
		}},
	}
	for _, tc := range tests {
		e.t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, store.ErrInvalidTTL) || errors.Is(err, store.ErrUnavailable) {
				t.Errorf("got %v, want ErrInvalidTTL", err)
			}
		})
	}
	e.wantLease(k, "a", long, store.Acquired, "value of a")
	if _, err := e.s.Complete(e.ctx, k, "a", nil, 0); !errors.Is(err, store.ErrInvalidTTL) {
		e.t.Fatalf("Complete with retention 0: %v, want ErrInvalidTTL", err)
	}
	e.wantLease(k, "b", long, store.Held, "value of a")
}
