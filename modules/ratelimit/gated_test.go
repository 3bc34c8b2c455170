package ratelimit

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/store"
)

// recordingGate is a gate over a store that records its calls; proceed
// and fail decide its answer.
type recordingGate struct {
	s       store.Store
	calls   [][]store.LimitRequest
	proceed bool
	fail    error
}

func (g *recordingGate) gate(ctx context.Context, reqs []store.LimitRequest) ([]store.LimitResult, bool, error) {
	g.calls = append(g.calls, reqs)
	if g.fail != nil {
		return nil, false, g.fail
	}
	res, err := g.s.Limit(ctx, reqs)
	return res, g.proceed && err == nil, err
}

// limitCounter is a store that counts its Limit and Refund calls.
type limitCounter struct {
	store.Store
	limits, refunds int
}

func (c *limitCounter) Limit(ctx context.Context, reqs []store.LimitRequest) ([]store.LimitResult, error) {
	c.limits++
	return c.Store.Limit(ctx, reqs)
}

func (c *limitCounter) Refund(ctx context.Context, reqs []store.LimitRequest) error {
	c.refunds++
	return c.Store.Refund(ctx, reqs)
}

// gatedStage is a stage whose own store counts Limit calls, and a gate on
// the same store.
func gatedStage(t *testing.T, h *Handler) (*stage, *limitCounter, *recordingGate) {
	t.Helper()
	s := newStage(t, h)
	counter := &limitCounter{Store: s.store}
	h.store = counter
	return s, counter, &recordingGate{s: s.store, proceed: true}
}

// TestGatedDecidesThroughTheGate: the zones' decision is the gate's one
// call, never a Limit of the stage's own; headers and refusals are as
// without a gate.
func TestGatedDecidesThroughTheGate(t *testing.T) {
	s, counter, g := gatedStage(t, &Handler{Zones: []Zone{hourly("ip", 2)}})
	for i := range 2 {
		res := s.serve(call{gate: g.gate})
		mustPass(t, res)
		if r := remaining(t, res, "ip"); r != 1-i {
			t.Fatalf("request %d: r=%d, want %d", i+1, r, 1-i)
		}
	}
	mustRefuse(t, s.serve(call{gate: g.gate}))
	if len(g.calls) != 3 || counter.limits != 0 {
		t.Errorf("%d gate calls and %d Limit calls of the stage, want 3 and 0", len(g.calls), counter.limits)
	}
}

// TestGateErrorIsReturned: a gate error is the request's answer, as it
// is: no fallback admits it (the zone allows on store failure), and next
// never runs.
func TestGateErrorIsReturned(t *testing.T) {
	z := hourly("ip", 2)
	z.OnStoreFailure = FailAllow
	s, _, g := gatedStage(t, &Handler{Zones: []Zone{z}})
	e := apierror.StoreUnavailable.WithCause(errors.New("lease"))
	g.fail = caddyhttp.Error(e.Status, e)
	res := s.serve(call{gate: g.gate})
	if res.passed || res.err != e {
		t.Fatalf("passed=%v err=%v, want the gate's error", res.passed, res.err)
	}
	if h := res.header.Get("RateLimit"); h != "" {
		t.Errorf("RateLimit %q on a failed gate, want none", h)
	}
}

// TestGateThatDoesNotProceed: the caller answers; the stage neither
// calls next, nor sets headers, nor settles its outcome zones, and owes
// back what the call charged, so that it rides the key's next call: no
// Refund of its own. A call that refused charged nothing and owes nothing.
func TestGateThatDoesNotProceed(t *testing.T) {
	s, counter, g := gatedStage(t, &Handler{Zones: []Zone{hourly("ip", 2), outcomeZone(2)}})
	g.proceed = false
	res := s.serve(call{gate: g.gate})
	if res.passed || res.err != nil {
		t.Fatalf("passed=%v err=%v, want nothing done", res.passed, res.err)
	}
	if h := res.header.Get("RateLimit"); h != "" {
		t.Errorf("RateLimit %q, want none", h)
	}
	if counter.refunds != 0 {
		t.Errorf("%d Refund calls, want none: the units ride the next call", counter.refunds)
	}
	g.proceed = true
	mustPass(t, s.serve(call{gate: g.gate}))
	if len(g.calls) != 2 || len(g.calls[1]) != 2 || g.calls[1][0].Refund != 1 || g.calls[1][1].Refund != 1 {
		t.Fatalf("gate calls %+v, want the second to give back what the first charged in each zone", g.calls)
	}

	t.Run("refused", func(t *testing.T) {
		s, _, g := gatedStage(t, &Handler{Zones: []Zone{hourly("ip", 1)}})
		mustPass(t, s.serve(call{gate: g.gate}))
		g.proceed = false
		if res := s.serve(call{gate: g.gate}); res.passed || res.err != nil {
			t.Fatalf("passed=%v err=%v, want nothing done", res.passed, res.err)
		}
		if back := s.h.owed.take(clientIP); back != nil {
			t.Errorf("owed %v after a refused call, which charged nothing", back)
		}
	})
}

// TestGatedOwedUnits: what an outcome zone owes goes back inside the
// gate's call.
func TestGatedOwedUnits(t *testing.T) {
	s, counter, g := gatedStage(t, &Handler{Zones: []Zone{outcomeZone(2)}})
	mustPass(t, s.serve(call{gate: g.gate}))
	mustPass(t, s.serve(call{gate: g.gate}))
	if len(g.calls) != 2 || len(g.calls[1]) != 1 || g.calls[1][0].Refund != 1 {
		t.Fatalf("gate calls %+v, want the second to give back the first's unit", g.calls)
	}
	if counter.limits != 0 {
		t.Errorf("%d Limit calls of the stage, want 0", counter.limits)
	}
}

// TestGateSkipped: a request no zone applies to reaches next without the
// gate, which its caller must then stand in for.
func TestGateSkipped(t *testing.T) {
	userZone := Zone{Name: "user", Key: "{paygate.user}", Rate: 1, Period: hourly("x", 1).Period, Burst: 1}
	create := Zone{Name: "create", Key: "{paygate.client_ip}", Rate: 1, Period: hourly("x", 1).Period, Burst: 1,
		Match: []Endpoint{{http.MethodPost, "/v1/payment_intents"}}}
	for _, tc := range []struct {
		name string
		z    Zone
	}{
		{"empty key", userZone},
		{"no zone applies", create},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _, g := gatedStage(t, &Handler{Zones: []Zone{tc.z}})
			mustPass(t, s.serve(call{gate: g.gate}))
			if len(g.calls) != 0 {
				t.Errorf("%d gate calls, want 0", len(g.calls))
			}
		})
	}
}
