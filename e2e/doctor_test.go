package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/testenv"
)

// doctorReport is what the tests read of `paygate doctor --json`.
type doctorReport struct {
	Replicas int `json:"replicas"`
	Checks   []struct {
		ID      string   `json:"id"`
		Status  string   `json:"status"`
		Details []string `json:"details"`
	} `json:"checks"`
	Failed int  `json:"failed"`
	OK     bool `json:"ok"`
}

// failed lists the IDs of the checks that failed.
func (r doctorReport) failed() []string {
	var ids []string
	for _, c := range r.Checks {
		if c.Status == "fail" {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// doctorEnv is the environment the shipped Caddyfiles are adapted with:
// the Makefile's check-config set, with a live Stripe key and a real
// webhook secret, which no output may show.
func doctorEnv(t *testing.T) []string {
	return commandEnv(t, map[string]string{"STRIPE_SECRET_KEY": "sk_live_e2eDoctorLive0123456789"})
}

// runDoctor runs `paygate doctor` with args and returns its exit status,
// standard output and standard error.
func runDoctor(t *testing.T, env []string, args ...string) (int, []byte, []byte) {
	t.Helper()
	cmd := exec.Command(testenv.Binary(t), append([]string{"doctor"}, args...)...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.Bytes(), stderr.Bytes()
	case err != nil:
		t.Fatal(err)
	}
	return 0, stdout.Bytes(), stderr.Bytes()
}

func decodeDoctor(t *testing.T, stdout []byte) doctorReport {
	t.Helper()
	var rep doctorReport
	if err := json.Unmarshal(stdout, &rep); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, stdout)
	}
	return rep
}

// TestDoctorShippedConfig: the production Caddyfile passes doctor for
// three replicas (exit 0, JSON report with ok true); the development one
// fails it for two, on its in-memory store alone (exit 1).
func TestDoctorShippedConfig(t *testing.T) {
	env := doctorEnv(t)
	code, stdout, stderr := runDoctor(t, env, "--config", deployAbs(t, "deploy/Caddyfile"), "--json", "--replicas", "3")
	rep := decodeDoctor(t, stdout)
	if code != 0 || !rep.OK || rep.Replicas != 3 || len(rep.Checks) < 15 {
		t.Errorf("deploy/Caddyfile: exit %d, ok %v, %d replicas, %d checks, failed %v; want 0, true, 3, 15+, none\n%s",
			code, rep.OK, rep.Replicas, len(rep.Checks), rep.failed(), stderr)
	}

	code, stdout, _ = runDoctor(t, env, "--config", deployAbs(t, "Caddyfile"), "--json", "--replicas", "2")
	rep = decodeDoctor(t, stdout)
	if got := rep.failed(); code != 1 || rep.OK || !slices.Equal(got, []string{"shared_store"}) {
		t.Errorf("Caddyfile with 2 replicas: exit %d, ok %v, failed %v; want 1, false, [shared_store]", code, rep.OK, got)
	}
}

// badCaddyfile breaks several rules at once: the admin API on every
// interface, the Stripe key given as {$NAME} (inline once adapted), no
// tls_enforce, no rate limit, no idempotency, unsigned policy bundles and
// a CSP that admits any script.
const badCaddyfile = `{
	admin 0.0.0.0:2019
	skip_install_trust
	log {
		format redact
	}
}

https://localhost:8443 {
	tls internal
	route /v1/* {
		security_headers api
		jwt_auth {
			issuer https://id.example.com
			audience paygate
			jwks https://id.example.com/.well-known/jwks.json
			typ at+jwt
		}
		opa_authz {
			bundle https://bundles.example.com/paygate.tar.gz {
				allow_unsigned
			}
		}
		payments {
			stripe_key {$STRIPE_SECRET_KEY}
			catalog {env.PAYGATE_CATALOG}
		}
	}
	route {
		security_headers {
			set Content-Security-Policy "default-src 'self'; script-src *; frame-ancestors 'none'"
		}
		respond "hello"
	}
}
`

// TestDoctorBadConfig: a config that breaks the rules fails doctor (exit
// 1), naming each broken rule, in the checklist and in JSON, without
// showing the secret it found inline.
func TestDoctorBadConfig(t *testing.T) {
	env := doctorEnv(t)
	file := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(file, []byte(badCaddyfile), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runDoctor(t, env, "--config", file, "--json")
	rep := decodeDoctor(t, stdout)
	want := []string{"https_only", "csp", "rate_limits", "idempotency", "signed_policies", "admin_api", "inline_secrets", "stripe_live_keys"}
	got := rep.failed()
	slices.Sort(want)
	slices.Sort(got)
	if code != 1 || rep.OK || !slices.Equal(got, want) {
		t.Errorf("exit %d, ok %v, failed %v; want 1, false, %v", code, rep.OK, got, want)
	}

	code, text, stderrText := runDoctor(t, env, "--config", file)
	if code != 1 {
		t.Errorf("checklist: exit %d, want 1", code)
	}
	for _, line := range []string{"FAIL  admin_api ", "FAIL  inline_secrets ", "PASS  jwt ", "stripe_key {$STRIPE_SECRET_KEY} is replaced by the secret itself"} {
		if !strings.Contains(string(text), line) {
			t.Errorf("the checklist has no %q:\n%s", line, text)
		}
	}
	for _, out := range [][]byte{stdout, stderr, text, stderrText} {
		if strings.Contains(string(out), "sk_live_e2eDoctorLive") {
			t.Errorf("doctor shows the Stripe key:\n%s", out)
		}
	}
}
