package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/spf13/cobra"

	"github.com/paygate/paygate/internal/opabundle"
)

// opaTestdata is the repository's testdata/opa directory.
var opaTestdata = filepath.Join("..", "..", "testdata", "opa")

// runBundleCommand runs "paygate bundle" with args as Caddy's command line
// would.
func runBundleCommand(args ...string) error {
	cmd := &cobra.Command{Use: "bundle"}
	setUpBundle(cmd)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs(args)
	return cmd.Execute()
}

// TestBundleCommand builds the repository's policies into a signed bundle
// that the development public key verifies, as opa_authz would.
func TestBundleCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bundle.tar.gz")
	err := runBundleCommand("--policies", filepath.Join("..", "..", "policies", "paygate"),
		"--signing-key", filepath.Join(opaTestdata, "bundle-signing.key"), "--revision", "r1", "--output", out)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(filepath.Join(opaTestdata, "bundle-signing.pub"))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]*bundle.KeyConfig{opabundle.KeyID: {Key: string(pub), Algorithm: "ES256"}}
	b, err := bundle.NewReader(bytes.NewReader(raw)).
		WithBundleVerificationConfig(bundle.NewVerificationConfig(keys, opabundle.KeyID, "", nil)).
		Read()
	if err != nil {
		t.Fatalf("the development public key does not verify the bundle: %v", err)
	}
	if b.Manifest.Revision != "r1" || len(b.Modules) == 0 {
		t.Errorf("revision %q with %d modules, want r1 with the policies", b.Manifest.Revision, len(b.Modules))
	}

	// --key-id: the signature names the key, and a verifier that takes the
	// key the signature names (opa_authz with trusted_key) finds it.
	rotated := filepath.Join(t.TempDir(), "rotated.tar.gz")
	if err := runBundleCommand("--policies", filepath.Join("..", "..", "policies", "paygate"),
		"--signing-key", filepath.Join(opaTestdata, "bundle-signing.key"), "--key-id", "2026-12", "--output", rotated); err != nil {
		t.Fatal(err)
	}
	raw, err = os.ReadFile(rotated)
	if err != nil {
		t.Fatal(err)
	}
	byKid := map[string]*bundle.KeyConfig{"2026-12": {Key: string(pub), Algorithm: "ES256"}}
	if _, err := bundle.NewReader(bytes.NewReader(raw)).
		WithBundleVerificationConfig(bundle.NewVerificationConfig(byKid, "", "", nil)).Read(); err != nil {
		t.Errorf("the signature does not name key ID 2026-12: %v", err)
	}

	failing := t.TempDir()
	for name, src := range map[string]string{
		"authz.rego":      "package paygate.authz\ndecision := {\"allow\": false, \"reason\": \"no\"}\n",
		"authz_test.rego": "package paygate.authz_test\nimport data.paygate.authz\ntest_allows if authz.decision.allow\n",
	} {
		if err := os.WriteFile(filepath.Join(failing, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	refused := filepath.Join(t.TempDir(), "refused.tar.gz")
	if err := runBundleCommand("--policies", failing, "--signing-key", filepath.Join(opaTestdata, "bundle-signing.key"), "--output", refused); err == nil {
		t.Error("a policy whose Rego test fails was bundled")
	}
	if _, err := os.Stat(refused); !os.IsNotExist(err) {
		t.Errorf("a bundle was written for a policy whose tests fail (%v)", err)
	}

	for name, args := range map[string][]string{
		"missing signing key": {"--signing-key", filepath.Join(t.TempDir(), "none.key"), "--output", filepath.Join(t.TempDir(), "b.tar.gz")},
		"missing policies":    {"--policies", filepath.Join(t.TempDir(), "none"), "--output", filepath.Join(t.TempDir(), "b.tar.gz")},
	} {
		if err := runBundleCommand(args...); err == nil {
			t.Errorf("%s: got no error", name)
		}
	}
}
