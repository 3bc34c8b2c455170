// Package keyalg names the JWS algorithm a signing key uses by default, so
// that the bundle signer (paygate bundle) and the bundle verifier
// (opa_authz) agree on it.
package keyalg

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
)

// Default returns the default JWS algorithm for a public key: RS256 for RSA,
// ES256/ES384/ES512 for the NIST curves. Other keys need an explicit
// algorithm.
func Default(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RS256", nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "ES256", nil
		case elliptic.P384():
			return "ES384", nil
		case elliptic.P521():
			return "ES512", nil
		}
	}
	return "", fmt.Errorf("a %T key needs an explicit algorithm", pub)
}
