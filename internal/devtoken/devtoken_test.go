package devtoken

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// testdata is the repository's testdata/jwt directory.
var testdata = filepath.Join("..", "..", "testdata", "jwt")

func devKey(t *testing.T) jwk.Key {
	t.Helper()
	k, err := LoadKey(filepath.Join(testdata, "dev-private.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestDevelopmentKeysMatch checks that the development key files belong
// together: the public PEM and the JWKS hold the private key's public half,
// under the kid the token command uses.
func TestDevelopmentKeysMatch(t *testing.T) {
	key := devKey(t)
	pub, err := key.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	pemKey, err := jwk.ParseKey(mustRead(t, "dev-public.pem"), jwk.WithPEM(true))
	if err != nil {
		t.Fatal(err)
	}
	set, err := jwk.Parse(mustRead(t, "dev-jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	listed, ok := set.LookupKeyID(key.KeyID())
	if set.Len() != 1 || !ok {
		t.Fatalf("dev-jwks.json does not list kid %s alone", key.KeyID())
	}
	for name, k := range map[string]jwk.Key{"dev-public.pem": pemKey, "dev-jwks.json": listed} {
		a, _ := pub.Thumbprint(crypto.SHA256)
		b, _ := k.Thumbprint(crypto.SHA256)
		if !bytes.Equal(a, b) {
			t.Errorf("%s does not hold the development private key's public half", name)
		}
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMintRefuses(t *testing.T) {
	key := devKey(t)
	tests := []struct {
		name string
		o    Options
	}{
		{name: "no subject", o: Options{TTL: time.Minute}},
		{name: "registered claim in Claims", o: Options{Subject: "u", Claims: map[string]any{"exp": 1}}},
		{name: "unknown algorithm", o: Options{Subject: "u", Alg: "XS256"}},
		{name: "algorithm that does not fit the key", o: Options{Subject: "u", Alg: "RS256"}},
	}
	for _, tt := range tests {
		if _, err := Mint(key, tt.o); err == nil {
			t.Errorf("%s: got no error", tt.name)
		}
	}
}

func TestMintWithOtherKeys(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, pemType string
		der           []byte
		alg, wantAlg  string
		kid           string // "": the key's thumbprint
	}{
		{name: "RSA", pemType: "RSA PRIVATE KEY", der: x509.MarshalPKCS1PrivateKey(rsaKey), wantAlg: "RS256"},
		{name: "RSA as PS256", pemType: "RSA PRIVATE KEY", der: x509.MarshalPKCS1PrivateKey(rsaKey), alg: "PS256", wantAlg: "PS256"},
		{name: "EC", pemType: "EC PRIVATE KEY", der: ecDER, wantAlg: "ES256"},
		{name: "EC with a named kid", pemType: "EC PRIVATE KEY", der: ecDER, wantAlg: "ES256", kid: "k2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "key.pem")
			if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: tt.pemType, Bytes: tt.der}), 0o600); err != nil {
				t.Fatal(err)
			}
			key, err := LoadKey(path)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := Mint(key, Options{Subject: "u", TTL: time.Minute, Alg: tt.alg, KeyID: tt.kid})
			if err != nil {
				t.Fatal(err)
			}
			wantKid := tt.kid
			if wantKid == "" {
				wantKid = key.KeyID()
			}
			var hdr map[string]any
			b, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
			if err := json.Unmarshal(b, &hdr); err != nil || hdr["alg"] != tt.wantAlg || hdr["kid"] != wantKid {
				t.Errorf("header = %s (%v), want alg %s and kid %s", b, err, tt.wantAlg, wantKid)
			}
		})
	}
}

func TestLoadKeyRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, path := range map[string]string{
		"missing":    filepath.Join(dir, "none.pem"),
		"public key": filepath.Join(testdata, "dev-public.pem"),
		"not PEM":    write("x.pem", []byte("hello")),
	} {
		if _, err := LoadKey(path); err == nil {
			t.Errorf("%s: got no error", name)
		}
	}
}
