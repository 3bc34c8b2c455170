// Package bundletest builds OPA bundles for tests, as "paygate bundle"
// does; testenv.BundleServer serves them. It is a package of its own, apart
// from testenv, so that only the tests that build bundles compile OPA.
package bundletest

import (
	"bytes"
	"context"
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
	fsys := fstest.MapFS{}
	for name, text := range files {
		fsys[path.Join("paygate", name)] = &fstest.MapFile{Data: []byte(text)}
	}
	var buf bytes.Buffer
	opts := opabundle.Options{FS: fsys, Dir: "paygate", Revision: revision, SigningKey: signingKey}
	if _, err := opabundle.Build(context.Background(), opts, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
