package storetest

import (
	"fmt"
	"time"

	"github.com/paygate/paygate/internal/store"
)

// The env's store calls, failing the test on an error; values are strings
// for readable comparisons.

func (e *env) limit(reqs ...store.LimitRequest) []store.LimitResult {
	e.t.Helper()
	res, err := e.s.Limit(e.ctx, reqs)
	if err != nil {
		e.t.Fatalf("Limit: %v", err)
	}
	if len(res) != len(reqs) {
		e.t.Fatalf("Limit returned %d results for %d zones", len(res), len(reqs))
	}
	return res
}

func (e *env) refund(reqs ...store.LimitRequest) {
	e.t.Helper()
	if err := e.s.Refund(e.ctx, reqs); err != nil {
		e.t.Fatalf("Refund: %v", err)
	}
}

func (e *env) acquire(key, owner, value string, ttl time.Duration) store.Lease {
	e.t.Helper()
	l, err := e.s.Acquire(e.ctx, key, owner, []byte(value), ttl)
	if err != nil {
		e.t.Fatalf("Acquire(%s, %s): %v", key, owner, err)
	}
	return l
}

// wantLease requires Acquire(key, owner) to find state and value.
func (e *env) wantLease(key, owner string, ttl time.Duration, state store.LeaseState, value string) {
	e.t.Helper()
	if got, want := e.acquire(key, owner, "value of "+owner, ttl), (store.Lease{State: state, Value: []byte(value)}); !sameLease(got, want) {
		e.t.Fatalf("Acquire(%s, %s) = %s, want %s", key, owner, leaseString(got), leaseString(want))
	}
}

func (e *env) complete(key, owner, value string, retention time.Duration) bool {
	e.t.Helper()
	ok, err := e.s.Complete(e.ctx, key, owner, []byte(value), retention)
	if err != nil {
		e.t.Fatalf("Complete(%s, %s): %v", key, owner, err)
	}
	return ok
}

func (e *env) renew(key, owner string, ttl time.Duration) bool {
	e.t.Helper()
	ok, err := e.s.Renew(e.ctx, key, owner, ttl)
	if err != nil {
		e.t.Fatalf("Renew(%s, %s): %v", key, owner, err)
	}
	return ok
}

func (e *env) release(key, owner string) bool {
	e.t.Helper()
	ok, err := e.s.Release(e.ctx, key, owner)
	if err != nil {
		e.t.Fatalf("Release(%s, %s): %v", key, owner, err)
	}
	return ok
}

func (e *env) putIfAbsent(key, value string, ttl time.Duration) bool {
	e.t.Helper()
	ok, err := e.s.PutIfAbsent(e.ctx, key, []byte(value), ttl)
	if err != nil {
		e.t.Fatalf("PutIfAbsent(%s): %v", key, err)
	}
	return ok
}

func (e *env) get(key string) (string, bool) {
	e.t.Helper()
	v, ok, err := e.s.Get(e.ctx, key)
	if err != nil {
		e.t.Fatalf("Get(%s): %v", key, err)
	}
	return string(v), ok
}

// wantValue requires Get(key) to find value, or nothing when present is
// false.
func (e *env) wantValue(key, value string, present bool) {
	e.t.Helper()
	if got, ok := e.get(key); got != value || ok != present {
		e.t.Fatalf("Get(%s) = %q, %t; want %q, %t", key, got, ok, value, present)
	}
}

func (e *env) set(key, value string, ttl time.Duration) {
	e.t.Helper()
	if err := e.s.Set(e.ctx, key, []byte(value), ttl); err != nil {
		e.t.Fatalf("Set(%s): %v", key, err)
	}
}

func (e *env) del(keys ...string) {
	e.t.Helper()
	if err := e.s.Delete(e.ctx, keys...); err != nil {
		e.t.Fatalf("Delete(%v): %v", keys, err)
	}
}

func sameLease(a, b store.Lease) bool {
	return a.State == b.State && string(a.Value) == string(b.Value)
}

func leaseString(l store.Lease) string {
	return fmt.Sprintf("%s %q", l.State, l.Value)
}
