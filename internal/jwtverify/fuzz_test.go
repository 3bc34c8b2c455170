package jwtverify

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/testenv"
)

// FuzzVerify feeds arbitrary tokens to a verifier: it must never panic,
// must refuse with a known reason, and must never put the token in the
// error.
func FuzzVerify(f *testing.F) {
	k := testKeys()
	good := token(f, k["EdDSA"], goodClaims(), nil)
	for _, s := range []string{
		good,
		token(f, k["RS256"], goodClaims(), nil),
		token(f, k["ES256"], with(map[string]any{"aud": []string{"a", testAudience}}), nil),
		"", ".", "..", "a.b.c", "e30.e30.e30", "eyJhbGciOiJub25lIn0.e30.",
		good + "=", strings.Replace(good, ".", "..", 1),
		testenv.SignJWT(f, "EdDSA", k["EdDSA"].private, `{"alg":"EdDSA","alg":"EdDSA"}`, `{}`),
		testenv.SignJWT(f, "EdDSA", k["EdDSA"].private, `{"alg":"EdDSA","kid":"ed-1","typ":"at+jwt"}`, `{"exp":1e999,"sub":"x"}`),
	} {
		f.Add(s)
	}
	known := make(map[Reason]bool)
	for _, r := range Reasons {
		known[r] = true
	}
	v, _ := newTestVerifier(f, nil)
	f.Fuzz(func(t *testing.T, tok string) {
		_, err := v.Verify(context.Background(), tok)
		if err == nil {
			return
		}
		if r := ReasonOf(err); !known[r] {
			t.Fatalf("unknown reason %q (err %v)", r, err)
		}
		if len(tok) > 8 && strings.Contains(err.Error(), tok) {
			t.Fatalf("error holds the token: %v", err)
		}
	})
}

// FuzzParseKeySet feeds arbitrary JWKS bodies to the parser.
func FuzzParseKeySet(f *testing.F) {
	k := testKeys()
	f.Add([]byte(jsonText(f, map[string]any{"keys": []any{k["RS256"].publicJWK(f), k["EdDSA"].publicJWK(f)}})))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"AAAA"}]}`))
	f.Add([]byte(`{"keys":{}}`))
	algs, err := ParseAlgorithms(DefaultAlgorithms)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ring, skipped, err := parseKeySet(body, algs)
		if err != nil {
			return
		}
		if len(ring.keys) == 0 || skipped < 0 {
			t.Fatalf("accepted a set with %d keys, %d skipped", len(ring.keys), skipped)
		}
		for _, key := range ring.keys {
			if !algs.Allows(key.Alg) {
				t.Fatalf("key for disallowed %s", key.Alg)
			}
		}
	})
}

// FuzzCacheLifetime checks that whatever the headers say, the lifetime
// stays within the floor and the ceiling.
func FuzzCacheLifetime(f *testing.F) {
	for _, s := range []string{"max-age=600", "no-store", "max-age=99999999999999999999", `max-age="1"`, "max-age=-1, public", ""} {
		f.Add(s, "0")
	}
	f.Add("max-age=600", "1200")
	f.Fuzz(func(t *testing.T, cc, age string) {
		h := http.Header{"Cache-Control": {cc}, "Age": {age}}
		if got := cacheLifetime(h, time.Minute, time.Hour); got < time.Minute || got > time.Hour {
			t.Fatalf("lifetime %s outside [1m, 1h] for %q, Age %q", got, cc, age)
		}
	})
}
