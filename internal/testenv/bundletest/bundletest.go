// Package bundletest builds OPA bundles for tests, as "paygate bundle"
// does; testenv.BundleServer serves them. It is a package of its own, apart
// from testenv, so that only the tests that build bundles compile OPA.
package bundletest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"path"
	"testing"
	"testing/fstest"

	"github.com/paygate/paygate/internal/opabundle"
)

// Build builds a bundle with opabundle from files, each a path in the
// bundle's paygate directory (such as "authz.rego") and its text, with
// revision, signed with signingKey (a PEM private key) unless that is nil.
// Data paths start at that directory: "paygate/authz/data.json" is
// data.paygate.authz.
func Build(t testing.TB, revision string, files map[string]string, signingKey []byte) []byte {
	t.Helper()
	return BuildSigned(t, revision, files, signingKey, "")
}

// BuildSigned is Build with the key ID the signature names ("paygate
// bundle --key-id"); "" is opabundle.KeyID.
func BuildSigned(t testing.TB, revision string, files map[string]string, signingKey []byte, keyID string) []byte {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, text := range files {
		fsys[path.Join("paygate", name)] = &fstest.MapFile{Data: []byte(text)}
	}
	var buf bytes.Buffer
	opts := opabundle.Options{FS: fsys, Dir: "paygate", Revision: revision, SigningKey: signingKey, KeyID: keyID}
	if _, err := opabundle.Build(context.Background(), opts, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// PublicPEM is the public half, in PEM, of a PEM PKCS #8 private key, as
// opa_authz's public_key and trusted_key files hold it.
func PublicPEM(t testing.TB, private []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(private)
	if block == nil {
		t.Fatal("bundletest: no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		t.Fatalf("bundletest: a %T cannot sign", k)
	}
	der, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
