package jwtverify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	must(t, os.WriteFile(path, data, 0o600))
	return path
}

func pemOf(t *testing.T, typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestKeysFromFile(t *testing.T) {
	k := testKeys()
	spki := func(sk signingKey) []byte {
		der, err := x509.MarshalPKIXPublicKey(sk.private.Public())
		must(t, err)
		return pemOf(t, "PUBLIC KEY", der)
	}
	ecPriv, err := x509.MarshalECPrivateKey(k["ES256"].private.(*ecdsa.PrivateKey))
	must(t, err)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	must(t, err)
	weakDER, err := x509.MarshalPKIXPublicKey(&weak.PublicKey)
	must(t, err)
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	must(t, err)
	p224DER, err := x509.MarshalPKIXPublicKey(&p224.PublicKey)
	must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"}, NotBefore: t0, NotAfter: t0.Add(time.Hour)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k["ES256"].private.Public(), k["ES256"].private)
	must(t, err)
	jwks := func(keys ...signingKey) []byte {
		var list []any
		for _, sk := range keys {
			list = append(list, sk.publicJWK(t))
		}
		return []byte(jsonText(t, map[string]any{"keys": list}))
	}
	algs, err := ParseAlgorithms([]string{"RS256", "PS256", "ES256", "EdDSA"})
	must(t, err)
	tests := []struct {
		name    string
		data    []byte
		alg     string
		want    string // kid/alg of each key, space-separated
		wantErr string
	}{
		{name: "RSA PEM", data: spki(k["RS256"]), want: "/RS256"},
		{name: "RSA PEM pinned to PS256", data: spki(k["RS256"]), alg: "PS256", want: "/PS256"},
		{name: "EC PEM", data: spki(k["ES256"]), want: "/ES256"},
		{name: "Ed25519 PEM", data: spki(k["EdDSA"]), want: "/EdDSA"},
		{name: "two PEM blocks", data: append(spki(k["RS256"]), spki(k["EdDSA"])...), want: "/RS256 /EdDSA"},
		{name: "EC private key PEM: its public part", data: pemOf(t, "EC PRIVATE KEY", ecPriv), want: "/ES256"},
		{name: "certificate", data: pemOf(t, "CERTIFICATE", cert), want: "/ES256"},
		{name: "JWK", data: []byte(jsonText(t, k["EdDSA"].publicJWK(t))), want: "ed-1/EdDSA"},
		{name: "JWK set", data: jwks(k["RS256"], k["PS256"], k["ES256"]), want: "rsa-1/RS256 rsa-pss-1/PS256 ec-1/ES256"},
		{name: "development JWKS", data: readTestdata(t, "dev-jwks.json"), want: "NJy2Z78PKDMLg4AJmKADiGw_dSNsAYkRdHf3s1Ut6xo/EdDSA"},
		{name: "pin that does not fit the key", data: spki(k["EdDSA"]), alg: "ES256", wantErr: "does not fit"},
		{name: "pin contradicting the JWK's alg", data: jwks(k["RS256"]), alg: "PS256", wantErr: "declares alg"},
		{name: "JWK alg that does not fit", data: []byte(strings.Replace(jsonText(t, k["ES256"].publicJWK(t)), `"ES256"`, `"RS256"`, 1)), wantErr: "does not fit"},
		{name: "algorithm not allowed", data: spki(k["ES384"]), wantErr: "not allowed"},
		{name: "RSA key of 1024 bits", data: pemOf(t, "PUBLIC KEY", weakDER), wantErr: "1024 bits"},
		{name: "curve P-224", data: pemOf(t, "PUBLIC KEY", p224DER), wantErr: "P-224"},
		{name: "symmetric JWK", data: []byte(`{"kty":"oct","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}`), wantErr: "symmetric"},
		{name: "encryption key", data: []byte(strings.Replace(jsonText(t, k["RS256"].publicJWK(t)), `"kty"`, `"use":"enc","kty"`, 1)), wantErr: `use is "enc"`},
		{name: "empty set", data: []byte(`{"keys":[]}`), wantErr: "no keys"},
		{name: "garbage", data: []byte("not a key"), wantErr: "key file"},
		{name: "broken PEM", data: []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), wantErr: "key file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := KeysFromFile(writeFile(t, "key", tt.data), tt.alg, algs)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			must(t, err)
			var got []string
			for _, key := range keys {
				got = append(got, key.ID+"/"+key.Alg)
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("keys = %q, want %q", strings.Join(got, " "), tt.want)
			}
		})
	}
	if _, err := KeysFromFile(filepath.Join(t.TempDir(), "missing.pem"), "", algs); err == nil {
		t.Error("missing file: got no error")
	}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "jwt", name))
	must(t, err)
	return b
}
