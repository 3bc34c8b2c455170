// Package ttlcache is a small bounded in-process cache whose entries expire:
// what paygate remembers on the hot path (policy decisions, object owners)
// without a store round trip.
package ttlcache

import (
	"sync"
	"time"
)

// Cache maps string keys to values of type V for at most TTL each, and
// holds at most Size entries: two generations of Size/2, the older one
// dropped whole when the newer one fills (no per-entry bookkeeping; an
// entry read from the older generation moves to the newer one). The zero
// value is not usable; use New.
type Cache[V any] struct {
	ttl  time.Duration
	half int

	mu       sync.Mutex
	cur, old map[string]entry[V]
}

type entry[V any] struct {
	v       V
	expires time.Time
}

// New returns a cache keeping entries for ttl, at most size of them (at
// least 2).
func New[V any](ttl time.Duration, size int) *Cache[V] {
	half := max(size/2, 1)
	return &Cache[V]{ttl: ttl, half: half, cur: make(map[string]entry[V], half)}
}

// Get returns the value of key, unless it is absent or expired at now.
func (c *Cache[V]) Get(key string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cur[key]
	if !ok {
		if e, ok = c.old[key]; ok {
			delete(c.old, key)
			c.insert(key, e)
		}
	}
	if !ok || !now.Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put stores v under key from now on.
func (c *Cache[V]) Put(key string, v V, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.insert(key, entry[V]{v: v, expires: now.Add(c.ttl)})
}

// Delete forgets key.
func (c *Cache[V]) Delete(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.cur, key)
	delete(c.old, key)
}

// insert adds e, retiring the current generation when it is full; c.mu
// must be held.
func (c *Cache[V]) insert(key string, e entry[V]) {
	if _, ok := c.cur[key]; !ok && len(c.cur) >= c.half {
		c.old, c.cur = c.cur, make(map[string]entry[V], c.half)
	}
	c.cur[key] = e
}
