package jwtverify

import (
	"context"
	"runtime"
	"strconv"
	"testing"
)

// BenchmarkTokenCacheMemory sizes the verified-token cache: it fills a
// cache of 10,000 entries (jwt_auth's default cache_size) with distinct
// EdDSA tokens of the shipped claim set, and reports the heap the full
// cache holds per entry and in all (bytes/entry, MiB/10k), and the cost of
// a verification that evicts the oldest entry (ns/op).
func BenchmarkTokenCacheMemory(b *testing.B) {
	const size = 10000
	signer := testKeys()["EdDSA"]
	tokens := make([]string, 2*size)
	for i := range tokens {
		tokens[i] = token(b, signer, with(map[string]any{"jti": strconv.Itoa(i), "role": "customer"}), nil)
	}
	ctx := context.Background()
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	v, _ := newTestVerifier(b, func(o *Options) { o.CacheSize = size })
	before := heap()
	for _, tok := range tokens[:size] {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
	full := heap()
	perEntry := float64(full-before) / size
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := v.Verify(ctx, tokens[size+i%size]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(perEntry, "bytes/entry")
	b.ReportMetric(perEntry*size/(1<<20), "MiB/10k")
}
