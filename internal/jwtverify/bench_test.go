package jwtverify

import (
	"context"
	"testing"
)

// BenchmarkVerify measures verifying one token repeatedly, with the
// verified-token cache (every call after the first a hit) and without it
// (every call parses and checks the signature).
func BenchmarkVerify(b *testing.B) {
	k := testKeys()
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		for _, c := range []struct {
			name string
			size int
		}{{"nocache", 0}, {"cache", 10000}} {
			b.Run(alg+"/"+c.name, func(b *testing.B) {
				v, _ := newTestVerifier(b, func(o *Options) { o.CacheSize = c.size })
				tok := token(b, k[alg], goodClaims(), nil)
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := v.Verify(ctx, tok); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
