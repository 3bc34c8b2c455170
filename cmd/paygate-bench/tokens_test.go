package main

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// TestTokensVerifyWithTheJWKS mints tokens with each key as the pools are
// minted and checks them as jwt_auth would see them: signed by a key the
// JWKS lists under the token's kid and alg, typed at+jwt, each with its own
// jti, and with the claims deploy/Caddyfile and the policy need.
func TestTokensVerifyWithTheJWKS(t *testing.T) {
	keys, err := generateKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jwksJSON(keys)
	if err != nil {
		t.Fatal(err)
	}
	set, err := jwk.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 2 {
		t.Fatalf("the JWKS has %d keys, want 2: %s", set.Len(), doc)
	}
	for alg, k := range keys {
		t.Run(alg, func(t *testing.T) {
			tokens, err := mintParallel(k.key, 20, 4)
			if err != nil {
				t.Fatal(err)
			}
			var jtis []string
			for _, tok := range tokens {
				msg, err := jws.Parse([]byte(tok))
				if err != nil {
					t.Fatal(err)
				}
				h := msg.Signatures()[0].ProtectedHeaders()
				if h.Algorithm().String() != alg || h.Type() != "at+jwt" || h.KeyID() != k.key.KeyID() {
					t.Errorf("header alg %s, typ %s, kid %s; want %s, at+jwt, %s", h.Algorithm(), h.Type(), h.KeyID(), alg, k.key.KeyID())
				}
				listed, ok := set.LookupKeyID(h.KeyID())
				if !ok || listed.Algorithm().String() != alg {
					t.Fatalf("the JWKS does not list kid %s for %s: %s", h.KeyID(), alg, doc)
				}
				if _, err := jws.Verify([]byte(tok), jws.WithKeySet(set, jws.WithRequireKid(true))); err != nil {
					t.Fatalf("does not verify with the JWKS: %v", err)
				}
				claims, err := jwt.ParseString(tok, jwt.WithVerify(false), jwt.WithValidate(true),
					jwt.WithIssuer(benchIssuer), jwt.WithAudience("paygate"), jwt.WithSubject(benchUser))
				if err != nil {
					t.Fatal(err)
				}
				if role, _ := claims.Get("role"); role != "customer" {
					t.Errorf("role = %v, want customer", role)
				}
				jtis = append(jtis, claims.JwtID())
			}
			slices.Sort(jtis)
			if len(slices.Compact(jtis)) != len(tokens) || jtis[0] == "" {
				t.Errorf("jtis not distinct: %q", jtis)
			}
		})
	}
	var raw map[string][]map[string]any
	if err := json.Unmarshal(doc, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range raw["keys"] {
		for _, private := range []string{"d", "p", "q"} {
			if _, ok := k[private]; ok {
				t.Errorf("the JWKS holds the private member %q", private)
			}
		}
	}
}
