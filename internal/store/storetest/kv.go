package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/store"
)

var kvTests = []test{
	{"GetAbsent", testGetAbsent},
	{"SetGet", testSetGet},
	{"SetExpires", testSetExpires},
	{"PutIfAbsent", testPutIfAbsent},
	{"PutIfAbsentExpires", testPutIfAbsentExpires},
	{"Delete", testDelete},
	{"CopySafety", testCopySafety},
	{"InvalidTTL", testKVInvalidTTL},
	{"WrongKind", testWrongKind},
}

func testGetAbsent(e *env) {
	e.wantValue(store.Key("c1", "customer"), "", false)
}

func testSetGet(e *env) {
	tests := []struct{ name, value string }{
		{"text", "cus_123"},
		{"binary", "\x00\xff\r\n{}\x00"},
		{"empty", ""},
	}
	for _, tc := range tests {
		e.t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			k := store.Key("c1", tc.name)
			e.set(k, "first", long)
			e.set(k, tc.value, long)
			e.wantValue(k, tc.value, true)
		})
	}
}

func testSetExpires(e *env) {
	k := store.Key("c1", "customer")
	const ttl = 100 * time.Millisecond
	e.set(k, "v", ttl)
	e.expiresAfter(ttl, "value", func() bool {
		_, ok := e.get(k)
		return ok
	})
}

// testSetKeepsWithoutTTL: ttl 0 keeps a value, also one that had a TTL
// before. Only a fake clock can tell.
func testSetKeepsWithoutTTL(e *env) {
	k := store.Key("c1", "customer")
	e.set(k, "v1", time.Second)
	e.set(k, "v2", 0)
	e.advance(100 * 365 * 24 * time.Hour)
	e.wantValue(k, "v2", true)
}

func testPutIfAbsent(e *env) {
	k := store.Key("evt_1", "webhook")
	if !e.putIfAbsent(k, "first", long) {
		e.t.Fatal("PutIfAbsent on an absent key did not store")
	}
	if e.putIfAbsent(k, "second", long) {
		e.t.Fatal("PutIfAbsent on a present key stored")
	}
	e.wantValue(k, "first", true)
	e.del(k)
	if !e.putIfAbsent(k, "third", 0) {
		e.t.Fatal("PutIfAbsent after Delete did not store")
	}
	e.wantValue(k, "third", true)
}

func testPutIfAbsentExpires(e *env) {
	k := store.Key("evt_1", "webhook")
	const ttl = 100 * time.Millisecond
	e.putIfAbsent(k, "first", ttl)
	e.expiresAfter(ttl, "value", func() bool {
		return !e.putIfAbsent(k, "second", long)
	})
	e.wantValue(k, "second", true)
}

func testDelete(e *env) {
	v1, v2 := store.Key("u1", "v"), store.Key("u2", "v")
	lease, zone := store.Key("u3", "idem"), hourly(store.Key("u4", "rl"), 1, 1)
	e.set(v1, "1", long)
	e.set(v2, "2", long)
	e.wantLease(lease, "a", long, store.Acquired, "value of a")
	e.wantResults(e.limit(zone), allowed(0, time.Hour))

	e.del()
	e.del(v1, v2, lease, zone.Key, store.Key("u5", "absent"), "untagged")
	e.wantValue(v1, "", false)
	e.wantValue(v2, "", false)
	e.wantLease(lease, "b", long, store.Acquired, "value of b")
	e.wantResults(e.limit(zone), allowed(0, time.Hour))
	// One absent key is no error either.
	e.del(v1)
}

// testCopySafety: the store neither keeps a caller's slice nor hands out
// its own.
func testCopySafety(e *env) {
	buf := []byte("original")
	scribble := func(b []byte) {
		for i := range b {
			b[i] = 'X'
		}
	}
	kv, put, lease := store.Key("c1", "kv"), store.Key("c1", "put"), store.Key("c1", "lease")
	if err := e.s.Set(e.ctx, kv, buf, long); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.s.PutIfAbsent(e.ctx, put, buf, long); err != nil {
		e.t.Fatal(err)
	}
	l, err := e.s.Acquire(e.ctx, lease, "a", buf, long)
	if err != nil {
		e.t.Fatal(err)
	}
	scribble(buf)
	scribble(l.Value)
	got, _, err := e.s.Get(e.ctx, kv)
	if err != nil {
		e.t.Fatal(err)
	}
	scribble(got)
	e.wantValue(kv, "original", true)
	e.wantValue(put, "original", true)
	held, err := e.s.Acquire(e.ctx, lease, "b", nil, long)
	if err != nil {
		e.t.Fatal(err)
	}
	scribble(held.Value)
	e.wantLease(lease, "b", long, store.Held, "original")

	done := []byte("done")
	if _, err := e.s.Complete(e.ctx, lease, "a", done, long); err != nil {
		e.t.Fatal(err)
	}
	scribble(done)
	e.wantLease(lease, "b", long, store.Completed, "done")
}

func testKVInvalidTTL(e *env) {
	k := store.Key("c1", "customer")
	tests := []struct {
		name string
		call func() error
	}{
		{"set", func() error { return e.s.Set(e.ctx, k, nil, -time.Second) }},
		{"put if absent", func() error {
			_, err := e.s.PutIfAbsent(e.ctx, k, nil, -time.Nanosecond)
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
	e.wantValue(k, "", false)
}

// testWrongKind: as on Redis, a key holding one kind of record is not used
// as another; the call fails rather than corrupting it.
func testWrongKind(e *env) {
	value, lease := store.Key("c1", "value"), store.Key("c1", "lease")
	e.set(value, "v", long)
	e.wantLease(lease, "a", long, store.Acquired, "value of a")
	tests := []struct {
		name string
		call func() error
	}{
		{"get a lease", func() error {
			_, _, err := e.s.Get(e.ctx, lease)
			return err
		}},
		{"acquire a value", func() error {
			_, err := e.s.Acquire(e.ctx, value, "a", nil, long)
			return err
		}},
		{"complete a value", func() error {
			_, err := e.s.Complete(e.ctx, value, "a", nil, long)
			return err
		}},
		{"limit a lease", func() error {
			_, err := e.s.Limit(e.ctx, []store.LimitRequest{hourly(lease, 1, 1)})
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
}
