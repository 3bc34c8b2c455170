package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/store"
)

// rankedTests cover SetIfHigher: a record that only ever moves to a higher
// rank, such as a payment's status fed by events arriving out of order.
var rankedTests = []test{
	{"Absent", testRankedAbsent},
	{"Order", testRankedOrder},
	{"ExactRanks", testRankedExactRanks},
	{"Expires", testRankedExpires},
	{"ReplaceResetsTTL", testRankedReplaceResetsTTL},
	{"Delete", testRankedDelete},
	{"SetReplaces", testRankedSetReplaces},
	{"PutIfAbsent", testRankedPutIfAbsent},
	{"WrongKind", testRankedWrongKind},
	{"CopySafety", testRankedCopySafety},
	{"InvalidTTL", testRankedInvalidTTL},
	{"Unavailable", testRankedUnavailable},
	{"Concurrent", testConcurrentSetIfHigher},
}

// rankedFakeClockTests need time to pass without TTLs running down.
var rankedFakeClockTests = []test{
	{"RankedKeepsWithoutTTL", testRankedKeepsWithoutTTL},
}

func (e *env) setIfHigher(key string, rank int64, value string, ttl time.Duration) bool {
	e.t.Helper()
	ok, err := e.s.SetIfHigher(e.ctx, key, rank, []byte(value), ttl)
	if err != nil {
		e.t.Fatalf("SetIfHigher(%s, %d): %v", key, rank, err)
	}
	return ok
}

// wantSetIfHigher requires SetIfHigher to store, or not, as stored says.
func (e *env) wantSetIfHigher(key string, rank int64, value string, ttl time.Duration, stored bool) {
	e.t.Helper()
	if got := e.setIfHigher(key, rank, value, ttl); got != stored {
		e.t.Fatalf("SetIfHigher(%s, %d, %q) = %t, want %t", key, rank, value, got, stored)
	}
}

func testRankedAbsent(e *env) {
	k := store.Key("pi_1", "status")
	e.wantSetIfHigher(k, 3, "processing", long, true)
	e.wantValue(k, "processing", true)
}

func testRankedOrder(e *env) {
	k := store.Key("pi_1", "status")
	e.wantSetIfHigher(k, 10, "ten", long, true)
	e.wantSetIfHigher(k, 5, "five", long, false)
	e.wantSetIfHigher(k, 10, "ten again", long, false)
	e.wantValue(k, "ten", true)
	e.wantSetIfHigher(k, 11, "eleven", long, true)
	e.wantValue(k, "eleven", true)
	e.wantSetIfHigher(k, -1, "negative", long, false)
	e.wantValue(k, "eleven", true)
}

// testRankedExactRanks: ranks that a float64 comparison would confuse (Lua
// numbers are doubles) and the ends of the int64 range compare exactly.
func testRankedExactRanks(e *env) {
	const big = int64(1) << 53
	tests := []struct {
		name         string
		first, then  int64
		thenReplaces bool
	}{
		{"beyond 2^53 higher", big, big + 1, true},
		{"beyond 2^53 lower", big + 1, big, false},
		{"max int64 higher", math.MaxInt64 - 1, math.MaxInt64, true},
		{"max int64 lower", math.MaxInt64, math.MaxInt64 - 1, false},
		{"min int64 to -1", math.MinInt64, -1, true},
		{"-1 to min int64", -1, math.MinInt64, false},
		{"negatives of different length", -100, -99, true},
		{"negatives of equal length", -15, -12, true},
		{"negative to zero", -1, 0, true},
		{"zero to negative", 0, -1, false},
		{"positives of different length", 99, 100, true},
		{"positives of equal length", 19, 12, false},
	}
	for i, tc := range tests {
		e.t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			k := store.Key("pi_"+strconv.Itoa(i), "status")
			e.wantSetIfHigher(k, tc.first, "first", long, true)
			e.wantSetIfHigher(k, tc.then, "then", long, tc.thenReplaces)
			want := "first"
			if tc.thenReplaces {
				want = "then"
			}
			e.wantValue(k, want, true)
		})
	}
}

func testRankedExpires(e *env) {
	k := store.Key("pi_1", "status")
	const ttl = 100 * time.Millisecond
	e.wantSetIfHigher(k, 5, "five", ttl, true)
	e.expiresAfter(ttl, "ranked record", func() bool {
		_, ok := e.get(k)
		return ok
	})
	// Gone, its rank no longer holds back a lower one.
	e.wantSetIfHigher(k, 1, "one", long, true)
	e.wantValue(k, "one", true)
}

// testRankedReplaceResetsTTL: a higher rank takes its own TTL, and a refused
// lower rank leaves the TTL alone.
func testRankedReplaceResetsTTL(e *env) {
	k := store.Key("pi_1", "status")
	const short = 100 * time.Millisecond
	e.wantSetIfHigher(k, 1, "one", long, true)
	e.wantSetIfHigher(k, 2, "two", short, true)
	e.wantSetIfHigher(k, 1, "lower", long, false)
	e.expiresAfter(short, "replaced record", func() bool {
		_, ok := e.get(k)
		return ok
	})
}

func testRankedKeepsWithoutTTL(e *env) {
	k := store.Key("pi_1", "status")
	e.wantSetIfHigher(k, 1, "one", time.Second, true)
	e.wantSetIfHigher(k, 2, "two", 0, true)
	e.advance(100 * 365 * 24 * time.Hour)
	e.wantValue(k, "two", true)
}

func testRankedDelete(e *env) {
	k := store.Key("pi_1", "status")
	e.wantSetIfHigher(k, 10, "ten", long, true)
	e.del(k)
	e.wantValue(k, "", false)
	e.wantSetIfHigher(k, 1, "one", long, true)
	e.wantValue(k, "one", true)
}

// testRankedSetReplaces: Set turns a ranked record into a plain value, which
// SetIfHigher then refuses to overwrite.
func testRankedSetReplaces(e *env) {
	k := store.Key("pi_1", "status")
	e.wantSetIfHigher(k, 10, "ten", long, true)
	e.set(k, "plain", long)
	e.wantValue(k, "plain", true)
	if _, err := e.s.SetIfHigher(e.ctx, k, 11, []byte("eleven"), long); !errors.Is(err, store.ErrUnavailable) {
		e.t.Fatalf("SetIfHigher on a plain value: got %v, want ErrUnavailable", err)
	}
	e.wantValue(k, "plain", true)
}

func testRankedPutIfAbsent(e *env) {
	k := store.Key("pi_1", "status")
	e.wantSetIfHigher(k, 1, "one", long, true)
	if e.putIfAbsent(k, "put", long) {
		e.t.Fatal("PutIfAbsent stored over a ranked record")
	}
	e.wantValue(k, "one", true)
}

// testRankedWrongKind: SetIfHigher refuses every other kind of record, and
// the other operations refuse a ranked record, leaving both unchanged.
func testRankedWrongKind(e *env) {
	value, lease, zone := store.Key("c1", "value"), store.Key("c1", "lease"), hourly(store.Key("c1", "rl"), 1, 1)
	ranked := store.Key("c1", "ranked")
	e.set(value, "v", long)
	e.wantLease(lease, "a", long, store.Acquired, "value of a")
	e.wantResults(e.limit(zone), allowed(0, time.Hour))
	e.wantSetIfHigher(ranked, 1, "r", long, true)
	tests := []struct {
		name string
		call func() error
	}{
		{"set if higher on a value", func() error {
			_, err := e.s.SetIfHigher(e.ctx, value, 1, nil, long)
			return err
		}},
		{"set if higher on a lease", func() error {
			_, err := e.s.SetIfHigher(e.ctx, lease, 1, nil, long)
			return err
		}},
		{"set if higher on a limit", func() error {
			_, err := e.s.SetIfHigher(e.ctx, zone.Key, 1, nil, long)
			return err
		}},
		{"acquire a ranked record", func() error {
			_, err := e.s.Acquire(e.ctx, ranked, "a", nil, long)
			return err
		}},
		{"complete a ranked record", func() error {
			_, err := e.s.Complete(e.ctx, ranked, "a", nil, long)
			return err
		}},
		{"release a ranked record", func() error {
			_, err := e.s.Release(e.ctx, ranked, "a")
			return err
		}},
		{"limit a ranked record", func() error {
			_, err := e.s.Limit(e.ctx, []store.LimitRequest{hourly(ranked, 1, 1)})
			return err
		}},
	}
	for _, tc := range tests {
		e.t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("got %v, want ErrUnavailable", err)
			}
		})
	}
	e.wantValue(value, "v", true)
	e.wantLease(lease, "b", long, store.Held, "value of a")
	e.wantValue(ranked, "r", true)
}

func testRankedCopySafety(e *env) {
	k := store.Key("pi_1", "status")
	buf := []byte("original")
	if _, err := e.s.SetIfHigher(e.ctx, k, 1, buf, long); err != nil {
		e.t.Fatal(err)
	}
	copy(buf, "clobber!")
	got, _, err := e.s.Get(e.ctx, k)
	if err != nil {
		e.t.Fatal(err)
	}
	copy(got, "clobber!")
	e.wantValue(k, "original", true)
}

func testRankedInvalidTTL(e *env) {
	k := store.Key("pi_1", "status")
	if _, err := e.s.SetIfHigher(e.ctx, k, 1, nil, -time.Second); !errors.Is(err, store.ErrInvalidTTL) || errors.Is(err, store.ErrUnavailable) {
		e.t.Fatalf("got %v, want ErrInvalidTTL", err)
	}
	e.wantValue(k, "", false)
}

// testRankedUnavailable: a done context, and then a closed store, fail
// SetIfHigher with ErrUnavailable.
func testRankedUnavailable(e *env) {
	k := store.Key("pi_1", "status")
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	if _, err := e.s.SetIfHigher(ctx, k, 1, nil, long); !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		e.t.Fatalf("canceled context: got %v, want ErrUnavailable and context.Canceled", err)
	}
	e.closed = true
	if err := e.s.Close(); err != nil {
		e.t.Fatalf("Close: %v", err)
	}
	if _, err := e.s.SetIfHigher(e.ctx, k, 1, nil, long); !errors.Is(err, store.ErrUnavailable) {
		e.t.Fatalf("closed store: got %v, want ErrUnavailable", err)
	}
}

// testConcurrentSetIfHigher: racers offer the ranks 0..racers-1 in a random
// order. A non-atomic compare-and-set would let a lower rank overwrite a
// higher one that landed in between: each racer checks that, right after
// its own call, the record's rank is at least its own, and the record ends
// at the highest rank.
func testConcurrentSetIfHigher(e *env) {
	for r := range rounds {
		k := store.Key("pi_1", "status", fmt.Sprint(r))
		ranks := rand.Perm(racers)
		var stored atomic.Int64
		e.race(func(i int) {
			rank := int64(ranks[i])
			ok, err := e.s.SetIfHigher(e.ctx, k, rank, []byte(strconv.FormatInt(rank, 10)), long)
			if err != nil {
				e.t.Errorf("SetIfHigher: %v", err)
				return
			}
			if ok {
				stored.Add(1)
			}
			v, found, err := e.s.Get(e.ctx, k)
			if err != nil || !found {
				e.t.Errorf("Get after SetIfHigher(%d): %q, %t, %v", rank, v, found, err)
				return
			}
			if got, err := strconv.ParseInt(string(v), 10, 64); err != nil || got < rank {
				e.t.Errorf("after SetIfHigher(%d) the record holds rank %q: it moved backwards", rank, v)
			}
		})
		if n := stored.Load(); n < 1 || n > racers {
			e.t.Fatalf("round %d: %d calls stored", r, n)
		}
		e.wantValue(k, strconv.Itoa(racers-1), true)
	}
}
