// Package keyalg names the JWS algorithm a key's type implies, so that the
// JWT verifier, the bundle signer (paygate bundle) and the bundle verifier
// (opa_authz) agree on it.
package keyalg

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"fmt"
)

// Implied returns the JWS algorithm a public key's type implies: RS256 for
// RSA, ES256/ES384/ES512 for the NIST curves P-256/P-384/P-521, EdDSA for
// Ed25519. Any other key has none. An RSA key may also verify RS384, RS512
// and the PS algorithms, which only configuration can choose.
func Implied(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RS256", nil
	case *ecdsa.PublicKey:
		if k.Curve != nil {
			switch name := k.Curve.Params().Name; name {
			case "P-256":
				return "ES256", nil
			case "P-384":
				return "ES384", nil
			case "P-521":
				return "ES512", nil
			default:
				return "", fmt.Errorf("curve %s has no JWS algorithm", name)
			}
		}
	case ed25519.PublicKey:
		return "EdDSA", nil
	}
	return "", fmt.Errorf("key type %T has no JWS algorithm", pub)
}

// Default returns the algorithm of a bundle signing or verification key
// when none is configured: the implied one, except for Ed25519, since OPA's
// bundle signatures have no EdDSA.
func Default(pub crypto.PublicKey) (string, error) {
	alg, err := Implied(pub)
	if err != nil || alg == "EdDSA" {
		return "", fmt.Errorf("a %T key needs an explicit algorithm", pub)
	}
	return alg, nil
}
