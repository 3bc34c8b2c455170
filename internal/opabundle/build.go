// Package opabundle builds OPA policy bundles from paygate's policies,
// signed for the opa_authz stage: what the "paygate bundle" command writes,
// and what the tests serve. It uses OPA's own Go packages (compile,
// bundle), so a bundle is what "opa build" with the same options would
// produce.
package opabundle

import (
	"cmp"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/compile"

	"github.com/paygate/paygate/internal/keyalg"
)

// KeyID is the key ID bundles are signed with: opa_authz looks up the
// configured public key under this name.
const KeyID = "paygate"

// Options describe one bundle.
type Options struct {
	// FS holds the policies and Dir is the directory in it to build from.
	// Rego test files (*_test.rego) are left out; .rego, data.json and
	// data.yaml files are taken, anything else is ignored.
	FS  fs.FS
	Dir string

	// Roots are the bundle's roots, the parts of data it owns. Default:
	// paygate.
	Roots []string

	// Revision is the manifest's revision, shown by opa_authz's log and
	// metrics once the bundle is active. Default: "sha256:" and the first
	// 12 hex digits of a hash of the policy files.
	Revision string

	// SigningKey is a PEM private key (RSA, or ECDSA P-256/384/521); when it
	// is empty the bundle is not signed.
	SigningKey []byte

	// Algorithm is the signature algorithm. Default: RS256 for RSA keys,
	// ES256/ES384/ES512 for ECDSA keys by curve.
	Algorithm string

	// KeyID is the key ID the signature names, under which opa_authz
	// trusts the key (trusted_key). Default: KeyID, public_key's.
	KeyID string
}

// Build runs the policies' Rego tests, then writes the bundle for opts to w
// as a gzipped tarball and returns its revision. A test that fails stops
// it: a policy whose tests fail is never built, let alone signed.
func Build(ctx context.Context, opts Options, w io.Writer) (string, error) {
	if opts.FS == nil || opts.Dir == "" {
		return "", errors.New("bundle: no policies to build")
	}
	if err := runTests(ctx, opts); err != nil {
		return "", err
	}
	revision := opts.Revision
	if revision == "" {
		sum, err := contentHash(opts.FS, opts.Dir)
		if err != nil {
			return "", err
		}
		revision = "sha256:" + sum[:12]
	}
	roots := opts.Roots
	if len(roots) == 0 {
		roots = []string{"paygate"}
	}
	c := compile.New().
		WithFS(opts.FS).
		WithPaths(opts.Dir).
		WithFilter(skipTests).
		WithRegoVersion(ast.RegoV1).
		WithRevision(revision).
		WithRoots(roots...).
		WithOutput(w)
	if len(opts.SigningKey) > 0 {
		alg := opts.Algorithm
		if alg == "" {
			var err error
			if alg, err = algorithmFor(opts.SigningKey); err != nil {
				return "", err
			}
		}
		c = c.WithBundleSigningConfig(bundle.NewSigningConfig(string(opts.SigningKey), alg, "")).
			WithBundleVerificationKeyID(cmp.Or(opts.KeyID, KeyID))
	}
	if err := c.Build(ctx); err != nil {
		return "", fmt.Errorf("bundle: %w", err)
	}
	return revision, nil
}

// skipTests is a loader filter that leaves out Rego test files.
func skipTests(_ string, info fs.FileInfo, _ int) bool {
	return !info.IsDir() && strings.HasSuffix(info.Name(), "_test.rego")
}

// contentHash hashes the names and contents of the files Build takes, in
// name order, so that the default revision changes exactly when they do.
func contentHash(fsys fs.FS, dir string) (string, error) {
	var names []string
	err := fs.WalkDir(fsys, dir, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		base := path.Base(name)
		if !d.IsDir() && !strings.HasSuffix(base, "_test.rego") &&
			(path.Ext(base) == ".rego" || base == "data.json" || base == "data.yaml") {
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("bundle: %w", err)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return "", fmt.Errorf("bundle: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// algorithmFor is the default signature algorithm for a PEM private key.
func algorithmFor(keyPEM []byte) (string, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return "", errors.New("bundle: signing key: no PEM block")
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return "", fmt.Errorf("bundle: signing key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return "", fmt.Errorf("bundle: signing key: a %T cannot sign", key)
	}
	alg, err := keyalg.Default(signer.Public())
	if err != nil {
		return "", fmt.Errorf("bundle: signing key: %w", err)
	}
	return alg, nil
}
