package jwtverify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"maps"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/paygate/paygate/internal/testenv"
)

// t0 is the fake clock's start: tokens in tests are issued relative to it.
var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

const (
	testIssuer   = "https://id.example.test"
	testAudience = "paygate"
)

// signingKey is a private key with the kid and algorithm tests sign with.
type signingKey struct {
	kid     string
	alg     string
	private crypto.Signer
}

// testKeys are generated once per test binary: RSA generation is slow.
var testKeys = sync.OnceValue(func() map[string]signingKey {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	rsaKey2, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	ec384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		panic(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	_, attacker, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return map[string]signingKey{
		"RS256":    {kid: "rsa-1", alg: "RS256", private: rsaKey},
		"PS256":    {kid: "rsa-pss-1", alg: "PS256", private: rsaKey2},
		"ES256":    {kid: "ec-1", alg: "ES256", private: ecKey},
		"ES384":    {kid: "ec384-1", alg: "ES384", private: ec384},
		"EdDSA":    {kid: "ed-1", alg: "EdDSA", private: edKey},
		"attacker": {kid: "ed-1", alg: "EdDSA", private: attacker},
	}
})

// publicJWK returns k's public key as a JWK with its kid and alg.
func (k signingKey) publicJWK(t testing.TB) jwk.Key {
	t.Helper()
	j, err := jwk.FromRaw(k.private.Public())
	if err != nil {
		t.Fatal(err)
	}
	must(t, j.Set(jwk.KeyIDKey, k.kid))
	must(t, j.Set(jwk.AlgorithmKey, jwa.SignatureAlgorithm(k.alg)))
	return j
}

// key returns k's verification Key, bound to its algorithm.
func (k signingKey) key(t testing.TB) *Key {
	t.Helper()
	key, err := newKey(k.publicJWK(t), "", allAsymmetric(t))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func allAsymmetric(t testing.TB) Algorithms {
	t.Helper()
	a, err := ParseAlgorithms([]string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// jsonText marshals v; maps come out with sorted keys.
func jsonText(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// goodClaims are claims that pass a verifier built by newTestVerifier at t0.
func goodClaims() map[string]any {
	return map[string]any{
		"iss": testIssuer,
		"aud": testAudience,
		"sub": "user_1",
		"iat": t0.Unix(),
		"nbf": t0.Unix(),
		"exp": t0.Add(10 * time.Minute).Unix(),
	}
}

// token signs claims with k, with its kid and alg in the header plus extra
// header members (a nil value leaves one out).
func token(t testing.TB, k signingKey, claims map[string]any, extraHeader map[string]any) string {
	t.Helper()
	header := map[string]any{"kid": k.kid, "typ": "at+jwt"}
	maps.Copy(header, extraHeader)
	return testenv.MintJWT(t, testenv.JWT{Alg: k.alg, Key: k.private, Header: header, Claims: claims})
}

// fakeClock is a Clock that moves only when told to.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
	// changed is closed, and replaced, whenever a waiter is added.
	changed chan struct{}
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: t0, changed: make(chan struct{})}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	close(c.changed)
	c.changed = make(chan struct{})
	return ch
}

// Advance moves the clock by d and fires the waiters that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

// waitForWaiter blocks until some goroutine waits on the clock for at least
// min, so that an Advance after it is seen by that goroutine.
func (c *fakeClock) waitForWaiter(t testing.TB, min time.Duration) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		changed := c.changed
		var due []time.Duration
		for _, w := range c.waiters {
			due = append(due, w.at.Sub(c.now))
		}
		c.mu.Unlock()
		sort.Slice(due, func(i, j int) bool { return due[i] > due[j] })
		if len(due) > 0 && due[0] >= min {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no goroutine waited on the clock for %s (waiting: %v)", min, due)
		}
	}
}
