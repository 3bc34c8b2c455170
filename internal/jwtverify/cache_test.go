package jwtverify

import (
	"context"
	"sync"
	"testing"
	"time"
)

// lookups counts the verifier's cache lookups by result.
type lookups struct {
	mu        sync.Mutex
	hit, miss int
}

func (l *lookups) observe(hit bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if hit {
		l.hit++
	} else {
		l.miss++
	}
}

func (l *lookups) check(t *testing.T, hit, miss int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.hit != hit || l.miss != miss {
		t.Errorf("cache lookups: %d hits, %d misses; want %d, %d", l.hit, l.miss, hit, miss)
	}
}

// mutableSource is a Source whose keys a test replaces.
type mutableSource struct {
	mu   sync.Mutex
	ring *keyring
}

func (s *mutableSource) keyring(time.Time) (*keyring, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ring, nil
}

func (s *mutableSource) refresh(context.Context) {}

func (s *mutableSource) set(keys ...*Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ring = newKeyring(keys)
}

func cachedVerifier(t *testing.T, size int, sources ...Source) (*Verifier, *fakeClock, *lookups) {
	t.Helper()
	l := new(lookups)
	v, clock := newTestVerifier(t, func(o *Options) { o.CacheSize, o.OnCacheLookup = size, l.observe }, sources...)
	return v, clock, l
}

func TestTokenCacheSkipsVerification(t *testing.T) {
	k := testKeys()
	v, _, l := cachedVerifier(t, 10)
	tok := token(t, k["RS256"], goodClaims(), nil)
	first := checkReason(t, v, tok, "")
	second := checkReason(t, v, tok, "")
	if first != second {
		t.Error("the second verification did not come from the cache")
	}
	l.check(t, 1, 1)
	// A token differing in one byte is another entry, verified in full.
	h, p, s := splitToken(t, tok)
	checkReason(t, v, h+"."+p+"."+s[:len(s)-2]+"AA", ReasonSignatureInvalid)
	l.check(t, 1, 2)
}

func TestTokenCacheNeverOutlivesExp(t *testing.T) {
	k := testKeys()
	v, clock, l := cachedVerifier(t, 10)
	tok := token(t, k["ES256"], with(map[string]any{"exp": t0.Add(time.Minute).Unix()}), nil)
	checkReason(t, v, tok, "")
	clock.Advance(time.Minute + 29*time.Second)
	checkReason(t, v, tok, "")
	l.check(t, 1, 1)
	clock.Advance(time.Second)
	checkReason(t, v, tok, ReasonExpired)
	l.check(t, 1, 2)
}

func TestTokenCacheDropsEntriesOfRemovedKeys(t *testing.T) {
	k := testKeys()
	src := &mutableSource{}
	src.set(k["EdDSA"].key(t), k["ES256"].key(t))
	v, _, l := cachedVerifier(t, 10, src)
	tok := token(t, k["EdDSA"], goodClaims(), nil)
	checkReason(t, v, tok, "")
	checkReason(t, v, tok, "")
	src.set(k["ES256"].key(t))
	checkReason(t, v, tok, ReasonKeyUnknown)
	l.check(t, 1, 2)
	// The same kid with other key material is another key.
	other := k["attacker"]
	src.set(other.key(t))
	checkReason(t, v, tok, ReasonSignatureInvalid)
}

func TestTokenCacheIsBounded(t *testing.T) {
	k := testKeys()
	v, _, l := cachedVerifier(t, 2)
	toks := make([]string, 3)
	for i := range toks {
		toks[i] = token(t, k["EdDSA"], with(map[string]any{"jti": i}), nil)
		checkReason(t, v, toks[i], "")
	}
	l.check(t, 0, 3)
	checkReason(t, v, toks[2], "") // still cached
	checkReason(t, v, toks[1], "") // still cached
	checkReason(t, v, toks[0], "") // evicted by the third
	l.check(t, 2, 4)
	if n := v.cache.lru.Len(); n != 2 {
		t.Errorf("cache holds %d entries, want 2", n)
	}
}

func TestNoCache(t *testing.T) {
	k := testKeys()
	v, _, l := cachedVerifier(t, 0)
	tok := token(t, k["EdDSA"], goodClaims(), nil)
	checkReason(t, v, tok, "")
	checkReason(t, v, tok, "")
	l.check(t, 0, 0)
}
