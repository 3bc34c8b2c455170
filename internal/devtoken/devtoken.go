// Package devtoken mints development tokens: JWTs signed with a local
// private key, by default the development key in testdata/jwt that the
// shipped Caddyfile accepts. The "paygate token" command prints them, so
// that the API can be called by hand:
//
//	curl -H "Authorization: Bearer $(paygate token --sub user_1)" ...
//
// The development key is public; no deployment may accept it.
package devtoken

import (
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Defaults of the token command; the shipped Caddyfile accepts them.
const (
	DefaultKeyFile  = "testdata/jwt/dev-private.pem"
	DefaultIssuer   = "https://id.paygate.localhost"
	DefaultAudience = "paygate"
	DefaultTTL      = 15 * time.Minute
	DefaultType     = "at+jwt"
)

// registered are the claims Options sets itself; Claims may not name them.
var registered = map[string]bool{"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true}

// Options describes a token to mint.
type Options struct {
	// Subject is sub. Required.
	Subject string
	// Issuer is iss.
	Issuer string
	// Audience is aud.
	Audience string
	// TTL is the time from Now to exp; a negative TTL mints an expired token.
	TTL time.Duration
	// Type is the typ header; "" leaves it out.
	Type string
	// KeyID is the kid header; "" uses the key's own kid (LoadKey gives a
	// key its RFC 7638 thumbprint).
	KeyID string
	// Alg overrides the algorithm the key's type implies (for an RSA key:
	// RS256, or PS256 and the like).
	Alg string
	// Claims are further claims; they may not name iss, sub, aud, exp, nbf
	// or iat.
	Claims map[string]any
}

// LoadKey reads a PEM private key (PKCS #8, PKCS #1 or SEC 1) and returns it
// as a JWK whose kid is its RFC 7638 thumbprint, the kid the development
// JWKS lists.
func LoadKey(path string) (jwk.Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	key, err := jwk.ParseKey(data, jwk.WithPEM(true))
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	private, err := jwk.IsPrivateKey(key)
	if err != nil || !private {
		return nil, fmt.Errorf("signing key %s: not a private key", path)
	}
	tp, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	if err := key.Set(jwk.KeyIDKey, base64.RawURLEncoding.EncodeToString(tp)); err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return key, nil
}

// Mint signs a token for o with key.
func Mint(key jwk.Key, o Options) (string, error) {
	if o.Subject == "" {
		return "", errors.New("a subject is required")
	}
	alg, err := algorithm(key, o.Alg)
	if err != nil {
		return "", err
	}
	now := time.Now()
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("jti: %w", err)
	}
	claims := map[string]any{
		"sub": o.Subject,
		"iat": now.Unix(),
		"exp": now.Add(o.TTL).Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(jti),
	}
	if o.Issuer != "" {
		claims["iss"] = o.Issuer
	}
	if o.Audience != "" {
		claims["aud"] = o.Audience
	}
	for k, v := range o.Claims {
		if registered[k] {
			return "", fmt.Errorf("claim %q is set by its own option", k)
		}
		claims[k] = v
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("claims: %w", err)
	}
	kid := o.KeyID
	if kid == "" {
		kid = key.KeyID()
	}
	// Signed with the raw key: jws.Sign would write a JWK's own kid over
	// the header's.
	var raw any
	if err := key.Raw(&raw); err != nil {
		return "", fmt.Errorf("signing key: %w", err)
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, kid); err != nil {
		return "", fmt.Errorf("header: %w", err)
	}
	if o.Type != "" {
		if err := hdr.Set(jws.TypeKey, o.Type); err != nil {
			return "", fmt.Errorf("header: %w", err)
		}
	}
	token, err := jws.Sign(payload, jws.WithKey(alg, raw, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return string(token), nil
}

// algorithm returns override, or the algorithm the key's type implies.
func algorithm(key jwk.Key, override string) (jwa.SignatureAlgorithm, error) {
	if override != "" {
		var alg jwa.SignatureAlgorithm
		if err := alg.Accept(override); err != nil {
			return "", fmt.Errorf("algorithm %q: %w", override, err)
		}
		return alg, nil
	}
	switch key.KeyType() {
	case jwa.RSA:
		return jwa.RS256, nil
	case jwa.OKP:
		return jwa.EdDSA, nil
	case jwa.EC:
		crv, _ := key.Get(jwk.ECDSACrvKey)
		switch crv {
		case jwa.P256:
			return jwa.ES256, nil
		case jwa.P384:
			return jwa.ES384, nil
		case jwa.P521:
			return jwa.ES512, nil
		}
	}
	return "", fmt.Errorf("no algorithm for a %s key", key.KeyType())
}
