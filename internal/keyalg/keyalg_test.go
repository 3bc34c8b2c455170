package keyalg

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"
)

// testKeys returns a public key of every kind, by name.
func testKeys(t *testing.T) map[string]crypto.PublicKey {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ec := func(c elliptic.Curve) crypto.PublicKey {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k.Public()
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]crypto.PublicKey{
		"rsa":      rsaKey.Public(),
		"p224":     ec(elliptic.P224()),
		"p256":     ec(elliptic.P256()),
		"p384":     ec(elliptic.P384()),
		"p521":     ec(elliptic.P521()),
		"ed25519":  edPub,
		"no key":   nil,
		"no curve": &ecdsa.PublicKey{},
		"secret":   []byte("secret"),
	}
}

func TestImplied(t *testing.T) {
	want := map[string]string{"rsa": "RS256", "p256": "ES256", "p384": "ES384", "p521": "ES512", "ed25519": "EdDSA"}
	for name, key := range testKeys(t) {
		t.Run(name, func(t *testing.T) {
			got, err := Implied(key)
			if got != want[name] || (want[name] == "") != (err != nil) {
				t.Errorf("Implied = %q, %v; want %q", got, err, want[name])
			}
		})
	}
}

// TestDefault: a bundle key's algorithm is the implied one, except EdDSA,
// which OPA's bundles do not know.
func TestDefault(t *testing.T) {
	want := map[string]string{"rsa": "RS256", "p256": "ES256", "p384": "ES384", "p521": "ES512"}
	for name, key := range testKeys(t) {
		t.Run(name, func(t *testing.T) {
			got, err := Default(key)
			if got != want[name] || (want[name] == "") != (err != nil) {
				t.Errorf("Default = %q, %v; want %q", got, err, want[name])
			}
		})
	}
}
