// Package storetest is the contract suite every store.Store backend must
// pass, and the benchmarks that compare the backends.
//
// A backend on a fake clock (Memory) is checked to the microsecond. A
// backend on real time (Redis runs the GCRA on its server's clock) is given
// short lifetimes and polled until what the test waits for has happened, so
// no test sleeps.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/store"
)

// Harness adapts one backend to Run.
type Harness struct {
	// New returns a fresh, empty store for one test. Tests run in
	// parallel, each with its own store, which the suite closes when the
	// test ends.
	New func(t *testing.T) Backend
	// FakeClock says that Backend.Advance moves the store's clock; it adds
	// the tests that only a fake clock can decide.
	FakeClock bool
}

// Backend is one store under test.
type Backend struct {
	Store store.Store
	// Advance moves Store's clock forward by d. It is nil when Store runs
	// on real time.
	Advance func(d time.Duration)
}

// realSlack is how much later than asked a real-time backend may show the
// passing of time: what the suite waits for must happen within its
// duration plus realSlack, and a duration a real-time store reports may be
// short by as much as realSlack of time that passed between two calls.
const realSlack = 10 * time.Second

// pollInterval is how often a real-time backend is polled.
const pollInterval = 5 * time.Millisecond

// Run runs the contract suite against the backend h makes.
func Run(t *testing.T, h Harness) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Limit", limitTests},
		{"Lease", leaseTests},
		{"AcquireLimit", acquireLimitTests},
		{"KV", kvTests},
		{"Lifecycle", lifecycleTests},
		{"Concurrent", concurrencyTests},
		{"Ranked", rankedTests},
	}
	if h.FakeClock {
		groups = append(groups, struct {
			name  string
			tests []test
		}{"FakeClock", append(fakeClockTests, rankedFakeClockTests...)})
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(newEnv(t, h))
				})
			}
		})
	}
}

// fakeClockTests need time to pass without the store's TTLs running down
// meanwhile, which only a fake clock can show.
var fakeClockTests = []test{
	{"LeaseHeldKeepsTTL", testLeaseHeldKeepsTTL},
	{"LimitHeldExpires", testLimitHeldExpires},
	{"SetKeepsWithoutTTL", testSetKeepsWithoutTTL},
}

// test is one case of the suite.
type test struct {
	name string
	run  func(e *env)
}

// env is a test's store with helpers that fail the test on an unexpected
// error.
type env struct {
	t       *testing.T
	s       store.Store
	advance func(time.Duration)
	ctx     context.Context
	closed  bool
}

func newEnv(t *testing.T, h Harness) *env {
	b := h.New(t)
	e := &env{t: t, s: b.Store, advance: b.Advance, ctx: context.Background()}
	t.Cleanup(func() {
		if e.closed {
			return
		}
		if err := e.s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// sub returns e for t, a subtest of e's test.
func (e *env) sub(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// fake reports whether the store runs on a clock the test drives.
func (e *env) fake() bool {
	return e.advance != nil
}

// slack is how far a duration the store reports may fall short of the value
// a stopped clock would give.
func (e *env) slack() time.Duration {
	if e.fake() {
		return 0
	}
	return realSlack
}

// waitFor lets d of the store's time pass and then requires cond. On a fake
// clock it advances the clock by d and checks cond once; on real time it
// polls cond until it holds, and fails after d plus realSlack.
func (e *env) waitFor(d time.Duration, what string, cond func() bool) {
	e.t.Helper()
	if e.fake() {
		e.advance(d)
		if !cond() {
			e.t.Fatalf("%s: not so after %v", what, d)
		}
		return
	}
	deadline := time.Now().Add(d + realSlack)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: not so after %v", what, d+realSlack)
		}
		<-tick.C
	}
}

// expiresAfter checks that present holds until d has passed and stops
// holding then: to the microsecond on a fake clock, by polling on real time.
// The first call of present that finds it gone may change the store (take
// a lease, say); nothing calls it again after that.
func (e *env) expiresAfter(d time.Duration, what string, present func() bool) {
	e.t.Helper()
	rest := d
	if e.fake() {
		rest = time.Microsecond
		e.advance(d - rest)
		if !present() {
			e.t.Fatalf("%s: gone %v before its time", what, rest)
		}
	}
	e.waitFor(rest, what+" gone", func() bool { return !present() })
}
