package jwtverify

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/paygate/paygate/internal/keyalg"
)

// minRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3).
const minRSABits = 2048

// minSecret is the shortest HMAC secret per algorithm: as long as the hash
// output (RFC 7518 §3.2).
var minSecret = map[string]int{"HS256": 32, "HS384": 48, "HS512": 64}

// Key is one verification key, bound to exactly one algorithm: a token
// signed with any other algorithm is never checked against it.
type Key struct {
	// ID is the key's kid. A key without one (a PEM file, the HMAC secret)
	// is a candidate for tokens with any kid or none.
	ID string
	// Alg is the one algorithm the key verifies.
	Alg string

	// fingerprint identifies the key material, its kid and its algorithm;
	// the token cache uses it to drop entries whose key went away.
	fingerprint string
	public      any
	verifier    jws.Verifier
}

func (k *Key) verify(signingInput, signature []byte) error {
	return k.verifier.Verify(signingInput, signature, k.public)
}

// errSkipped marks a key that is valid JWK but not usable here (another
// use, a disallowed algorithm); a JWKS skips such keys, a key file refuses
// them.
var errSkipped = errors.New("key not usable")

// newKey binds the public part of k to one algorithm: pin when it is set,
// else the key's own alg member, else the one its type implies (see
// keyalg.Implied). The algorithm must be allowed and fit the key's type;
// encryption keys, symmetric keys and short RSA keys are refused.
func newKey(k jwk.Key, pin string, algs Algorithms) (*Key, error) {
	if use := k.KeyUsage(); use != "" && use != string(jwk.ForSignature) {
		return nil, fmt.Errorf("%w: use is %q", errSkipped, use)
	}
	if ops := k.KeyOps(); len(ops) > 0 && !slices.Contains(ops, jwk.KeyOpVerify) {
		return nil, fmt.Errorf("%w: key_ops lacks verify", errSkipped)
	}
	if k.KeyType() == jwa.OctetSeq {
		return nil, fmt.Errorf("%w: symmetric keys come only from the configured secret", errSkipped)
	}
	public, err := jwk.PublicRawKeyOf(k)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	if pk, ok := public.(*rsa.PublicKey); ok && pk.N.BitLen() < minRSABits {
		return nil, fmt.Errorf("%w: RSA key of %d bits (at least %d)", errSkipped, pk.N.BitLen(), minRSABits)
	}
	implied, err := keyalg.Implied(public)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errSkipped, err)
	}
	alg := implied
	declared := k.Algorithm().String()
	switch {
	case pin != "" && declared != "" && declared != pin:
		return nil, fmt.Errorf("key declares alg %q, configured %q", declared, pin)
	case pin != "":
		alg = pin
	case declared != "":
		alg = declared
	}
	if !compatible(alg, implied) {
		return nil, fmt.Errorf("alg %q does not fit a key of this type", alg)
	}
	if !algs.Allows(alg) {
		return nil, fmt.Errorf("%w: algorithm %s is not allowed", errSkipped, alg)
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("thumbprint: %w", err)
	}
	v, err := jws.NewVerifier(jwa.SignatureAlgorithm(alg))
	if err != nil {
		return nil, fmt.Errorf("verifier: %w", err)
	}
	return &Key{
		ID:          k.KeyID(),
		Alg:         alg,
		fingerprint: alg + "|" + k.KeyID() + "|" + base64.RawURLEncoding.EncodeToString(tp),
		public:      public,
		verifier:    v,
	}, nil
}

// compatible reports whether a key whose type implies implied may verify
// alg: an RSA key any RS or PS algorithm, every other key only the one its
// curve implies.
func compatible(alg, implied string) bool {
	if alg == implied {
		return true
	}
	isRSA := func(a string) bool {
		return len(a) == 5 && (a[:2] == "RS" || a[:2] == "PS") && supported[a] != ""
	}
	return isRSA(implied) && isRSA(alg)
}

// SecretKey returns the HMAC key for secret and alg (HS256, HS384 or
// HS512), refusing a secret shorter than the hash output.
func SecretKey(secret []byte, alg string) (*Key, error) {
	n, ok := minSecret[alg]
	if !ok {
		return nil, fmt.Errorf("secret: %q is not an HMAC algorithm", alg)
	}
	if len(secret) < n {
		return nil, fmt.Errorf("secret: %s needs at least %d bytes, got %d", alg, n, len(secret))
	}
	v, err := jws.NewVerifier(jwa.SignatureAlgorithm(alg))
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	sum := sha256.Sum256(secret)
	return &Key{
		Alg:         alg,
		fingerprint: alg + "||" + base64.RawURLEncoding.EncodeToString(sum[:]),
		public:      bytes.Clone(secret),
		verifier:    v,
	}, nil
}

// KeysFromFile reads the keys in a PEM file (public keys, certificates, or
// private keys whose public part is used), a JWK or a JWK set. When alg is
// set, every key verifies exactly that algorithm (the way to use an RSA key
// without an alg member for PS256); otherwise see newKey. Every key in the
// file must be usable with algs: a key file is explicit configuration, and a
// key in it that would never be used is a mistake.
func KeysFromFile(path, alg string, algs Algorithms) ([]*Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	data = bytes.TrimSpace(data)
	var set jwk.Set
	if bytes.HasPrefix(data, []byte("-----BEGIN")) {
		set, err = jwk.Parse(data, jwk.WithPEM(true))
	} else {
		set, err = jwk.Parse(data)
	}
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if set.Len() == 0 {
		return nil, fmt.Errorf("key file %s: no keys", path)
	}
	keys := make([]*Key, 0, set.Len())
	for i := range set.Len() {
		k, _ := set.Key(i)
		key, err := newKey(k, alg, algs)
		if err != nil {
			return nil, fmt.Errorf("key file %s: key %d: %w", path, i, err)
		}
		keys = append(keys, key)
	}
	return keys, nil
}
