package jwtverify

import (
	"container/list"
	"sync"
	"time"
)

// tokenCache remembers verified tokens by the SHA-256 of their text, so
// that a repeated token skips parsing and signature verification. It holds
// at most max entries, dropping the least recently used; an entry is never
// used at or after its until time (the token's exp plus the skew), and the
// Verifier drops it when its key has gone.
type tokenCache struct {
	mu     sync.Mutex
	max    int
	lru    *list.List // of *cacheEntry, most recently used first
	byHash map[[32]byte]*list.Element
}

type cacheEntry struct {
	hash        [32]byte
	claims      *Claims
	fingerprint string
	until       time.Time
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, lru: list.New(), byHash: make(map[[32]byte]*list.Element, max)}
}

// get returns the live entry for hash, removing it when it has expired.
func (c *tokenCache) get(hash [32]byte, now time.Time) (*cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byHash[hash]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.until) {
		c.lru.Remove(el)
		delete(c.byHash, hash)
		return nil, false
	}
	c.lru.MoveToFront(el)
	return e, true
}

// put adds e, evicting the least recently used entry when full.
func (c *tokenCache) put(e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byHash[e.hash]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	if c.lru.Len() >= c.max {
		oldest := c.lru.Back()
		c.lru.Remove(oldest)
		delete(c.byHash, oldest.Value.(*cacheEntry).hash)
	}
	c.byHash[e.hash] = c.lru.PushFront(e)
}

func (c *tokenCache) remove(hash [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byHash[hash]; ok {
		c.lru.Remove(el)
		delete(c.byHash, hash)
	}
}
