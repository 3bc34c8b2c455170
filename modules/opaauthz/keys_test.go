package opaauthz

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/paygate/paygate/internal/opabundle"
	"github.com/paygate/paygate/internal/testenv"
	"github.com/paygate/paygate/internal/testenv/bundletest"
)

// signedBy is revisionPolicy(revision) signed with key, its signature
// naming keyID.
func signedBy(t *testing.T, revision string, key []byte, keyID string) []byte {
	t.Helper()
	return bundletest.BuildSigned(t, revision, revisionPolicy(revision), key, keyID)
}

// publicPEM writes the public half of a PEM private key to a file.
func publicPEM(t *testing.T, private []byte) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "next.pub")
	if err := os.WriteFile(file, bundletest.PublicPEM(t, private), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestSigningKeyRotation: with public_key (key ID paygate) and a
// trusted_key under its own ID, bundles signed with either activate, each
// verified with the key its signature names; a signature naming a key
// that is not trusted, or the trusted ID with another key, is refused.
func TestSigningKeyRotation(t *testing.T) {
	current, currentPub := devKey(t)
	next := otherKey(t)
	stranger := otherKey(t)
	srv, url := testenv.StartBundleServer(t)
	srv.Set("r1", signedBy(t, "1", current, opabundle.KeyID))

	env := mustProvision(t, &Handler{Bundle: &BundleConfig{
		URL:         url,
		PollingMin:  caddy.Duration(time.Second),
		PollingMax:  caddy.Duration(time.Second),
		PublicKey:   currentPub,
		TrustedKeys: []TrustedKey{{KeyID: "2026-12", File: publicPEM(t, next)}},
	}})
	if got := reason(env); got != "rev1" {
		t.Fatalf("signed with the current key: %s, want rev1", got)
	}
	srv.Set("r2", signedBy(t, "2", next, "2026-12"))
	testenv.Eventually(t, "revision 2, signed with the next key", func() bool { return reason(env) == "rev2" })

	for _, bad := range []struct{ etag, revision, keyID string }{
		{"r3", "3", "other"},   // a key ID nobody trusts
		{"r4", "4", "2026-12"}, // the trusted ID, another key
	} {
		refusals := env.logs.FilterMessage("policy bundle refused; the active policy stays").Len()
		srv.Set(bad.etag, signedBy(t, bad.revision, stranger, bad.keyID))
		testenv.Eventually(t, "the refusal of revision "+bad.revision, func() bool {
			return env.logs.FilterMessage("policy bundle refused; the active policy stays").Len() > refusals
		})
		if got := reason(env); got != "rev2" {
			t.Fatalf("after a bundle signed by %s: %s, want rev2 still", bad.keyID, got)
		}
	}
	srv.Set("r5", signedBy(t, "5", current, opabundle.KeyID))
	testenv.Eventually(t, "revision 5, signed with the current key again", func() bool { return reason(env) == "rev5" })
}

func TestTrustedKeyValidation(t *testing.T) {
	_, pub := devKey(t)
	for name, keys := range map[string][]TrustedKey{
		"no key ID":     {{File: pub}},
		"no file":       {{KeyID: "k"}},
		"paygate taken": {{KeyID: opabundle.KeyID, File: pub}},
		"twice":         {{KeyID: "k", File: pub}, {KeyID: "k", File: pub}},
	} {
		t.Run(name, func(t *testing.T) {
			b := &BundleConfig{URL: "https://bundles.example.com/b.tar.gz", PublicKey: pub, TrustedKeys: keys}
			if err := b.validate(); err == nil {
				t.Error("no error")
			}
		})
	}
	b := &BundleConfig{URL: "https://bundles.example.com/b.tar.gz", TrustedKeys: []TrustedKey{{KeyID: "k", File: pub}}, AllowUnsigned: true}
	if err := b.validate(); err == nil {
		t.Error("allow_unsigned with a trusted_key: no error")
	}
}
