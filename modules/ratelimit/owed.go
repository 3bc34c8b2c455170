package ratelimit

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/store"
)

// owedDelay is how long units owed back to the shared store wait for a
// request on their key before a flush gives them back on their own.
const owedDelay = 250 * time.Millisecond

// owed holds the units this stage took in the shared store for requests
// that turned out not to count, not given back yet: a deferred zone's
// unit held with a response that did not count (see settle), and what a
// gate's call charged a request its caller answered itself (a replay, a
// key in flight; see decide); and the holds to let go of, of responses
// that counted too. They go back in the store call of the next request on
// the same key, inside its one atomic script and before its decision, or
// by a flush within owedDelay: so a settled request costs no round trip of
// its own under load. Giving a unit back later than the response only
// keeps the zone stricter meanwhile, never looser.
type owed struct {
	mu sync.Mutex
	by map[string]*debt
}

// debt is what one key (a subject: all of a stage's counters for it share
// its hash tag) is owed: units per counter, as pure refunds (Cost 0), and
// held units to let go of (Release).
type debt struct {
	since time.Time
	reqs  []store.LimitRequest
}

func newOwed() *owed { return &owed{by: map[string]*debt{}} }

// add owes back to key's counters what reqs (the zones' charged requests)
// cost, and lets go of the units they held.
func (o *owed) add(key string, reqs []store.LimitRequest, now time.Time) {
	o.owe(key, reqs, func(r store.LimitRequest) (int64, int64) { return r.Cost, heldBy(r) }, now)
}

// letGo lets go of the units reqs (the zones' charged requests) held,
// without giving them back: their outcome counted.
func (o *owed) letGo(key string, reqs []store.LimitRequest, now time.Time) {
	o.owe(key, reqs, func(r store.LimitRequest) (int64, int64) { return 0, heldBy(r) }, now)
}

// heldBy is how many units a charged request r holds.
func heldBy(r store.LimitRequest) int64 {
	if r.Hold {
		return r.Cost
	}
	return 0
}

// restore owes reqs (pure refunds that could not be given back) again.
func (o *owed) restore(key string, reqs []store.LimitRequest, now time.Time) {
	o.owe(key, reqs, func(r store.LimitRequest) (int64, int64) { return r.Refund, r.Release }, now)
}

// owe adds units(r), refunded and released, to what key's counter of each
// of reqs is owed.
func (o *owed) owe(key string, reqs []store.LimitRequest, units func(store.LimitRequest) (int64, int64), now time.Time) {
	if len(reqs) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	d := o.by[key]
	if d == nil {
		d = &debt{since: now}
		o.by[key] = d
	}
	for _, r := range reqs {
		if refund, release := units(r); refund > 0 || release > 0 {
			d.owe(r, refund, release)
		}
	}
	if len(d.reqs) == 0 {
		delete(o.by, key)
	}
}

// owe adds refund and release units to r's counter, each up to its burst:
// more would change nothing.
func (d *debt) owe(r store.LimitRequest, refund, release int64) {
	for i := range d.reqs {
		if d.reqs[i].Key == r.Key {
			d.reqs[i].Refund = min(d.reqs[i].Refund+refund, r.Burst)
			d.reqs[i].Release = min(d.reqs[i].Release+release, r.Burst)
			return
		}
	}
	r.Cost, r.Hold, r.Refund, r.Release = 0, false, min(refund, r.Burst), min(release, r.Burst)
	d.reqs = append(d.reqs, r)
}

// take removes and returns what key is owed.
func (o *owed) take(key string) []store.LimitRequest {
	o.mu.Lock()
	defer o.mu.Unlock()
	d := o.by[key]
	if d == nil {
		return nil
	}
	delete(o.by, key)
	return d.reqs
}

// due removes and returns the debts at least owedDelay old at now, all of
// them when all is set.
func (o *owed) due(now time.Time, all bool) map[string][]store.LimitRequest {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string][]store.LimitRequest{}
	for key, d := range o.by {
		if all || now.Sub(d.since) >= owedDelay {
			out[key] = d.reqs
			delete(o.by, key)
		}
	}
	return out
}

// withOwed returns the requests of one store call: the zones' requests,
// carrying what their counters are owed, then pure refunds for the key's
// other owed counters.
func withOwed(reqs, back []store.LimitRequest) []store.LimitRequest {
	if len(back) == 0 {
		return reqs
	}
	out := make([]store.LimitRequest, len(reqs), len(reqs)+len(back))
	copy(out, reqs)
next:
	for _, b := range back {
		for i := range out {
			if out[i].Key == b.Key {
				out[i].Refund, out[i].Release = b.Refund, b.Release
				continue next
			}
		}
		out = append(out, b)
	}
	return out
}

// flushBudget bounds one flush, however many keys are owed: a store that
// is down must not hold up the flusher, nor a config reload (Cleanup).
const flushBudget = 2 * time.Second

// flush gives back the debts due at now (all of them when all is set), one
// store call per key, within flushBudget. The first call that fails ends
// it: the debts not given back are kept for the next flush, unless all is
// set (the stage is going away: the units return with time).
func (h *Handler) flush(now time.Time, all bool) {
	due := h.owed.due(now, all)
	ctx, cancel := context.WithTimeout(context.Background(), flushBudget)
	defer cancel()
	var failed error
	for key, reqs := range due {
		if failed == nil {
			refunds := make([]store.LimitRequest, len(reqs))
			for i, r := range reqs {
				r.Cost, r.Refund = r.Refund, 0
				refunds[i] = r
			}
			if failed = h.store.Refund(ctx, refunds); failed == nil {
				continue
			}
		}
		if !all {
			h.owed.restore(key, reqs, now)
		}
	}
	if failed != nil {
		h.logger.Warn("giving back reserved rate-limit units failed", zap.Bool("retrying", !all), zap.Error(failed))
	}
}

// flushEvery flushes due debts until stop is closed, then all of them.
func (h *Handler) flushEvery(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(owedDelay / 2)
	defer t.Stop()
	for {
		select {
		case <-stop:
			h.flush(h.now(), true)
			return
		case <-t.C:
			h.flush(h.now(), false)
		}
	}
}
