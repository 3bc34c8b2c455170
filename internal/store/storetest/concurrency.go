package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paygate/paygate/internal/store"
)

// These tests would catch a backend whose operations are not atomic: many
// goroutines race on one key, released at once, for several rounds.

var concurrencyTests = []test{
	{"Limit", testConcurrentLimit},
	{"LimitZones", testConcurrentLimitZones},
	{"Acquire", testConcurrentAcquire},
	{"PutIfAbsent", testConcurrentPutIfAbsent},
	{"CompleteRelease", testConcurrentCompleteRelease},
}

const (
	racers = 64
	rounds = 5
)

// race runs fn(i) for i in [0, racers) on as many goroutines, released
// together, and waits for them. fn reports failures through e.t.Errorf.
func (e *env) race(fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
	if e.t.Failed() {
		e.t.FailNow()
	}
}

func testConcurrentLimit(e *env) {
	for r := range rounds {
		k := store.Key("ip_1", "rl", fmt.Sprint(r))
		const burst, tries = 10, 4
		var admitted atomic.Int64
		e.race(func(int) {
			for range tries {
				res, err := e.s.Limit(e.ctx, []store.LimitRequest{hourly(k, burst, 1)})
				if err != nil {
					e.t.Errorf("Limit: %v", err)
					return
				}
				if res[0].Allowed {
					admitted.Add(1)
				}
			}
		})
		if got := admitted.Load(); got != burst {
			e.t.Fatalf("round %d: %d of %d calls admitted, want the burst, %d", r, got, racers*tries, burst)
		}
	}
}

// testConcurrentLimitZones: the looser zone is charged exactly as often as
// the tighter one admitted.
func testConcurrentLimitZones(e *env) {
	for r := range rounds {
		tight := hourly(store.Key("u1", "rl", "tight", fmt.Sprint(r)), 7, 1)
		loose := hourly(store.Key("u1", "rl", "loose", fmt.Sprint(r)), 20, 1)
		var admitted atomic.Int64
		e.race(func(int) {
			for range 2 {
				res, err := e.s.Limit(e.ctx, []store.LimitRequest{loose, tight})
				if err != nil {
					e.t.Errorf("Limit: %v", err)
					return
				}
				if res[0].Allowed && res[1].Allowed {
					admitted.Add(1)
				}
			}
		})
		if got := admitted.Load(); got != tight.Burst {
			e.t.Fatalf("round %d: %d admitted, want %d", r, got, tight.Burst)
		}
		e.wantResults(e.limit(loose), allowed(loose.Burst-tight.Burst-1, time.Duration(tight.Burst+1)*time.Hour))
	}
}

func testConcurrentAcquire(e *env) {
	for r := range rounds {
		k := store.Key("u1", "idem", fmt.Sprint(r))
		leases := make([]store.Lease, racers)
		e.race(func(i int) {
			l, err := e.s.Acquire(e.ctx, k, fmt.Sprint("owner", i), fmt.Append(nil, "value", i), long)
			if err != nil {
				e.t.Errorf("Acquire: %v", err)
			}
			leases[i] = l
		})
		winner := -1
		for i, l := range leases {
			if l.State == store.Acquired {
				if winner >= 0 {
					e.t.Fatalf("round %d: owners %d and %d both acquired", r, winner, i)
				}
				winner = i
			}
		}
		if winner < 0 {
			e.t.Fatalf("round %d: no owner acquired", r)
		}
		want := store.Lease{State: store.Held, Value: fmt.Append(nil, "value", winner)}
		for i, l := range leases {
			if i != winner && !sameLease(l, want) {
				e.t.Fatalf("round %d: owner %d got %s, want %s", r, i, leaseString(l), leaseString(want))
			}
		}
	}
}

func testConcurrentPutIfAbsent(e *env) {
	for r := range rounds {
		k := store.Key("evt_1", "webhook", fmt.Sprint(r))
		stored := make([]bool, racers)
		e.race(func(i int) {
			ok, err := e.s.PutIfAbsent(e.ctx, k, fmt.Append(nil, i), long)
			if err != nil {
				e.t.Errorf("PutIfAbsent: %v", err)
			}
			stored[i] = ok
		})
		winner := -1
		for i, ok := range stored {
			if ok {
				if winner >= 0 {
					e.t.Fatalf("round %d: %d and %d both stored", r, winner, i)
				}
				winner = i
			}
		}
		if winner < 0 {
			e.t.Fatalf("round %d: nobody stored", r)
		}
		e.wantValue(k, fmt.Sprint(winner), true)
	}
}

// testConcurrentCompleteRelease: the holder's Complete and Release race with
// each other and with non-holders; exactly one holder call wins, and the
// record ends up as that call left it.
func testConcurrentCompleteRelease(e *env) {
	for r := range rounds {
		k := store.Key("u1", "idem", fmt.Sprint(r))
		e.wantLease(k, "holder", long, store.Acquired, "value of holder")
		var completed, released, others atomic.Int64
		e.race(func(i int) {
			owner := "holder"
			if i%4 >= 2 {
				owner = fmt.Sprint("other", i)
			}
			var ok bool
			var err error
			if i%2 == 0 {
				ok, err = e.s.Complete(e.ctx, k, owner, []byte("done by "+owner), long)
			} else {
				ok, err = e.s.Release(e.ctx, k, owner)
			}
			switch {
			case err != nil:
				e.t.Errorf("owner %s: %v", owner, err)
			case ok && owner != "holder":
				others.Add(1)
			case ok && i%2 == 0:
				completed.Add(1)
			case ok:
				released.Add(1)
			}
		})
		if others.Load() != 0 || completed.Load()+released.Load() != 1 {
			e.t.Fatalf("round %d: %d completions, %d releases by the holder and %d wins by others; want one holder win",
				r, completed.Load(), released.Load(), others.Load())
		}
		if completed.Load() == 1 {
			e.wantLease(k, "next", long, store.Completed, "done by holder")
		} else {
			e.wantLease(k, "next", long, store.Acquired, "value of next")
		}
	}
}
