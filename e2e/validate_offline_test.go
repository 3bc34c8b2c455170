package e2e

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/testenv"
)

// The log lines of the steps that offline validation skips, and of their
// failures when they are tried without a network.
const (
	skippedJWKS     = "offline validation: skipped the JWKS fetch"
	skippedBundle   = "offline validation: skipped the policy bundle's download and the start-up wait"
	skippedRedis    = "offline validation: skipped the check of Redis's eviction policy"
	jwksFailed      = "JWKS fetch failed"
	bundleRefused   = "policy bundle refused"
	redisUnreadable = "could not read Redis's maxmemory-policy"
	startupWaitOver = "no policy active after the start-up wait"
)

// unreachableDeployEnv is deploy/Caddyfile's environment, production
// defaults included (ACME, Stripe's API), with everything it reaches over
// the network at start-up (the JWKS, the policy bundle, Redis) at one port
// of 127.0.0.1 on which nothing listens: CI without a network. more
// overrides variables.
func unreachableDeployEnv(t *testing.T, more map[string]string) []string {
	t.Helper()
	closed := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	env := map[string]string{
		"REDIS_URL":                 "redis://" + closed + "/0",
		"PAYGATE_UPSTREAM":          closed,
		"PAYGATE_JWKS_URL":          "http://" + closed + "/.well-known/jwks.json",
		"PAYGATE_POLICY_BUNDLE_URL": "http://" + closed + "/paygate.tar.gz",
	}
	maps.Copy(env, more)
	return commandEnv(t, env)
}

// paygateCommand runs the binary with args and env, and returns its output,
// its error and how long it took. A command that has not ended after a
// minute is killed (and fails).
func paygateCommand(t *testing.T, env []string, args ...string) (out string, took time.Duration, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.Binary(t), args...)
	cmd.Env = env
	start := time.Now()
	b, err := cmd.CombinedOutput()
	return string(b), time.Since(start), err
}

// validateDeploy runs "paygate validate" on deploy/Caddyfile, offline
// (--offline) or not.
func validateDeploy(t *testing.T, offline bool, env []string) (out string, took time.Duration, err error) {
	t.Helper()
	args := []string{"validate"}
	if offline {
		args = append(args, "--offline")
	}
	return paygateCommand(t, env, append(args, "--config", deployAbs(t, "deploy/Caddyfile"), "--adapter", "caddyfile")...)
}

// TestValidateOffline (issue #15, item 7): "paygate validate --offline"
// validates the production config in CI with no network at all: the JWKS,
// the bundle service and Redis are unreachable, and it passes at once
// without trying any of them (deploy/Caddyfile has two jwt_auth and two
// opa_authz, one per site). It is not "skip validation": a broken setting
// or key file still fails it. Without --offline the same config passes
// too, as it always has, but only after trying the network and waiting
// startup_wait (10s) for the bundle.
func TestValidateOffline(t *testing.T) {
	const startupWait = 10 * time.Second

	t.Run("offline", func(t *testing.T) {
		t.Parallel()
		out, _, err := validateDeploy(t, true, unreachableDeployEnv(t, nil))
		if err != nil || !strings.Contains(out, "Valid configuration") {
			t.Fatalf("validate --offline: %v, output:\n%s", err, out)
		}
		for msg, want := range map[string]int{skippedJWKS: 2, skippedBundle: 2, skippedRedis: 1} {
			if n := strings.Count(out, msg); n != want {
				t.Errorf("%q logged %d times, want %d; output:\n%s", msg, n, want, out)
			}
		}
		for _, tried := range []string{jwksFailed, bundleRefused, redisUnreadable, startupWaitOver} {
			if strings.Contains(out, tried) {
				t.Errorf("validate --offline tried the network (%q); output:\n%s", tried, out)
			}
		}
		if strings.Contains(out, e2eStripeKey) || strings.Contains(out, webhookSecret) || strings.Contains(out, e2eSealKey) {
			t.Errorf("validate's output shows a secret:\n%s", out)
		}
	})

	t.Run("offline refuses what a server refuses", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		notPEM := filepath.Join(dir, "bundle-signing.pub")
		notJSON := filepath.Join(dir, "catalog.json")
		for file, content := range map[string]string{notPEM: "not a key\n", notJSON: "{\"products\": [\n"} {
			if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			name string
			env  map[string]string
			want string
		}{
			{"bundle public key not PEM", map[string]string{"PAYGATE_POLICY_PUBLIC_KEY": notPEM}, "no PEM block"},
			{"bundle public key missing", map[string]string{"PAYGATE_POLICY_PUBLIC_KEY": filepath.Join(dir, "missing.pub")}, "no such file"},
			{"bundle over http to a remote host", map[string]string{"PAYGATE_POLICY_BUNDLE_URL": "http://bundles.example.com/paygate.tar.gz"}, "http is allowed only to loopback"},
			{"JWKS over http to a remote host", map[string]string{"PAYGATE_JWKS_URL": "http://id.example.com/.well-known/jwks.json"}, "must be https"},
			{"Redis URL", map[string]string{"REDIS_URL": "http://redis.example.com"}, "invalid redis url"},
			{"catalog not JSON", map[string]string{"PAYGATE_CATALOG": notJSON}, "not valid JSON"},
			{"publishable Stripe key", map[string]string{"STRIPE_SECRET_KEY": "pk_test_e2e"}, "not a Stripe secret or restricted key"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				out, _, err := validateDeploy(t, true, unreachableDeployEnv(t, tc.env))
				if err == nil || !strings.Contains(out, tc.want) {
					t.Errorf("validate --offline: %v, want a refusal with %q; output:\n%s", err, tc.want, out)
				}
			})
		}
	})

	t.Run("online", func(t *testing.T) {
		t.Parallel()
		out, took, err := validateDeploy(t, false, unreachableDeployEnv(t, nil))
		if err != nil || !strings.Contains(out, "Valid configuration") {
			t.Fatalf("validate: %v, output:\n%s", err, out)
		}
		// Both opa_authz share one engine and wait for it once, from when
		// it started (modules/opaauthz's TestStartupWaitOncePerEngine);
		// each says that no policy is active.
		if n := strings.Count(out, startupWaitOver); n != 2 || took < startupWait {
			t.Errorf("%q logged %d times in %v, want 2 and at least %v", startupWaitOver, n, took, startupWait)
		}
		for _, tried := range []string{jwksFailed, bundleRefused} {
			if !strings.Contains(out, tried) {
				t.Errorf("validate did not try the network (no %q); output:\n%s", tried, out)
			}
		}
		for _, skipped := range []string{skippedJWKS, skippedBundle, skippedRedis} {
			if strings.Contains(out, skipped) {
				t.Errorf("validate without --offline skipped a step (%q)", skipped)
			}
		}
	})

	// No server runs offline: "run" does not take the flag, and nothing
	// else turns offline validation on.
	t.Run("run refuses --offline", func(t *testing.T) {
		t.Parallel()
		ports := make([]string, 4)
		for i := range ports {
			ports[i] = strconv.Itoa(testenv.FreePort(t))
		}
		env := unreachableDeployEnv(t, map[string]string{
			"PAYGATE_BIND": "127.0.0.1", "PAYGATE_TLS": "internal", "PAYGATE_DOMAIN": "localhost",
			"PAYGATE_HTTP_PORT": ports[0], "PAYGATE_HTTPS_PORT": ports[1],
			"PAYGATE_ADMIN": "127.0.0.1:" + ports[2], "PAYGATE_INTERNAL_PORT": ports[3],
		})
		out, _, err := paygateCommand(t, env, "run", "--offline", "--config", deployAbs(t, "deploy/Caddyfile"), "--adapter", "caddyfile")
		if err == nil || !strings.Contains(out, "unknown flag: --offline") {
			t.Errorf("run --offline: %v, want refused as an unknown flag; output:\n%s", err, out)
		}
	})
}
