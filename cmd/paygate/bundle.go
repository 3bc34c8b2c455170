package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/paygate/paygate/internal/opabundle"
	"github.com/paygate/paygate/policies"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "bundle",
		Usage: "[--policies <dir>] [--signing-key <pem>] [--algorithm <alg>] [--key-id <id>] [--revision <rev>] [--output <file>]",
		Short: "Builds and signs an OPA policy bundle for opa_authz",
		Long: `
Runs the Rego tests of a directory of policies and data (as "opa test"
does), then builds an OPA bundle (a gzipped tarball, as "opa build" writes)
from it and signs it so that opa_authz with a public_key accepts it. A test
that fails stops it: nothing is built or signed. Rego test files
(*_test.rego) are left out of the bundle; the bundle's root is "paygate".

--policies
    The directory to build. Default: the policies built into this binary
    (policies/paygate of its source).

--signing-key
    A PEM private key (RSA or ECDSA) to sign the bundle with, under the key
    ID "paygate". Without it the bundle is not signed.
    testdata/opa/bundle-signing.key is a development key: anyone can sign
    with it.

--algorithm
    The signature algorithm. Default: RS256 for RSA keys, ES256, ES384 or
    ES512 for ECDSA keys.

--key-id
    The key ID the signature names. Default: "paygate", the ID of
    opa_authz's public_key; a key being rotated in is trusted under its own
    ID (trusted_key <key_id> <pem_file>).

--revision
    The bundle's revision. Default: "sha256:" and 12 hex digits of a hash of
    the policy files, so it changes exactly when they do.

--output
    Where to write the bundle. Default: bundle.tar.gz.
`,
		CobraFunc: setUpBundle,
	})
}

// setUpBundle declares the bundle command's flags and its run function.
func setUpBundle(cmd *cobra.Command) {
	cmd.Flags().String("policies", "", "Directory of policies to build (default: the built-in policies)")
	cmd.Flags().String("signing-key", "", "PEM private key to sign the bundle with")
	cmd.Flags().String("algorithm", "", "Signature algorithm (default: from the key)")
	cmd.Flags().String("key-id", opabundle.KeyID, "Key ID the signature names (opa_authz trusts a key under its ID)")
	cmd.Flags().String("revision", "", "Bundle revision (default: a hash of the policies)")
	cmd.Flags().StringP("output", "o", "bundle.tar.gz", "Output file")
	cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdBundle)
}

func cmdBundle(fl caddycmd.Flags) (int, error) {
	opts := opabundle.Options{
		FS:        policies.FS(),
		Dir:       policies.Root,
		Revision:  fl.String("revision"),
		Algorithm: fl.String("algorithm"),
		KeyID:     fl.String("key-id"),
	}
	if dir := fl.String("policies"); dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return caddy.ExitCodeFailedStartup, err
		}
		opts.FS, opts.Dir = os.DirFS(filepath.Dir(abs)), filepath.Base(abs)
	}
	if file := fl.String("signing-key"); file != "" {
		key, err := os.ReadFile(file)
		if err != nil {
			return caddy.ExitCodeFailedStartup, fmt.Errorf("reading the signing key: %w", err)
		}
		opts.SigningKey = key
	}

	var out bytes.Buffer
	revision, err := opabundle.Build(context.Background(), opts, &out)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	output := fl.String("output")
	if err := os.WriteFile(output, out.Bytes(), 0o644); err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("writing the bundle: %w", err)
	}
	signed := "unsigned"
	if opts.SigningKey != nil {
		signed = "signed with key ID " + opts.KeyID
	}
	fmt.Printf("wrote %s: revision %s, %s\n", output, revision, signed)
	return caddy.ExitCodeSuccess, nil
}
