package ratelimit

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/paygate/paygate/internal/store"
)

// countingStore counts the Limit and Refund calls that reach a store, and
// fails them while failing is set.
type countingStore struct {
	store.Store
	limits, refunds atomic.Int64
	failing         atomic.Bool
}

func (s *countingStore) Limit(ctx context.Context, reqs []store.LimitRequest) ([]store.LimitResult, error) {
	s.limits.Add(1)
	if s.failing.Load() {
		return nil, store.ErrUnavailable
	}
	return s.Store.Limit(ctx, reqs)
}

func (s *countingStore) Refund(ctx context.Context, reqs []store.LimitRequest) error {
	s.refunds.Add(1)
	if s.failing.Load() {
		return store.ErrUnavailable
	}
	return s.Store.Refund(ctx, reqs)
}

// failuresStage is a stage whose outcome zone counts 404s (2 at once),
// beside a request zone, on a counting memory store; the stage's clock is
// stopped, so its background flush never finds a unit due.
func failuresStage(t *testing.T) (*stage, *countingStore) {
	t.Helper()
	c := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	m := store.NewMemory(c.Now)
	t.Cleanup(func() { _ = m.Close() })
	cs := &countingStore{Store: m}
	failures := hourly("failures", 2)
	failures.Statuses = []int{http.StatusNotFound}
	failures.OnStoreFailure = FailDeny
	requests := hourly("requests", 100)
	requests.OnStoreFailure = FailDeny
	s := newStageOn(t, &Handler{Zones: []Zone{requests, failures}, now: c.Now}, cs)
	s.clock = c
	return s, cs
}

// TestOwedUnitsRideTheNextCall: the unit an outcome zone reserved for a
// response that did not count goes back inside the next request's one
// store call, so a stream of good requests costs one call each and never
// spends the zone.
func TestOwedUnitsRideTheNextCall(t *testing.T) {
	s, cs := failuresStage(t)
	for range 10 {
		mustPass(t, s.serve(call{}))
	}
	if got, want := cs.limits.Load(), int64(10); got != want {
		t.Errorf("%d Limit calls, want %d", got, want)
	}
	if got := cs.refunds.Load(); got != 0 {
		t.Errorf("%d Refund calls, want none: the units ride the next call", got)
	}
	// The zone was never spent by good requests: two failures still pass.
	for range 2 {
		if res := s.serve(call{next: respond(http.StatusNotFound)}); !res.passed {
			t.Fatal("a failure was refused: good requests spent the zone")
		}
	}
	mustRefuse(t, s.serve(call{next: respond(http.StatusNotFound)}))
}

// TestOwedUnitsFlushed: with no next request, a flush gives the unit back
// once it has waited owedDelay, in one Refund call; a flush that fails
// keeps it for the next one; Cleanup gives back everything still owed.
func TestOwedUnitsFlushed(t *testing.T) {
	s, cs := failuresStage(t)
	mustPass(t, s.serve(call{}))
	mustPass(t, s.serve(call{ip: "203.0.113.8"}))
	now := s.clock.Now()
	s.h.flush(now, false)
	if got := cs.refunds.Load(); got != 0 {
		t.Fatalf("%d Refund calls before owedDelay, want none", got)
	}
	s.h.flush(now.Add(owedDelay), false)
	if got := cs.refunds.Load(); got != 2 {
		t.Fatalf("%d Refund calls after owedDelay, want 2 (one per key)", got)
	}
	// Given back: the key's next call carries nothing, and the zone is
	// whole.
	for range 2 {
		if res := s.serve(call{next: respond(http.StatusNotFound)}); !res.passed {
			t.Fatal("a failure was refused after the flush")
		}
	}

	mustPass(t, s.serve(call{ip: "203.0.113.9"}))
	refunds := cs.refunds.Load()
	if err := s.h.Cleanup(); err != nil {
		t.Fatal(err)
	}
	// One per key: the first lets go of the two failures' holds (their
	// units stay spent), the other gives its unit back.
	if got := cs.refunds.Load() - refunds; got != 2 {
		t.Errorf("Cleanup made %d Refund calls, want 2", got)
	}
}

// TestOwedUnitsKeptWhenTheStoreFails: a call that fails keeps what it was
// to give back, and the next call carries it.
func TestOwedUnitsKeptWhenTheStoreFails(t *testing.T) {
	s, cs := failuresStage(t)
	mustPass(t, s.serve(call{}))
	cs.failing.Store(true)
	if res := s.serve(call{}); res.passed || res.err == nil || res.err.Status != http.StatusServiceUnavailable {
		t.Fatalf("passed=%v err=%v, want 503 from a deny zone", res.passed, res.err)
	}
	cs.failing.Store(false)
	for range 2 {
		if res := s.serve(call{next: respond(http.StatusNotFound)}); !res.passed {
			t.Fatal("a failure was refused: the unit owed was lost with the failed call")
		}
	}
	if got := cs.refunds.Load(); got != 0 {
		t.Errorf("%d Refund calls, want none", got)
	}
}

// TestClientGoneIsNoStoreFailure: when the client hangs up while the store
// call runs, the call fails with the request's context, which says nothing
// about the store: 499, no fallback counted or logged.
func TestClientGoneIsNoStoreFailure(t *testing.T) {
	s, cs := failuresStage(t)
	cs.failing.Store(true)
	before := testutil.ToFloat64(fallbacks.WithLabelValues("requests", FailDeny))
	r := httptest.NewRequest(http.MethodGet, "https://pay.example.com/v1/payment_intents/pi_1", nil)
	repl := caddy.NewReplacer()
	r = caddyhttp.PrepareRequest(r, repl, httptest.NewRecorder(), &caddyhttp.Server{})
	caddyhttp.SetVar(r.Context(), caddyhttp.ClientIPVarKey, clientIP)
	ctx, cancel := context.WithCancel(r.Context())
	cancel()
	err := s.h.ServeHTTP(httptest.NewRecorder(), r.WithContext(ctx), caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		t.Error("next ran")
		return nil
	}))
	if he, ok := errors.AsType[caddyhttp.HandlerError](err); !ok || he.StatusCode != 499 {
		t.Fatalf("ServeHTTP = %v, want 499", err)
	}
	if got := testutil.ToFloat64(fallbacks.WithLabelValues("requests", FailDeny)); got != before {
		t.Errorf("fallbacks counted: %v, want %v", got, before)
	}
	if n := s.logs.FilterMessageSnippet("cannot decide").Len(); n != 0 {
		t.Errorf("%d log lines blame the store", n)
	}
}

// TestFlushStopsAtAnOutage: a flush stops at the first call the store
// fails (a store that is down would fail the others, and a reload waits on
// the last flush), keeping every debt for the next one.
func TestFlushStopsAtAnOutage(t *testing.T) {
	s, cs := failuresStage(t)
	for _, ip := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"} {
		mustPass(t, s.serve(call{ip: ip}))
	}
	cs.failing.Store(true)
	due := s.clock.Now().Add(owedDelay)
	s.h.flush(due, false)
	if got := cs.refunds.Load(); got != 1 {
		t.Fatalf("%d Refund calls while the store is down, want 1", got)
	}
	cs.failing.Store(false)
	s.h.flush(due.Add(owedDelay), false)
	if got := cs.refunds.Load() - 1; got != 4 {
		t.Errorf("%d Refund calls once it is back, want 4: every debt was kept", got)
	}
}
