package ttlcache

import (
	"strconv"
	"testing"
	"time"
)

func TestExpiry(t *testing.T) {
	c := New[int](time.Second, 10)
	t0 := time.Unix(100, 0)
	c.Put("a", 1, t0)
	if v, ok := c.Get("a", t0.Add(999*time.Millisecond)); !ok || v != 1 {
		t.Fatalf("Get before expiry = %v, %v", v, ok)
	}
	if _, ok := c.Get("a", t0.Add(time.Second)); ok {
		t.Fatal("an entry outlived its TTL")
	}
	c.Put("b", 2, t0)
	c.Delete("b")
	if _, ok := c.Get("b", t0); ok {
		t.Fatal("a deleted entry is still there")
	}
}

// TestBound fills the cache far beyond its size: it never holds more than
// its size, and the most recent entries stay.
func TestBound(t *testing.T) {
	const size = 100
	c := New[int](time.Hour, size)
	now := time.Unix(100, 0)
	for i := range 10 * size {
		c.Put(strconv.Itoa(i), i, now)
		if n := len(c.cur) + len(c.old); n > size {
			t.Fatalf("%d entries after %d puts, want at most %d", n, i+1, size)
		}
	}
	for i := 10*size - size/2; i < 10*size; i++ {
		if v, ok := c.Get(strconv.Itoa(i), now); !ok || v != i {
			t.Fatalf("recent entry %d: %v, %v", i, v, ok)
		}
	}
	if _, ok := c.Get("0", now); ok {
		t.Fatal("the oldest entry is still there")
	}
}

// TestPromotion: an entry read from the older generation moves to the
// newer one, so it survives the next retirement.
func TestPromotion(t *testing.T) {
	c := New[int](time.Hour, 4)
	now := time.Unix(100, 0)
	c.Put("keep", 1, now)
	c.Put("x", 2, now)
	c.Put("y", 3, now) // "keep" and "x" become the old generation
	if _, ok := c.Get("keep", now); !ok {
		t.Fatal("lost before retirement")
	}
	c.Put("z", 4, now) // retires {y, keep}: "x" is gone, "keep" is in the older one
	c.Put("w", 5, now)
	if _, ok := c.Get("x", now); ok {
		t.Fatal("an entry that was not read survived two retirements")
	}
	if _, ok := c.Get("keep", now); !ok {
		t.Fatal("a read entry was dropped with its old generation")
	}
}
