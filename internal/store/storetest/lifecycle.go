package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/paygate/paygate/internal/store"
)

var lifecycleTests = []test{
	{"Ping", testPing},
	{"CanceledContext", testCanceledContext},
	{"Close", testClose},
}

func testPing(e *env) {
	if err := e.s.Ping(e.ctx); err != nil {
		e.t.Fatalf("Ping: %v", err)
	}
}

// testCanceledContext: a call whose context is done fails with
// ErrUnavailable and the context's error.
func testCanceledContext(e *env) {
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	Unavailable(ctx, e.t, e.s, context.Canceled)
}

// testClose: after Close, every call fails with ErrUnavailable.
func testClose(e *env) {
	e.closed = true
	if err := e.s.Close(); err != nil {
		e.t.Fatalf("Close: %v", err)
	}
	Unavailable(e.ctx, e.t, e.s, nil)
}

// Unavailable checks that every method of s that reaches the backend fails,
// with ctx, with an error matching store.ErrUnavailable and, unless cause is
// nil, cause too. A backend's own tests use it to check an outage.
func Unavailable(ctx context.Context, t *testing.T, s store.Store, cause error) {
	t.Helper()
	k := store.Key("c1", "k")
	calls := []struct {
		name string
		call func() error
	}{
		{"Limit", func() error {
			_, err := s.Limit(ctx, []store.LimitRequest{hourly(k, 1, 1)})
			return err
		}},
		{"Refund", func() error { return s.Refund(ctx, []store.LimitRequest{hourly(k, 1, 1)}) }},
		{"Acquire", func() error {
			_, err := s.Acquire(ctx, k, "a", nil, long)
			return err
		}},
		{"AcquireLimit", func() error {
			_, _, err := s.AcquireLimit(ctx, k, "a", nil, long, []store.LimitRequest{hourly(store.Key("c2", "rl"), 1, 1)})
			return err
		}},
		{"Complete", func() error {
			_, err := s.Complete(ctx, k, "a", nil, long)
			return err
		}},
		{"Release", func() error {
			_, err := s.Release(ctx, k, "a")
			return err
		}},
		{"Renew", func() error {
			_, err := s.Renew(ctx, k, "a", long)
			return err
		}},
		{"PutIfAbsent", func() error {
			_, err := s.PutIfAbsent(ctx, k, nil, long)
			return err
		}},
		{"Get", func() error {
			_, _, err := s.Get(ctx, k)
			return err
		}},
		{"Set", func() error { return s.Set(ctx, k, nil, long) }},
		{"Delete", func() error { return s.Delete(ctx, k) }},
		{"DeleteMany", func() error { return s.Delete(ctx, k, store.Key("c2", "k")) }},
		{"Ping", func() error { return s.Ping(ctx) }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			if !errors.Is(err, store.ErrUnavailable) || (cause != nil && !errors.Is(err, cause)) {
				t.Errorf("got %v, want ErrUnavailable (cause %v)", err, cause)
			}
		})
	}
}
