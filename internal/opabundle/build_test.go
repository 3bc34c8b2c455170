package opabundle

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/paygate/paygate/policies"
)

func readKey(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/opa/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// read loads a built bundle, verifying its signature with pub when set.
func read(t *testing.T, raw []byte, pub []byte) (bundle.Bundle, error) {
	t.Helper()
	r := bundle.NewReader(bytes.NewReader(raw))
	if pub != nil {
		keys := map[string]*bundle.KeyConfig{KeyID: {Key: string(pub), Algorithm: "ES256"}}
		r = r.WithBundleVerificationConfig(bundle.NewVerificationConfig(keys, KeyID, "", nil))
	}
	return r.Read()
}

func TestBuildSignedBundle(t *testing.T) {
	var out bytes.Buffer
	rev, err := Build(context.Background(), Options{FS: policies.FS(), Dir: policies.Root, SigningKey: readKey(t, "bundle-signing.key")}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rev, "sha256:") || len(rev) != len("sha256:")+12 {
		t.Errorf("revision = %q, want sha256: and 12 hex digits", rev)
	}
	b, err := read(t, out.Bytes(), readKey(t, "bundle-signing.pub"))
	if err != nil {
		t.Fatalf("the development public key does not verify the bundle: %v", err)
	}
	if b.Manifest.Revision != rev {
		t.Errorf("manifest revision %q, want %q", b.Manifest.Revision, rev)
	}
	if b.Manifest.Roots == nil || strings.Join(*b.Manifest.Roots, ",") != "paygate" {
		t.Errorf("roots = %v, want [paygate]", b.Manifest.Roots)
	}
	var names []string
	for _, m := range b.Modules {
		names = append(names, m.Path)
	}
	joined := strings.Join(names, " ")
	if !strings.Contains(joined, "authz.rego") || !strings.Contains(joined, "log.rego") {
		t.Errorf("modules %v lack the policies", names)
	}
	if strings.Contains(joined, "_test.rego") {
		t.Errorf("modules %v include Rego tests", names)
	}
	if len(b.Signatures.Signatures) != 1 {
		t.Errorf("%d signatures, want 1", len(b.Signatures.Signatures))
	}

	// Another key does not verify it.
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&other.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := read(t, out.Bytes(), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})); err == nil {
		t.Error("a bundle verified with a key that did not sign it")
	}
}

func TestBuildUnsignedWithRevision(t *testing.T) {
	var out bytes.Buffer
	rev, err := Build(context.Background(), Options{FS: policies.FS(), Dir: policies.Root, Revision: "42"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	b, err := read(t, out.Bytes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rev != "42" || b.Manifest.Revision != "42" || len(b.Signatures.Signatures) != 0 {
		t.Errorf("revision %q/%q, %d signatures; want 42, unsigned", rev, b.Manifest.Revision, len(b.Signatures.Signatures))
	}
}

func TestDefaultRevisionFollowsContent(t *testing.T) {
	fsys := fstest.MapFS{
		"p/a.rego":      {Data: []byte("package paygate.a\nx := 1\n")},
		"p/a_test.rego": {Data: []byte("package paygate.a_test\ntest_x if data.paygate.a.x == 1\n")},
		"p/README.md":   {Data: []byte("not policy")},
	}
	revision := func() string {
		t.Helper()
		rev, err := Build(context.Background(), Options{FS: fsys, Dir: "p"}, new(bytes.Buffer))
		if err != nil {
			t.Fatal(err)
		}
		return rev
	}
	first := revision()
	fsys["p/README.md"] = &fstest.MapFile{Data: []byte("edited")}
	fsys["p/a_test.rego"] = &fstest.MapFile{Data: []byte("package paygate.a_test\ntest_y if true\n")}
	if got := revision(); got != first {
		t.Errorf("revision changed from %s to %s for files the bundle does not carry", first, got)
	}
	fsys["p/a.rego"] = &fstest.MapFile{Data: []byte("package paygate.a\nx := 2\n")}
	if got := revision(); got == first {
		t.Error("revision unchanged after a policy changed")
	}
}

// TestFailingTestsRefused: a policy whose Rego tests fail, or cannot run,
// is neither built nor signed, and the error names the tests; the tests
// see the directory's data.
func TestFailingTestsRefused(t *testing.T) {
	ctx := context.Background()
	policy := []byte("package paygate.authz\nallow if data.paygate.limits.max >= input.n\n")
	data := []byte(`{"paygate": {"limits": {"max": 10}}}`)
	for name, tc := range map[string]struct {
		test string
		want []string
	}{
		"passing": {test: "package paygate.authz_test\nimport data.paygate.authz\ntest_small if authz.allow with input as {\"n\": 3}\n"},
		"failing": {test: "package paygate.authz_test\nimport data.paygate.authz\ntest_small if authz.allow with input as {\"n\": 3}\ntest_big if authz.allow with input as {\"n\": 30}\n",
			want: []string{"1 Rego test(s)", "data.paygate.authz_test.test_big"}},
		"erroring": {test: "package paygate.authz_test\ntest_div if 1 / 0 == 1\n",
			want: []string{"test_div"}},
	} {
		t.Run(name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"p/authz.rego":      {Data: policy},
				"p/data.json":       {Data: data},
				"p/authz_test.rego": {Data: []byte(tc.test)},
			}
			signed := new(bytes.Buffer)
			_, err := Build(ctx, Options{FS: fsys, Dir: "p", SigningKey: readKey(t, "bundle-signing.key")}, signed)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Build: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Build of a policy whose tests fail: no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if signed.Len() != 0 {
				t.Errorf("%d bytes written for a refused bundle", signed.Len())
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	ctx := context.Background()
	bad := fstest.MapFS{"p/a.rego": {Data: []byte("package paygate.a\nx := \n")}}
	for name, opts := range map[string]Options{
		"no policies":       {},
		"syntax error":      {FS: bad, Dir: "p"},
		"missing dir":       {FS: policies.FS(), Dir: "nope"},
		"not a key":         {FS: policies.FS(), Dir: policies.Root, SigningKey: []byte("not a key")},
		"public key":        {FS: policies.FS(), Dir: policies.Root, SigningKey: readKey(t, "bundle-signing.pub")},
		"unknown algorithm": {FS: policies.FS(), Dir: policies.Root, SigningKey: readKey(t, "bundle-signing.key"), Algorithm: "XX999"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Build(ctx, opts, new(bytes.Buffer)); err == nil {
				t.Error("got no error")
			}
		})
	}
}
