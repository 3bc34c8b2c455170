package testenv

import (
	"testing"
	"time"
)

// WaitTimeout bounds each wait of the kit (Eventually, WaitForLog,
// WaitForMetric): generous, since the machine running the tests may be
// busy, and yet a bound, so that a condition that never holds fails the test
// instead of hanging it.
const WaitTimeout = 20 * time.Second

// pollInterval is how often Eventually checks its condition again.
const pollInterval = 10 * time.Millisecond

// Eventually checks cond until it holds, and fails the test, naming what,
// when it does not within WaitTimeout. It is for conditions nothing signals;
// a log line has WaitForLog and a metric WaitForMetric.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	EventuallyTelling(t, func() string { return what }, cond)
}

// EventuallyTelling is Eventually with the failure's description made when
// it fails, so that it can tell the last state cond saw.
func EventuallyTelling(t testing.TB, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", WaitTimeout, what())
		}
		<-tick.C
	}
}
