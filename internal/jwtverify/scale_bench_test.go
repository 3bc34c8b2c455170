package jwtverify

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"strconv"
	"sync"
	"testing"
)

// decoyKeys are the other keys of a large JWK set: an identity provider's
// next, previous and other tenants' RSA keys. Made once per test binary,
// RSA generation being slow.
var decoyKeys = sync.OnceValue(func() []signingKey {
	keys := make([]signingKey, 19)
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[i] = signingKey{kid: fmt.Sprintf("rsa-decoy-%02d", i), alg: "RS256", private: k}
	}
	return keys
})

// BenchmarkJWKSSize is the verification of an RS256 token against a JWKS
// URL (served on loopback, fetched once) whose set holds 1 or 20 RSA
// keys, the signing key last, with the verified-token cache on (10000
// entries): the same token each time (a cache hit), and a token never
// seen before each time (minted beforehand, with the timer stopped).
func BenchmarkJWKSSize(b *testing.B) {
	signer := testKeys()["RS256"]
	// Tokens that differ by their jti, shared by the sub-benchmarks: each
	// has its own verifier, and so its own cache.
	var fresh []string
	newToken := func(b *testing.B, i int) string {
		if i >= len(fresh) {
			b.StopTimer()
			for n := len(fresh) + max(len(fresh), 256); len(fresh) < n; {
				fresh = append(fresh, token(b, signer, with(map[string]any{"jti": strconv.Itoa(len(fresh))}), nil))
			}
			b.StartTimer()
		}
		return fresh[i]
	}
	repeated := token(b, signer, goodClaims(), nil)
	for _, keys := range [][]signingKey{{signer}, append(decoyKeys()[:19:19], signer)} {
		srv := newJWKSServer(b, keys...)
		for _, tc := range []struct {
			name string
			tok  func(b *testing.B, i int) string
		}{
			{"token=cached", func(*testing.B, int) string { return repeated }},
			{"token=new", newToken},
		} {
			b.Run(fmt.Sprintf("keys=%d/%s", len(keys), tc.name), func(b *testing.B) {
				clock := newFakeClock()
				algs, err := ParseAlgorithms(DefaultAlgorithms)
				must(b, err)
				ctx, cancel := context.WithCancel(context.Background())
				b.Cleanup(cancel)
				remote, err := StartRemote(ctx, srv.URL(), algs, RemoteOptions{Clock: clock})
				must(b, err)
				v, _ := newTestVerifier(b, func(o *Options) { o.Clock, o.CacheSize = clock, 10000 }, remote)
				// The first verification, not measured, waits for the
				// first fetch (and caches the repeated token).
				if _, err := v.Verify(ctx, tc.tok(b, 0)); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				i := 1
				for b.Loop() {
					if _, err := v.Verify(ctx, tc.tok(b, i)); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}
