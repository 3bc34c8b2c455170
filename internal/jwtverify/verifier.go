// Package jwtverify verifies JSON Web Tokens for paygate's jwt_auth stage,
// following RFC 8725 (JWT Best Current Practices): algorithms come from an
// allow-list and each key verifies exactly one of them; "none" never
// verifies; an HMAC allow-list never meets an asymmetric key; the token's
// own jku, x5u, jwk and x5c headers are never used to find a key; crit is
// refused; the JWS and the claims are parsed strictly (unpadded base64url,
// no duplicate JSON members, registered claims of the types RFC 7519 gives
// them), whatever the underlying library would tolerate.
//
// lestrrat-go/jwx does the cryptography (jws verifiers), key parsing and
// typing (jwk); this package adds the strict parsing, the claim rules, JWKS
// refreshing with the guarantees paygate needs (see Remote) and a cache of
// verified tokens. It has no Caddy HTTP types: the jwt_auth module is the
// glue.
package jwtverify

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// MaxSkew is the largest clock skew a Verifier accepts.
const MaxSkew = 5 * time.Minute

// Options configures a Verifier.
type Options struct {
	// Issuer is the one accepted iss. Required.
	Issuer string
	// Audiences are the accepted aud values; a token must name at least one.
	// Required.
	Audiences []string
	// Algorithms is the allow-list. Required.
	Algorithms Algorithms
	// Skew is the clock skew tolerated on exp, nbf and iat, at most MaxSkew.
	Skew time.Duration
	// Type, when set, is the typ header every token must carry, e.g.
	// "at+jwt"; compared case-insensitively, "application/" optional
	// (RFC 7515 §4.1.9).
	Type string
	// RequiredClaims must be present (and not null) in every token.
	RequiredClaims []string
	// MaxTokenSize is the longest token, in bytes, that is parsed at all.
	// Required.
	MaxTokenSize int
	// CacheSize is how many verified tokens are remembered; 0 disables the
	// cache.
	CacheSize int
	// Clock is the time source; nil means the wall clock.
	Clock Clock
	// OnCacheLookup, when set, is called on every cache lookup with whether
	// it found a live entry.
	OnCacheLookup func(hit bool)
}

// Verifier checks tokens against one configuration and its key sources. It
// is safe for concurrent use.
type Verifier struct {
	issuer    string
	audiences stringSet
	algs      Algorithms
	skew      time.Duration
	typ       string
	required  []string
	maxSize   int
	cache     *tokenCache
	clock     Clock
	onLookup  func(bool)
	sources   []Source
}

// New returns a Verifier for opts that finds keys in sources. It refuses an
// incomplete configuration, and an HMAC allow-list combined with a JWKS or
// with any key that is not an allowed HMAC secret.
func New(opts Options, sources ...Source) (*Verifier, error) {
	switch {
	case opts.Issuer == "":
		return nil, errors.New("an issuer is required")
	case len(opts.Audiences) == 0:
		return nil, errors.New("at least one audience is required")
	case len(opts.Algorithms.set) == 0:
		return nil, errors.New("an algorithm allow-list is required")
	case opts.Skew < 0 || opts.Skew > MaxSkew:
		return nil, fmt.Errorf("skew %s is outside 0 to %s", opts.Skew, MaxSkew)
	case opts.MaxTokenSize <= 0:
		return nil, errors.New("a maximum token size is required")
	case opts.CacheSize < 0:
		return nil, errors.New("the cache size cannot be negative")
	case len(sources) == 0:
		return nil, errors.New("at least one key source is required")
	}
	for _, s := range sources {
		switch s := s.(type) {
		case *Remote:
			if opts.Algorithms.HMAC() {
				return nil, errors.New("a JWKS cannot be used with HMAC algorithms")
			}
		case *Static:
			for _, k := range s.ring.keys {
				if !opts.Algorithms.Allows(k.Alg) {
					return nil, fmt.Errorf("a key for %s is configured, but only %s are allowed", k.Alg, strings.Join(opts.Algorithms.Names(), ", "))
				}
			}
		}
	}
	v := &Verifier{
		issuer:    opts.Issuer,
		audiences: make(stringSet, len(opts.Audiences)),
		algs:      opts.Algorithms,
		skew:      opts.Skew,
		typ:       normalizeType(opts.Type),
		required:  opts.RequiredClaims,
		maxSize:   opts.MaxTokenSize,
		clock:     opts.Clock,
		onLookup:  opts.OnCacheLookup,
		sources:   sources,
	}
	for _, a := range opts.Audiences {
		v.audiences[a] = true
	}
	if v.clock == nil {
		v.clock = systemClock{}
	}
	if opts.CacheSize > 0 {
		v.cache = newTokenCache(opts.CacheSize)
	}
	return v, nil
}

// Verify checks token and returns its claims, or an error holding an
// *Error whose Reason says why it was refused. The error never holds the
// token or a claim value.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if len(token) > v.maxSize {
		return nil, &Error{Reason: ReasonTooLarge, Err: fmt.Errorf("%d bytes, limit %d", len(token), v.maxSize)}
	}
	now := v.clock.Now()
	var sum [32]byte
	if v.cache != nil {
		sum = sha256.Sum256([]byte(token))
		e, ok := v.cache.get(sum, now)
		if ok && !v.keyPresent(now, e.fingerprint) {
			v.cache.remove(sum)
			ok = false
		}
		if v.onLookup != nil {
			v.onLookup(ok)
		}
		if ok {
			return e.claims, nil
		}
	}
	claims, key, err := v.verify(ctx, token, now)
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		v.cache.put(&cacheEntry{hash: sum, claims: claims, fingerprint: key.fingerprint, until: claims.Expiry.Add(v.skew)})
	}
	return claims, nil
}

// verify does the full check of a token the cache did not know.
func (v *Verifier) verify(ctx context.Context, token string, now time.Time) (*Claims, *Key, *Error) {
	c, err := parseCompact(token)
	if err != nil {
		return nil, nil, err
	}
	alg, kid, err := v.checkHeader(c.header)
	if err != nil {
		return nil, nil, err
	}
	keys, err := v.keysFor(ctx, kid, alg)
	if err != nil {
		return nil, nil, err
	}
	known := ""
	if keys[0].ID == kid {
		known = kid
	}
	var key *Key
	for _, k := range keys {
		if k.verify(c.signingInput, c.signature) == nil {
			key = k
			break
		}
	}
	if key == nil {
		return nil, nil, &Error{Reason: ReasonSignatureInvalid, Alg: alg, KeyID: known, Err: fmt.Errorf("no key of %d candidates verifies the signature", len(keys))}
	}
	claims, err := v.checkClaims(c.payload, now)
	if err != nil {
		err.Alg, err.KeyID = alg, known
		return nil, nil, err
	}
	return claims, key, nil
}

// checkHeader applies the header rules and returns alg and kid. Members it
// does not name (jku, x5u, jwk, x5c among them) are never used.
func (v *Verifier) checkHeader(h map[string]any) (alg, kid string, _ *Error) {
	alg, ok := h["alg"].(string)
	if !ok {
		return "", "", refuse(ReasonMalformed, "alg is missing or not a string")
	}
	if !v.algs.Allows(alg) {
		e := refuse(ReasonAlgNotAllowed, "alg is not in the allow-list")
		if _, known := supported[alg]; known {
			e.Alg = alg
		}
		return "", "", e
	}
	if _, ok := h["crit"]; ok {
		return "", "", &Error{Reason: ReasonCritUnsupported, Alg: alg, Err: errors.New("crit names extensions that are not understood")}
	}
	// b64 (RFC 7797) changes what the signature covers; whatever its value,
	// and with or without crit, such a token is not an access token.
	if _, ok := h["b64"]; ok {
		return "", "", &Error{Reason: ReasonCritUnsupported, Alg: alg, Err: errors.New("b64 (unencoded payload) is not accepted")}
	}
	if raw, ok := h["kid"]; ok {
		if kid, ok = raw.(string); !ok {
			return "", "", &Error{Reason: ReasonMalformed, Alg: alg, Err: errors.New("kid is not a string")}
		}
	}
	typ, hasTyp := "", false
	if raw, ok := h["typ"]; ok {
		if typ, hasTyp = raw.(string); !hasTyp {
			return "", "", &Error{Reason: ReasonMalformed, Alg: alg, Err: errors.New("typ is not a string")}
		}
	}
	if v.typ != "" && (!hasTyp || normalizeType(typ) != v.typ) {
		return "", "", &Error{Reason: ReasonTypeMismatch, Alg: alg, Err: errors.New("typ is not the configured one")}
	}
	return alg, kid, nil
}

// normalizeType folds a media type the way RFC 7515 §4.1.9 compares typ.
func normalizeType(t string) string {
	t = strings.ToLower(t)
	return strings.TrimPrefix(t, "application/")
}

// keysFor returns the keys that may have signed a token with kid and alg:
// those bound to alg whose kid is kid, or who have none. When there are
// none it asks the sources to refresh (each rate-limited) and looks again.
func (v *Verifier) keysFor(ctx context.Context, kid, alg string) ([]*Key, *Error) {
	keys, kidSeen, unavailable := v.candidates(v.clock.Now(), kid, alg)
	if len(keys) == 0 {
		v.refresh(ctx)
		keys, kidSeen, unavailable = v.candidates(v.clock.Now(), kid, alg)
	}
	switch {
	case len(keys) > 0:
		return keys, nil
	case unavailable != nil:
		return nil, &Error{Reason: ReasonKeysUnavailable, Alg: alg, Err: unavailable}
	case kidSeen:
		return nil, &Error{Reason: ReasonKeyMismatch, Alg: alg, KeyID: kid, Err: errors.New("the key with this kid is bound to another algorithm")}
	}
	return nil, &Error{Reason: ReasonKeyUnknown, Alg: alg, Err: errors.New("no key with this kid")}
}

// candidates collects the matching keys of every source that can be
// trusted now; kidSeen reports a key with kid bound to another algorithm,
// unavailable the error of a source that cannot be trusted.
func (v *Verifier) candidates(now time.Time, kid, alg string) (keys []*Key, kidSeen bool, unavailable error) {
	for _, s := range v.sources {
		ring, err := s.keyring(now)
		if err != nil {
			unavailable = err
			continue
		}
		for _, k := range ring.keys {
			if kid != "" && k.ID != "" && k.ID != kid {
				continue
			}
			if k.Alg != alg {
				kidSeen = kidSeen || (kid != "" && k.ID == kid)
				continue
			}
			keys = append(keys, k)
		}
	}
	// Keys that name the token's kid first, so that error reports say
	// which key it was.
	for i, k := range keys {
		if k.ID == kid && i > 0 {
			keys[0], keys[i] = keys[i], keys[0]
			break
		}
	}
	return keys, kidSeen, unavailable
}

// refresh asks every source to refresh, concurrently, and waits for them.
func (v *Verifier) refresh(ctx context.Context) {
	var wg sync.WaitGroup
	for _, s := range v.sources {
		wg.Go(func() { s.refresh(ctx) })
	}
	wg.Wait()
}

// keyPresent reports whether a key with this fingerprint is still offered
// by a source that can be trusted now.
func (v *Verifier) keyPresent(now time.Time, fingerprint string) bool {
	for _, s := range v.sources {
		if ring, err := s.keyring(now); err == nil && ring.fingerprints[fingerprint] {
			return true
		}
	}
	return false
}
