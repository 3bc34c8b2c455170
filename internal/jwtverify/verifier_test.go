package jwtverify

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/testenv"
)

// newTestVerifier returns a verifier at t0 (fake clock) with the RS256,
// PS256, ES256 and EdDSA test keys, typ at+jwt, the default algorithms and
// no cache; edit adjusts the options.
func newTestVerifier(t testing.TB, edit func(*Options), sources ...Source) (*Verifier, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	algs, err := ParseAlgorithms(DefaultAlgorithms)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Issuer:       testIssuer,
		Audiences:    []string{testAudience, "other-api"},
		Algorithms:   algs,
		Skew:         30 * time.Second,
		Type:         "at+jwt",
		MaxTokenSize: 8192,
		Clock:        clock,
	}
	if edit != nil {
		edit(&opts)
	}
	if len(sources) == 0 {
		k := testKeys()
		sources = []Source{NewStatic(k["RS256"].key(t), k["PS256"].key(t), k["ES256"].key(t), k["EdDSA"].key(t))}
	}
	v, err := New(opts, sources...)
	if err != nil {
		t.Fatal(err)
	}
	return v, clock
}

// with returns goodClaims changed by edits; a nil value deletes the claim.
func with(edits map[string]any) map[string]any {
	c := goodClaims()
	for k, v := range edits {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

// rawNull stands for a JSON null in a claim edit (nil deletes the claim).
type rawNull struct{}

func (rawNull) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

// checkReason verifies tok and checks the outcome: want "" means accepted.
func checkReason(t *testing.T, v *Verifier, tok string, want Reason) *Claims {
	t.Helper()
	claims, err := v.Verify(context.Background(), tok)
	if got := ReasonOf(err); got != want {
		t.Fatalf("reason = %q (err %v), want %q", got, err, want)
	}
	if want == "" && claims == nil {
		t.Fatal("accepted without claims")
	}
	if err != nil && tok != "" && strings.Contains(err.Error(), tok) {
		t.Errorf("error message holds the token: %v", err)
	}
	return claims
}

func TestVerifyClaims(t *testing.T) {
	k := testKeys()
	ed := k["EdDSA"]
	sec := func(d time.Duration) int64 { return t0.Add(d).Unix() }
	tests := []struct {
		name     string
		claims   map[string]any
		header   map[string]any
		required []string
		want     Reason
	}{
		{name: "valid", claims: goodClaims()},
		{name: "aud array naming us", claims: with(map[string]any{"aud": []string{"someone", testAudience}})},
		{name: "aud naming the second audience", claims: with(map[string]any{"aud": "other-api"})},
		{name: "fractional exp", claims: with(map[string]any{"exp": float64(sec(10*time.Minute)) + 0.5})},
		{name: "exp within the skew", claims: with(map[string]any{"exp": sec(-29 * time.Second)})},
		{name: "nbf within the skew", claims: with(map[string]any{"nbf": sec(29 * time.Second)})},
		{name: "iat within the skew", claims: with(map[string]any{"iat": sec(29 * time.Second)})},
		{name: "no nbf or iat", claims: with(map[string]any{"nbf": nil, "iat": nil})},
		{name: "typ with media type prefix and case", claims: goodClaims(), header: map[string]any{"typ": "application/AT+JWT"}},
		{name: "no kid, one candidate", claims: goodClaims(), header: map[string]any{"kid": nil}},
		{name: "required claim present", claims: with(map[string]any{"scope": "pay"}), required: []string{"scope"}},

		{name: "expired", claims: with(map[string]any{"exp": sec(-31 * time.Second)}), want: ReasonExpired},
		{name: "expired at the skew boundary", claims: with(map[string]any{"exp": sec(-30 * time.Second)}), want: ReasonExpired},
		{name: "not yet valid", claims: with(map[string]any{"nbf": sec(31 * time.Second)}), want: ReasonNotYetValid},
		{name: "issued in the future", claims: with(map[string]any{"iat": sec(31 * time.Second)}), want: ReasonIssuedInFuture},
		{name: "exp missing", claims: with(map[string]any{"exp": nil}), want: ReasonClaimMissing},
		{name: "exp a string", claims: with(map[string]any{"exp": "1777640000"}), want: ReasonMalformed},
		{name: "exp a boolean", claims: with(map[string]any{"exp": true}), want: ReasonMalformed},
		{name: "exp null", claims: with(map[string]any{"exp": rawNull{}}), want: ReasonMalformed},
		{name: "exp zero", claims: with(map[string]any{"exp": 0}), want: ReasonMalformed},
		{name: "exp negative", claims: with(map[string]any{"exp": -5}), want: ReasonMalformed},
		{name: "exp beyond year 9999", claims: with(map[string]any{"exp": 1e20}), want: ReasonMalformed},
		{name: "exp an array", claims: with(map[string]any{"exp": []int{1777640000}}), want: ReasonMalformed},
		{name: "nbf a string", claims: with(map[string]any{"nbf": "0"}), want: ReasonMalformed},
		{name: "iat an object", claims: with(map[string]any{"iat": map[string]int{"s": 1}}), want: ReasonMalformed},
		{name: "iat negative", claims: with(map[string]any{"iat": -1}), want: ReasonMalformed},
		{name: "wrong issuer", claims: with(map[string]any{"iss": "https://evil.example"}), want: ReasonIssuer},
		{name: "issuer differing in case", claims: with(map[string]any{"iss": strings.ToUpper(testIssuer)}), want: ReasonIssuer},
		{name: "issuer missing", claims: with(map[string]any{"iss": nil}), want: ReasonIssuer},
		{name: "issuer a number", claims: with(map[string]any{"iss": 7}), want: ReasonMalformed},
		{name: "issuer an array", claims: with(map[string]any{"iss": []string{testIssuer}}), want: ReasonMalformed},
		{name: "wrong audience", claims: with(map[string]any{"aud": "billing"}), want: ReasonAudience},
		{name: "audience missing", claims: with(map[string]any{"aud": nil}), want: ReasonAudience},
		{name: "audience empty array", claims: with(map[string]any{"aud": []string{}}), want: ReasonAudience},
		{name: "audience array with a number", claims: with(map[string]any{"aud": []any{testAudience, 1}}), want: ReasonMalformed},
		{name: "audience an object", claims: with(map[string]any{"aud": map[string]string{"a": testAudience}}), want: ReasonMalformed},
		{name: "audience null", claims: with(map[string]any{"aud": rawNull{}}), want: ReasonMalformed},
		{name: "subject missing", claims: with(map[string]any{"sub": nil}), want: ReasonSubject},
		{name: "subject empty", claims: with(map[string]any{"sub": ""}), want: ReasonSubject},
		{name: "subject with a newline", claims: with(map[string]any{"sub": "user_1\nX-Admin: 1"}), want: ReasonSubject},
		{name: "subject with a space before it", claims: with(map[string]any{"sub": " user_1"}), want: ReasonSubject},
		{name: "subject with a no-break space after it", claims: with(map[string]any{"sub": "user_1\u00a0"}), want: ReasonSubject},
		{name: "subject a number", claims: with(map[string]any{"sub": 42}), want: ReasonMalformed},
		{name: "required claim missing", claims: goodClaims(), required: []string{"scope"}, want: ReasonClaimMissing},
		{name: "required claim null", claims: with(map[string]any{"scope": rawNull{}}), required: []string{"scope"}, want: ReasonClaimMissing},
		{name: "typ missing", claims: goodClaims(), header: map[string]any{"typ": nil}, want: ReasonTypeMismatch},
		{name: "typ JWT", claims: goodClaims(), header: map[string]any{"typ": "JWT"}, want: ReasonTypeMismatch},
		{name: "typ a number", claims: goodClaims(), header: map[string]any{"typ": 1}, want: ReasonMalformed},
		{name: "crit", claims: goodClaims(), header: map[string]any{"crit": []string{"exp"}}, want: ReasonCritUnsupported},
		{name: "empty crit", claims: goodClaims(), header: map[string]any{"crit": []string{}}, want: ReasonCritUnsupported},
		{name: "b64 false without crit", claims: goodClaims(), header: map[string]any{"b64": false}, want: ReasonCritUnsupported},
		{name: "b64 true", claims: goodClaims(), header: map[string]any{"b64": true}, want: ReasonCritUnsupported},
		{name: "kid a number", claims: goodClaims(), header: map[string]any{"kid": 1}, want: ReasonMalformed},
		{name: "alg missing", claims: goodClaims(), header: map[string]any{"alg": nil}, want: ReasonMalformed},
		{name: "alg a number", claims: goodClaims(), header: map[string]any{"alg": 256}, want: ReasonMalformed},
		{name: "alg not on the list", claims: goodClaims(), header: map[string]any{"alg": "ES384"}, want: ReasonAlgNotAllowed},
		{name: "alg in another case", claims: goodClaims(), header: map[string]any{"alg": "eddsa"}, want: ReasonAlgNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _ := newTestVerifier(t, func(o *Options) { o.RequiredClaims = tt.required })
			claims := checkReason(t, v, token(t, ed, tt.claims, tt.header), tt.want)
			if tt.want == "" && claims.Subject != "user_1" {
				t.Errorf("Subject = %q, want user_1", claims.Subject)
			}
		})
	}
}

func TestVerifyEachAlgorithm(t *testing.T) {
	k := testKeys()
	v, _ := newTestVerifier(t, nil)
	for _, alg := range []string{"RS256", "PS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			claims := checkReason(t, v, token(t, k[alg], goodClaims(), nil), "")
			if claims.Issuer != testIssuer || len(claims.Audience) != 1 || claims.Audience[0] != testAudience || !claims.Expiry.Equal(t0.Add(10*time.Minute)) {
				t.Errorf("claims = %+v", claims)
			}
		})
	}
}

func TestVerifyStrictJWS(t *testing.T) {
	k := testKeys()
	ed := k["EdDSA"]
	good := token(t, ed, goodClaims(), nil)
	h, p, s := splitToken(t, good)
	header := `{"alg":"EdDSA","kid":"ed-1","typ":"at+jwt"}`
	claims := jsonText(t, goodClaims())
	sign := func(header, payload string) string { return testenv.SignJWT(t, "EdDSA", ed.private, header, payload) }
	tests := []struct {
		name  string
		token string
		want  Reason
	}{
		{name: "valid", token: good},
		{name: "two segments", token: h + "." + p, want: ReasonMalformed},
		{name: "four segments", token: good + "." + s, want: ReasonMalformed},
		{name: "five segments (JWE)", token: h + ".." + p + "." + s + "." + s, want: ReasonMalformed},
		{name: "empty token", token: "", want: ReasonMalformed},
		{name: "empty signature", token: h + "." + p + ".", want: ReasonMalformed},
		{name: "empty payload", token: h + ".." + s, want: ReasonMalformed},
		{name: "padded signature", token: good + "==", want: ReasonMalformed},
		{name: "padded header", token: strings.Replace(good, h, h+"=", 1), want: ReasonMalformed},
		{name: "standard alphabet", token: h + "." + p + "." + strings.NewReplacer("-", "+", "_", "/").Replace(s) + "+/", want: ReasonMalformed},
		{name: "line break in payload", token: h + "." + p[:10] + "\n" + p[10:] + "." + s, want: ReasonMalformed},
		{name: "space", token: h + ". " + p + "." + s, want: ReasonMalformed},
		{name: "non-canonical last character", token: h + "." + p + "." + s[:len(s)-1] + nonCanonical(s[len(s)-1]), want: ReasonMalformed},
		{name: "header not JSON", token: sign("alg=EdDSA", claims), want: ReasonMalformed},
		{name: "header a JSON array", token: sign(`["EdDSA"]`, claims), want: ReasonMalformed},
		{name: "payload a JSON array", token: sign(header, `[1,2]`), want: ReasonMalformed},
		{name: "payload a JSON string", token: sign(header, `"claims"`), want: ReasonMalformed},
		{name: "data after the payload object", token: sign(header, claims+`{}`), want: ReasonMalformed},
		{name: "trailing comma", token: sign(header, strings.TrimSuffix(claims, "}")+`,}`), want: ReasonMalformed},
		{name: "invalid UTF-8 in payload", token: sign(header, strings.Replace(claims, `"user_1"`, "\"user_\xff\"", 1)), want: ReasonMalformed},
		{name: "nesting too deep", token: sign(header, strings.TrimSuffix(claims, "}")+`,"x":`+strings.Repeat("[", 40)+strings.Repeat("]", 40)+`}`), want: ReasonMalformed},
		{name: "duplicate alg in header", token: sign(`{"alg":"EdDSA","alg":"none","kid":"ed-1","typ":"at+jwt"}`, claims), want: ReasonDuplicateMember},
		{name: "duplicate sub in payload", token: sign(header, strings.TrimSuffix(claims, "}")+`,"sub":"admin"}`), want: ReasonDuplicateMember},
		{name: "duplicate through an escape", token: sign(header, strings.TrimSuffix(claims, "}")+`,"\u0073ub":"admin"}`), want: ReasonDuplicateMember},
		{name: "duplicate in a nested object", token: sign(header, strings.TrimSuffix(claims, "}")+`,"ctx":{"role":"a","role":"b"}}`), want: ReasonDuplicateMember},
		{name: "duplicate inside an array", token: sign(header, strings.TrimSuffix(claims, "}")+`,"ctx":[{"role":"a","role":"b"}]}`), want: ReasonDuplicateMember},
		{name: "too large", token: sign(header, strings.TrimSuffix(claims, "}")+`,"pad":"`+strings.Repeat("a", 8192)+`"}`), want: ReasonTooLarge},
	}
	v, _ := newTestVerifier(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkReason(t, v, tt.token, tt.want)
		})
	}
}

// nonCanonical returns another base64url character that decodes to the
// same bits as c in a final position with unused bits (the standard
// decoder accepts it, the strict one does not).
func nonCanonical(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return string(alphabet[i^1])
}

func splitToken(t testing.TB, tok string) (h, p, s string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	return parts[0], parts[1], parts[2]
}

// TestRFC8725Attacks runs the attack classes of RFC 8725 (JWT Best Current
// Practices) against a verifier with the default allow-list.
func TestRFC8725Attacks(t *testing.T) {
	k := testKeys()
	rsaKey, ed, attacker := k["RS256"], k["EdDSA"], k["attacker"]
	claims := jsonText(t, goodClaims())
	good := token(t, ed, goodClaims(), nil)
	gh, gp, gs := splitToken(t, good)

	rsaPub, err := x509.MarshalPKIXPublicKey(rsaKey.private.Public())
	must(t, err)
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaPub})
	rsaJWK := jsonText(t, rsaKey.publicJWK(t))

	hdr := func(alg, kid string, extra map[string]any) string {
		h := map[string]any{"alg": alg, "typ": "at+jwt"}
		if kid != "" {
			h["kid"] = kid
		}
		maps.Copy(h, extra)
		return jsonText(t, h)
	}
	attackerJWK := attacker.publicJWK(t)
	tests := []struct {
		name  string
		token string
		want  Reason
	}{
		// alg "none" (RFC 8725 §2.1, §3.1), in every casing, signed or not.
		{name: "alg none, empty signature", token: testenv.Segment(hdr("none", "ed-1", nil)) + "." + testenv.Segment(claims) + ".", want: ReasonMalformed},
		{name: "alg none with a signature", token: testenv.Segment(hdr("none", "ed-1", nil)) + "." + testenv.Segment(claims) + "." + gs, want: ReasonAlgNotAllowed},
		{name: "alg None", token: testenv.Segment(hdr("None", "ed-1", nil)) + "." + testenv.Segment(claims) + "." + gs, want: ReasonAlgNotAllowed},
		{name: "alg NONE", token: testenv.Segment(hdr("NONE", "ed-1", nil)) + "." + testenv.Segment(claims) + "." + gs, want: ReasonAlgNotAllowed},
		{name: "alg nOnE", token: testenv.Segment(hdr("nOnE", "", nil)) + "." + testenv.Segment(claims) + "." + gs, want: ReasonAlgNotAllowed},
		// HMAC with the public key as the secret (RFC 8725 §2.1).
		{name: "HS256 keyed with the RSA public key PEM", token: testenv.SignJWT(t, "HS256", rsaPEM, hdr("HS256", "rsa-1", nil), claims), want: ReasonAlgNotAllowed},
		{name: "HS256 keyed with the RSA public JWK", token: testenv.SignJWT(t, "HS256", []byte(rsaJWK), hdr("HS256", "rsa-1", nil), claims), want: ReasonAlgNotAllowed},
		{name: "HS512 keyed with the RSA public key DER", token: testenv.SignJWT(t, "HS512", rsaPub, hdr("HS512", "", nil), claims), want: ReasonAlgNotAllowed},
		// A key used with an algorithm other than its own (RFC 8725 §3.1).
		{name: "ES256 token naming the RSA key", token: testenv.SignJWT(t, "ES256", k["ES256"].private, hdr("ES256", "rsa-1", nil), claims), want: ReasonKeyMismatch},
		{name: "RS256 token naming the PS256 key", token: testenv.SignJWT(t, "RS256", k["PS256"].private, hdr("RS256", "rsa-pss-1", nil), claims), want: ReasonKeyMismatch},
		{name: "PS256 token naming the RS256 key", token: testenv.SignJWT(t, "PS256", rsaKey.private, hdr("PS256", "rsa-1", nil), claims), want: ReasonKeyMismatch},
		// Keys the token brings itself: jwk, jku, x5u, x5c (RFC 8725 §3.10).
		{name: "embedded jwk with the victim's kid", token: testenv.SignJWT(t, "EdDSA", attacker.private, hdr("EdDSA", "ed-1", map[string]any{"jwk": attackerJWK}), claims), want: ReasonSignatureInvalid},
		{name: "embedded jwk without kid", token: testenv.SignJWT(t, "EdDSA", attacker.private, hdr("EdDSA", "", map[string]any{"jwk": attackerJWK}), claims), want: ReasonSignatureInvalid},
		{name: "embedded jwk with its own kid", token: testenv.SignJWT(t, "EdDSA", attacker.private, hdr("EdDSA", "attacker-1", map[string]any{"jwk": attackerJWK}), claims), want: ReasonKeyUnknown},
		{name: "jku to the attacker's JWKS", token: testenv.SignJWT(t, "EdDSA", attacker.private, hdr("EdDSA", "attacker-1", map[string]any{"jku": "https://127.0.0.1:1/jwks.json"}), claims), want: ReasonKeyUnknown},
		{name: "x5u to the attacker's certificate", token: testenv.SignJWT(t, "EdDSA", attacker.private, hdr("EdDSA", "", map[string]any{"x5u": "https://127.0.0.1:1/cert.pem"}), claims), want: ReasonSignatureInvalid},
		{name: "x5c with the attacker's certificate", token: testenv.SignJWT(t, "EdDSA", attacker.private, hdr("EdDSA", "", map[string]any{"x5c": []string{selfSignedCert(t, attacker)}}), claims), want: ReasonSignatureInvalid},
		// kid is a lookup key, never a path, query or URL.
		{name: "kid path traversal", token: testenv.SignJWT(t, "EdDSA", attacker.private, hdr("EdDSA", "../../../../../dev/null", nil), claims), want: ReasonKeyUnknown},
		{name: "kid SQL injection", token: testenv.SignJWT(t, "EdDSA", attacker.private, hdr("EdDSA", "x' UNION SELECT 'secret' --", nil), claims), want: ReasonKeyUnknown},
		{name: "kid with a NUL after a real kid", token: testenv.SignJWT(t, "EdDSA", attacker.private, hdr("EdDSA", "ed-1\x00", nil), claims), want: ReasonKeyUnknown},
		{name: "kid a URL", token: testenv.SignJWT(t, "EdDSA", attacker.private, hdr("EdDSA", "https://127.0.0.1:1/key", nil), claims), want: ReasonKeyUnknown},
		{name: "kid very long", token: testenv.SignJWT(t, "EdDSA", attacker.private, hdr("EdDSA", strings.Repeat("k", 4000), nil), claims), want: ReasonKeyUnknown},
		// Substitution under a valid signature.
		{name: "payload changed under the original signature", token: gh + "." + testenv.Segment(jsonText(t, with(map[string]any{"sub": "admin"}))) + "." + gs, want: ReasonSignatureInvalid},
		{name: "header changed under the original signature", token: testenv.Segment(hdr("EdDSA", "ed-1", map[string]any{"typ": "application/at+jwt"})) + "." + gp + "." + gs, want: ReasonSignatureInvalid},
		{name: "signature of another token", token: gh + "." + gp + "." + mustSplitSig(t, token(t, ed, with(map[string]any{"sub": "other"}), nil)), want: ReasonSignatureInvalid},
		{name: "signed by another key of the same type", token: token(t, attacker, goodClaims(), nil), want: ReasonSignatureInvalid},
		// Time, issuer, audience and type confusion.
		{name: "expired", token: token(t, ed, with(map[string]any{"exp": t0.Add(-time.Hour).Unix()}), nil), want: ReasonExpired},
		{name: "not yet valid", token: token(t, ed, with(map[string]any{"nbf": t0.Add(time.Hour).Unix()}), nil), want: ReasonNotYetValid},
		{name: "issued in the future", token: token(t, ed, with(map[string]any{"iat": t0.Add(time.Hour).Unix()}), nil), want: ReasonIssuedInFuture},
		{name: "token of another issuer", token: token(t, ed, with(map[string]any{"iss": "https://id.other.test"}), nil), want: ReasonIssuer},
		{name: "token for another audience", token: token(t, ed, with(map[string]any{"aud": "https://other.example"}), nil), want: ReasonAudience},
		{name: "ID token used as an access token", token: token(t, ed, goodClaims(), map[string]any{"typ": "JWT"}), want: ReasonTypeMismatch},
		// Parser differentials.
		{name: "duplicate alg member", token: testenv.SignJWT(t, "EdDSA", ed.private, `{"alg":"none","alg":"EdDSA","kid":"ed-1","typ":"at+jwt"}`, claims), want: ReasonDuplicateMember},
		{name: "duplicate sub member", token: testenv.SignJWT(t, "EdDSA", ed.private, hdr("EdDSA", "ed-1", nil), `{"sub":"user_1","sub":"admin"}`), want: ReasonDuplicateMember},
		{name: "oversized", token: good + strings.Repeat("A", 8192), want: ReasonTooLarge},
		{name: "malformed", token: "not.a.jwt!", want: ReasonMalformed},
	}
	v, _ := newTestVerifier(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkReason(t, v, tt.token, tt.want)
		})
	}
}

func mustSplitSig(t testing.TB, tok string) string {
	_, _, s := splitToken(t, tok)
	return s
}

// TestKeysInTokenAreNeverFetched shows that jku and x5u are not followed: a
// server they point to sees no request.
func TestKeysInTokenAreNeverFetched(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t, k["attacker"])
	tok := testenv.SignJWT(t, "EdDSA", k["attacker"].private,
		jsonText(t, map[string]any{"alg": "EdDSA", "kid": "ed-1", "typ": "at+jwt", "jku": srv.URL(), "x5u": srv.URL()}),
		jsonText(t, goodClaims()))
	v, _ := newTestVerifier(t, nil)
	checkReason(t, v, tok, ReasonSignatureInvalid)
	if n := srv.Fetches(); n != 0 {
		t.Errorf("the token's jku/x5u server got %d requests, want 0", n)
	}
}

func TestHMACSecret(t *testing.T) {
	secret := []byte(strings.Repeat("s3cr3t-", 6))
	key, err := SecretKey(secret, "HS256")
	must(t, err)
	algs, err := ParseAlgorithms([]string{"HS256"})
	must(t, err)
	v, _ := newTestVerifier(t, func(o *Options) { o.Algorithms = algs }, NewStatic(key))
	hdr := `{"alg":"HS256","typ":"at+jwt"}`
	claims := jsonText(t, goodClaims())
	checkReason(t, v, testenv.SignJWT(t, "HS256", secret, hdr, claims), "")
	checkReason(t, v, testenv.SignJWT(t, "HS256", []byte("another secret of thirty-two bytes!!"), hdr, claims), ReasonSignatureInvalid)
	checkReason(t, v, testenv.SignJWT(t, "HS384", append(secret, secret...), `{"alg":"HS384","typ":"at+jwt"}`, claims), ReasonAlgNotAllowed)
	checkReason(t, v, token(t, testKeys()["EdDSA"], goodClaims(), nil), ReasonAlgNotAllowed)
}

func TestSecretKeyLength(t *testing.T) {
	tests := []struct {
		alg     string
		n       int
		wantErr bool
	}{
		{"HS256", 32, false}, {"HS256", 31, true},
		{"HS384", 48, false}, {"HS384", 47, true},
		{"HS512", 64, false}, {"HS512", 63, true},
		{"RS256", 64, true}, {"none", 64, true},
	}
	for _, tt := range tests {
		_, err := SecretKey(make([]byte, tt.n), tt.alg)
		if (err != nil) != tt.wantErr {
			t.Errorf("SecretKey(%d bytes, %s): err = %v, wantErr %v", tt.n, tt.alg, err, tt.wantErr)
		}
	}
}

func TestParseAlgorithms(t *testing.T) {
	tests := []struct {
		names   []string
		wantErr bool
	}{
		{names: DefaultAlgorithms},
		{names: []string{"HS256", "HS512"}},
		{names: []string{"ES384", "ES512", "PS512", "RS384"}},
		{names: nil, wantErr: true},
		{names: []string{"none"}, wantErr: true},
		{names: []string{"RS256", "None"}, wantErr: true},
		{names: []string{"NONE"}, wantErr: true},
		{names: []string{"rs256"}, wantErr: true},
		{names: []string{"ES256K"}, wantErr: true},
		{names: []string{"RS256", "HS256"}, wantErr: true},
	}
	for _, tt := range tests {
		a, err := ParseAlgorithms(tt.names)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseAlgorithms(%q): err = %v, wantErr %v", tt.names, err, tt.wantErr)
		}
		if err == nil && len(a.Names()) != len(tt.names) {
			t.Errorf("ParseAlgorithms(%q).Names() = %q", tt.names, a.Names())
		}
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	k := testKeys()
	static := NewStatic(k["EdDSA"].key(t))
	secret, err := SecretKey(make([]byte, 32), "HS256")
	must(t, err)
	asym, err := ParseAlgorithms(DefaultAlgorithms)
	must(t, err)
	hmac, err := ParseAlgorithms([]string{"HS256"})
	must(t, err)
	remote, err := StartRemote(t.Context(), "https://id.example.test/jwks.json", asym, RemoteOptions{Clock: newFakeClock(), Client: refusingClient()})
	must(t, err)
	base := func() Options {
		return Options{Issuer: testIssuer, Audiences: []string{testAudience}, Algorithms: asym, Skew: time.Second, MaxTokenSize: 100}
	}
	tests := []struct {
		name    string
		edit    func(*Options)
		sources []Source
	}{
		{name: "no issuer", edit: func(o *Options) { o.Issuer = "" }, sources: []Source{static}},
		{name: "no audience", edit: func(o *Options) { o.Audiences = nil }, sources: []Source{static}},
		{name: "no algorithms", edit: func(o *Options) { o.Algorithms = Algorithms{} }, sources: []Source{static}},
		{name: "skew above 5m", edit: func(o *Options) { o.Skew = 5*time.Minute + time.Second }, sources: []Source{static}},
		{name: "negative skew", edit: func(o *Options) { o.Skew = -time.Second }, sources: []Source{static}},
		{name: "no size limit", edit: func(o *Options) { o.MaxTokenSize = 0 }, sources: []Source{static}},
		{name: "negative cache", edit: func(o *Options) { o.CacheSize = -1 }, sources: []Source{static}},
		{name: "no sources"},
		{name: "secret with asymmetric algorithms", sources: []Source{NewStatic(secret)}},
		{name: "asymmetric key with HMAC algorithms", edit: func(o *Options) { o.Algorithms = hmac }, sources: []Source{static}},
		{name: "JWKS with HMAC algorithms", edit: func(o *Options) { o.Algorithms = hmac }, sources: []Source{NewStatic(secret), remote}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base()
			if tt.edit != nil {
				tt.edit(&o)
			}
			if _, err := New(o, tt.sources...); err == nil {
				t.Fatal("got no error")
			}
		})
	}
	o := base()
	if _, err := New(o, static); err != nil {
		t.Fatalf("base options: %v", err)
	}
}

func TestClaimsValue(t *testing.T) {
	k := testKeys()
	v, _ := newTestVerifier(t, nil)
	claims := checkReason(t, v, token(t, k["EdDSA"], with(map[string]any{
		"email":  "a@example.com",
		"n":      1.50,
		"admin":  false,
		"roles":  []string{"a", "b"},
		"ctx":    map[string]any{"b": 1, "a": "x"},
		"absent": rawNull{},
	}), nil), "")
	tests := map[string]struct {
		want string
		ok   bool
	}{
		"email":   {"a@example.com", true},
		"n":       {"1.5", true},
		"admin":   {"false", true},
		"roles":   {`["a","b"]`, true},
		"ctx":     {`{"a":"x","b":1}`, true},
		"absent":  {"", false},
		"missing": {"", false},
		"sub":     {"user_1", true},
	}
	for name, want := range tests {
		if got, ok := claims.Value(name); got != want.want || ok != want.ok {
			t.Errorf("Value(%q) = %q, %v; want %q, %v", name, got, ok, want.want, want.ok)
		}
	}
}

func TestErrorOf(t *testing.T) {
	e := &Error{Reason: ReasonExpired, Err: errors.New("expired 1s ago")}
	wrapped := errors.Join(errors.New("context"), e)
	if got := ReasonOf(wrapped); got != ReasonExpired {
		t.Errorf("ReasonOf = %q", got)
	}
	if got := ReasonOf(errors.New("other")); got != "" {
		t.Errorf("ReasonOf(other) = %q", got)
	}
	if e.Error() != "jwt: token_expired: expired 1s ago" || !errors.Is(e, e.Err) {
		t.Errorf("Error() = %q", e.Error())
	}
}
