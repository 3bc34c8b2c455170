package idempotency

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/ratezone"
	"github.com/paygate/paygate/internal/store"
)

// fakeLimits is a rate-limit stage with one zone (burst units an hour for
// everyone) that decides through the gate as redis_rate_limit does: the
// idempotency stage's side of the protocol, without the module (modules
// never import each other; e2e runs the real one).
type fakeLimits struct {
	zone store.LimitRequest
	// skip hands every request on without asking the gate, as the stage
	// does when no zone applies (no user, another endpoint).
	skip bool
	// back is where the units charged to a request the gate's caller
	// answered go back: the real stage owes them to the user's next call;
	// the fake gives them back at once, past the fixture's call counter.
	back store.Store

	mu sync.Mutex
	// plain counts ServeHTTP calls, gates the gate's.
	plain, gates int
}

func newFakeLimits(burst int64) *fakeLimits {
	return &fakeLimits{zone: store.LimitRequest{Key: store.Key("alice", "rl", "user"), Rate: 1, Period: time.Hour, Burst: burst, Cost: 1}}
}

func (l *fakeLimits) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	l.mu.Lock()
	l.plain++
	l.mu.Unlock()
	return next.ServeHTTP(w, r)
}

var errLimited = apierror.New(http.StatusTooManyRequests, apierror.TypeRateLimit, "rate_limited", "Too many requests.")

func (l *fakeLimits) ServeGated(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, gate ratezone.Gate) error {
	if l.skip {
		return next.ServeHTTP(w, r)
	}
	l.mu.Lock()
	l.gates++
	l.mu.Unlock()
	res, proceed, err := gate(r.Context(), []store.LimitRequest{l.zone})
	if err != nil {
		return err
	}
	if !proceed {
		if res[0].Allowed {
			return l.back.Refund(r.Context(), []store.LimitRequest{l.zone})
		}
		return nil
	}
	if !res[0].Allowed {
		return caddyhttp.Error(errLimited.Status, errLimited)
	}
	return next.ServeHTTP(w, r)
}

// callCounter is a store that counts its calls by operation: each is a
// round trip on a single Redis.
type callCounter struct {
	store.Store
	mu    sync.Mutex
	calls map[string]int
}

func (c *callCounter) count(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[op]++
}

// take returns the calls counted since the last take.
func (c *callCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = map[string]int{}
	return out
}

func (c *callCounter) Limit(ctx context.Context, reqs []store.LimitRequest) ([]store.LimitResult, error) {
	c.count("limit")
	return c.Store.Limit(ctx, reqs)
}

func (c *callCounter) Refund(ctx context.Context, reqs []store.LimitRequest) error {
	c.count("refund")
	return c.Store.Refund(ctx, reqs)
}

func (c *callCounter) Acquire(ctx context.Context, key, owner string, value []byte, ttl time.Duration) (store.Lease, error) {
	c.count("acquire")
	return c.Store.Acquire(ctx, key, owner, value, ttl)
}

func (c *callCounter) AcquireLimit(ctx context.Context, key, owner string, value []byte, ttl time.Duration, reqs []store.LimitRequest) (store.Lease, []store.LimitResult, error) {
	c.count("acquire_limit")
	return c.Store.AcquireLimit(ctx, key, owner, value, ttl, reqs)
}

func (c *callCounter) Complete(ctx context.Context, key, owner string, value []byte, retention time.Duration) (bool, error) {
	c.count("complete")
	return c.Store.Complete(ctx, key, owner, value, retention)
}

func (c *callCounter) Release(ctx context.Context, key, owner string) (bool, error) {
	c.count("release")
	return c.Store.Release(ctx, key, owner)
}

// limitedFixture is a fixture whose stage holds limits, on a store that
// counts its calls.
func limitedFixture(t *testing.T, limits *fakeLimits) (*fixture, *callCounter) {
	t.Helper()
	m := store.NewMemory(time.Now)
	t.Cleanup(func() { _ = m.Close() })
	c := &callCounter{Store: m, calls: map[string]int{}}
	f := setUpFixture(t, c, &Handler{SealKeys: freshSealKey(t)})
	limits.back = m
	f.h.limits = limits
	return f, c
}

// wantCalls requires the store calls since the last check to be want.
func wantCalls(t *testing.T, c *callCounter, what string, want map[string]int) {
	t.Helper()
	got := c.take()
	if len(got) != len(want) {
		t.Errorf("%s: store calls %v, want %v", what, got, want)
		return
	}
	for op, n := range want {
		if got[op] != n {
			t.Errorf("%s: store calls %v, want %v", what, got, want)
			return
		}
	}
}

// TestLimitsFreshRequestAndReplays: a new key takes its lease and is
// charged in one store call, and its response is recorded with one more;
// replays are answered from the record in one call each (the limits owe
// back what the zones charged them), so the budget is what the new
// requests left.
func TestLimitsFreshRequestAndReplays(t *testing.T) {
	f, calls := limitedFixture(t, newFakeLimits(2))
	next := count(created)
	first := f.serve(post(intents, intentBody, "k1"), "alice", next)
	wantAnswer(t, first, http.StatusCreated)
	wantCalls(t, calls, "fresh request", map[string]int{"acquire_limit": 1, "complete": 1})
	for range 5 {
		wantSame(t, first, f.serve(post(intents, intentBody, "k1"), "alice", next))
	}
	wantCalls(t, calls, "five replays", map[string]int{"acquire_limit": 5})
	// The zone holds 2: the two new requests took them.
	wantAnswer(t, f.serve(post(intents, intentBody, "k2"), "alice", next), http.StatusCreated)
	wantError(t, f.serve(post(intents, intentBody, "k3"), "alice", next), http.StatusTooManyRequests, "rate_limited")
	wantRuns(t, next, 2)
}

// TestLimitsKeyInFlight: a request whose key is in flight is 409 and
// charges nothing: the zone of 2 holds one for another key.
func TestLimitsKeyInFlight(t *testing.T) {
	f, _ := limitedFixture(t, newFakeLimits(2))
	next, finish := f.inFlight("k1")
	for range 3 {
		wantError(t, f.serve(post(intents, intentBody, "k1"), "alice", next), http.StatusConflict, "idempotency_key_in_use")
	}
	wantAnswer(t, f.serve(post(intents, intentBody, "k2"), "alice", next), http.StatusCreated)
	wantAnswer(t, finish(), http.StatusCreated)
	wantRuns(t, next, 2)
}

// TestLimitsRefusalReleasesTheLease: a request the limits refuse took the
// lease with its decision; the lease is released, so that the same key
// runs once the zone admits it again.
func TestLimitsRefusalReleasesTheLease(t *testing.T) {
	limits := newFakeLimits(1)
	f, calls := limitedFixture(t, limits)
	next := count(created)
	wantAnswer(t, f.serve(post(intents, intentBody, "k1"), "alice", next), http.StatusCreated)
	calls.take()
	wantError(t, f.serve(post(intents, intentBody, "k2"), "alice", next), http.StatusTooManyRequests, "rate_limited")
	wantCalls(t, calls, "refused request", map[string]int{"acquire_limit": 1, "release": 1})
	// Time gives the unit back.
	if err := f.store.Refund(t.Context(), []store.LimitRequest{limits.zone}); err != nil {
		t.Fatal(err)
	}
	wantAnswer(t, f.serve(post(intents, intentBody, "k2"), "alice", next), http.StatusCreated)
	wantRuns(t, next, 2)
}

// TestLimitsWithoutTheGate: a request the limits hand on without asking
// the gate (no zone applies) takes the lease on its own: it runs once, and
// its retries replay or are 409 as always.
func TestLimitsWithoutTheGate(t *testing.T) {
	limits := newFakeLimits(1)
	limits.skip = true
	f, calls := limitedFixture(t, limits)
	next, finish := f.inFlight("k1")
	wantError(t, f.serve(post(intents, intentBody, "k1"), "alice", next), http.StatusConflict, "idempotency_key_in_use")
	first := finish()
	wantAnswer(t, first, http.StatusCreated)
	wantSame(t, first, f.serve(post(intents, intentBody, "k1"), "alice", next))
	wantRuns(t, next, 1)
	wantCalls(t, calls, "requests without the gate", map[string]int{"acquire": 3, "complete": 1})
}

// TestLimitsStoreUnavailable: a lease the store cannot give is 503
// store_unavailable through the gate too, and nothing runs.
func TestLimitsStoreUnavailable(t *testing.T) {
	for _, skip := range []bool{false, true} {
		limits := newFakeLimits(5)
		limits.skip = skip
		f, _ := limitedFixture(t, limits)
		next := count(created)
		_ = f.store.Close()
		got := f.serve(post(intents, intentBody, "k1"), "alice", next)
		wantError(t, got, http.StatusServiceUnavailable, "store_unavailable")
		if !errors.Is(got.err, store.ErrUnavailable) {
			t.Errorf("skip %v: cause %v does not wrap store.ErrUnavailable", skip, got.err.Cause)
		}
		wantRuns(t, next, 0)
	}
}

// TestLimitsSeeOtherRequests: a request the stage does not de-duplicate
// goes through the limits' ServeHTTP, as if they followed the stage.
func TestLimitsSeeOtherRequests(t *testing.T) {
	limits := newFakeLimits(5)
	f, _ := limitedFixture(t, limits)
	next := count(created)
	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "https://pay.example.com"+intents+"/pi_123", nil),
		post("/v1/payment_intents/pi_123/cancel", intentBody),
		post("/v1/refunds", intentBody, "k"),
	} {
		wantAnswer(t, f.serve(r, "alice", next), http.StatusCreated)
	}
	if limits.plain != 3 || limits.gates != 0 {
		t.Errorf("limits served %d plainly and %d gated, want 3 and 0", limits.plain, limits.gates)
	}
}

// TestLimitsMustBeARateLimit: the limits block takes a redis_rate_limit
// stage only.
func TestLimitsMustBeARateLimit(t *testing.T) {
	for _, raw := range []string{`{"handler":"rate_limit"}`, `{"zones":[]}`, `[]`} {
		m := store.NewMemory(time.Now)
		t.Cleanup(func() { _ = m.Close() })
		h := &Handler{SealKeys: freshSealKey(t), LimitsRaw: json.RawMessage(raw)}
		err := h.setUp(m, zap.NewNop(), nil)
		if err == nil || !strings.Contains(err.Error(), "limits") {
			t.Errorf("limits %s: %v, want an error naming limits", raw, err)
		}
	}
}
