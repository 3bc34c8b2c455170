package store

import (
	"context"
	"testing"
	"time"
)

// TestMemorySweep checks the janitor's sweep, which the suite cannot see:
// it drops expired records that no call touched, and keeps the others.
func TestMemorySweep(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := NewMemory(func() time.Time { return now })
	defer m.Close()

	mustNot := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustNot(m.Set(ctx, "short", []byte("v"), time.Second))
	mustNot(m.Set(ctx, "forever", []byte("v"), 0))
	_, err := m.Acquire(ctx, "lease", "a", nil, time.Second)
	mustNot(err)
	_, err = m.Limit(ctx, []LimitRequest{{Key: "zone", Rate: 1, Period: time.Second, Burst: 1, Cost: 1}})
	mustNot(err)
	mustNot(m.Set(ctx, "long", []byte("v"), time.Hour))

	now = now.Add(time.Second)
	m.sweep()
	var left []string
	for k := range m.entries {
		left = append(left, k)
	}
	if len(left) != 2 || m.entries["forever"].kind == 0 || m.entries["long"].kind == 0 {
		t.Errorf("after the sweep: %q, want forever and long", left)
	}
}

func TestMemoryCloseTwice(t *testing.T) {
	m := NewMemory(time.Now)
	for range 2 {
		if err := m.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}
