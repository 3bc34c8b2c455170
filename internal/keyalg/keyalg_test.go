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

func TestDefault(t *testing.T) {
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
	for name, tt := range map[string]struct {
		key  crypto.PublicKey
		want string
	}{
		"rsa":     {rsaKey.Public(), "RS256"},
		"p256":    {ec(elliptic.P256()), "ES256"},
		"p384":    {ec(elliptic.P384()), "ES384"},
		"p521":    {ec(elliptic.P521()), "ES512"},
		"ed25519": {edPub, ""},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Default(tt.key)
			if got != tt.want || (tt.want == "") != (err != nil) {
				t.Errorf("Default = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
