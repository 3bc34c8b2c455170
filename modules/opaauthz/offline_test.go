package opaauthz

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/paygate/paygate/internal/offline"
	"github.com/paygate/paygate/internal/testenv"
	"github.com/paygate/paygate/internal/testenv/bundletest"
)

// TestOfflineValidation: in offline validation a bundle is neither
// downloaded nor waited for, while its settings, its keys and OPA's reading
// of the configuration are checked as for a server, and a policy directory
// is compiled; the same bundle online is downloaded.
func TestOfflineValidation(t *testing.T) {
	private, pub := devKey(t)
	offlineSrv, offlineURL := testenv.StartBundleServer(t)
	onlineSrv, onlineURL := testenv.StartBundleServer(t)
	for _, s := range []*testenv.BundleServer{offlineSrv, onlineSrv} {
		s.Set("r1", bundletest.BuildSigned(t, "1", revisionPolicy("1"), private, "paygate"))
	}
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	disable := offline.Enable()
	t.Cleanup(disable)

	// Offline is not "skip validation": what a server refuses, it refuses.
	for _, tc := range []struct {
		h    *Handler
		want string
	}{
		{&Handler{Bundle: &BundleConfig{URL: offlineURL, PublicKey: notPEM}}, "public_key: " + notPEM + ": no PEM block"},
		{&Handler{Bundle: &BundleConfig{URL: offlineURL, PublicKey: "/nonexistent/key.pub"}}, "no such file"},
		{&Handler{Bundle: &BundleConfig{URL: offlineURL, PublicKey: pub, TrustedKeys: []TrustedKey{{KeyID: "next", File: notPEM}}}}, "trusted_key next"},
		// OPA's own reading of the configuration.
		{&Handler{Bundle: &BundleConfig{URL: offlineURL, PublicKey: pub, KeyAlgorithm: "XX256"}}, "configuring OPA: unsupported algorithm"},
		{&Handler{Bundle: &BundleConfig{URL: "http://bundles.example.com/b.tar.gz", PublicKey: pub}}, "http is allowed only to loopback"},
		{&Handler{Bundle: &BundleConfig{URL: offlineURL}}, "public_key is required"},
		{&Handler{PolicyDir: writePolicy(t, map[string]string{"bad.rego": "package t\ndecision := {\"allow\": x}\n"})}, "var x is unsafe"},
	} {
		if _, err := provisionHandler(t, tc.h); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("offline: err = %v, want one containing %q", err, tc.want)
		}
	}

	// Cancelled before it starts: Provision fails if it waits for the bundle.
	env, err := provisionAtOnce(t, &Handler{Bundle: &BundleConfig{URL: offlineURL, PublicKey: pub}, StartupWait: caddy.Duration(time.Hour)})
	if err != nil {
		t.Fatalf("offline Provision waited for the bundle: %v", err)
	}
	testenv.Eventually(t, "the log line of the skipped download", func() bool {
		return env.logs.FilterMessage("offline validation: skipped the policy bundle's download and the start-up wait").Len() == 1
	})
	disable()

	// Provisioned online, the same configuration downloads at once (and
	// waits for it): the offline one, provisioned first, would have by now.
	if got := reason(mustProvision(t, &Handler{Bundle: &BundleConfig{URL: onlineURL, PublicKey: pub}})); got != "rev1" {
		t.Fatalf("online: %s, want rev1", got)
	}
	if n := offlineSrv.Downloads(); n != 0 {
		t.Errorf("the bundle was downloaded %d times in offline validation, want never", n)
	}
}
