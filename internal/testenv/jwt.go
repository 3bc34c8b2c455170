package testenv

import (
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/paygate/paygate/internal/devtoken"
)

// This file is the kit's one token minter. It signs in process, with jwx
// directly rather than through paygate's own JWT code, so that the tests of
// that code can use it, and it mints what no well-behaved issuer would:
// any alg (none included) with any key, any header member, any claims, and
// segments of arbitrary text.

// Segment is text as a JWT segment: unpadded base64url.
func Segment(text string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(text))
}

// SignJWT returns the compact JWS whose header and payload segments are
// exactly the texts header and payload (so they may be invalid JSON, hold
// duplicate members or lie about alg), signed under alg with key: a private
// key, an HMAC secret as []byte, or a jwk.Key. An alg of "none", in any
// case, gives an empty signature and needs no key.
func SignJWT(t testing.TB, alg string, key any, header, payload string) string {
	t.Helper()
	input := Segment(header) + "." + Segment(payload)
	if strings.EqualFold(alg, "none") {
		return input + "."
	}
	if k, ok := key.(jwk.Key); ok {
		var raw any
		if err := k.Raw(&raw); err != nil {
			t.Fatalf("signing key: %v", err)
		}
		key = raw
	}
	signer, err := jws.NewSigner(jwa.SignatureAlgorithm(alg))
	if err != nil {
		t.Fatalf("alg %q: %v", alg, err)
	}
	sig, err := signer.Sign([]byte(input), key)
	if err != nil {
		t.Fatalf("sign with %s: %v", alg, err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// JWT describes a token for MintJWT.
type JWT struct {
	// Alg is the signature algorithm (see SignJWT) and the header's alg,
	// unless Header says otherwise.
	Alg string
	// Key signs; see SignJWT. When it is a jwk.Key with a kid, that kid is
	// the header's unless Header says otherwise.
	Key any
	// Header holds the header members besides alg and kid, and may replace
	// those two; a nil value leaves a member out.
	Header map[string]any
	// Claims is the payload.
	Claims map[string]any
}

// MintJWT returns tok signed.
func MintJWT(t testing.TB, tok JWT) string {
	t.Helper()
	header := map[string]any{"alg": tok.Alg}
	if k, ok := tok.Key.(jwk.Key); ok && k.KeyID() != "" {
		header["kid"] = k.KeyID()
	}
	override(header, tok.Header)
	headerText, err := json.Marshal(header)
	if err != nil {
		t.Fatalf("header: %v", err)
	}
	claimsText, err := json.Marshal(tok.Claims)
	if err != nil {
		t.Fatalf("claims: %v", err)
	}
	return SignJWT(t, tok.Alg, tok.Key, string(headerText), string(claimsText))
}

// ReplaceSegment returns token with its segment i (0 the header, 1 the
// payload, 2 the signature) replaced by text, base64url-encoded, and the
// others kept: a token changed after it was signed.
func ReplaceSegment(t testing.TB, token string, i int, text string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 || i < 0 || i > 2 {
		t.Fatalf("segment %d of a token of %d segments", i, len(parts))
	}
	parts[i] = Segment(text)
	return strings.Join(parts, ".")
}

// override sets the members of with in m, and removes those whose value
// in with is nil.
func override(m, with map[string]any) {
	for name, v := range with {
		if v == nil {
			delete(m, name)
		} else {
			m[name] = v
		}
	}
}

// devKey is the development key, read once per test process.
var devKey = sync.OnceValues(func() (jwk.Key, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	return devtoken.LoadKey(filepath.Join(root, filepath.FromSlash(devtoken.DefaultKeyFile)))
})

// DevKey is the development signing key (testdata/jwt/dev-private.pem, an
// Ed25519 key) with the kid the development JWKS lists for it.
func DevKey(t testing.TB) jwk.Key {
	t.Helper()
	k, err := devKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// DevClaims are the claims of a development token for sub, as "paygate
// token --sub sub" mints them: the development issuer and audience, issued
// now, expiring after the default lifetime.
func DevClaims(sub string) map[string]any {
	now := time.Now()
	return map[string]any{
		"sub": sub,
		"iss": devtoken.DefaultIssuer,
		"aud": devtoken.DefaultAudience,
		"iat": now.Unix(),
		"exp": now.Add(devtoken.DefaultTTL).Unix(),
	}
}

// DevToken mints the token "paygate token --sub sub" would, which the
// shipped Caddyfile's jwt_auth accepts: DevClaims(sub), with claims added
// or replacing them (a nil value leaves one out), signed with DevKey and
// typed at+jwt.
func DevToken(t testing.TB, sub string, claims map[string]any) string {
	t.Helper()
	all := DevClaims(sub)
	override(all, claims)
	return MintJWT(t, JWT{Alg: jwa.EdDSA.String(), Key: DevKey(t), Header: map[string]any{"typ": devtoken.DefaultType}, Claims: all})
}
