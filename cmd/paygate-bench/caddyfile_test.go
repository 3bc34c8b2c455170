package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/testenv"
)

// readDeploy is the shipped deploy/Caddyfile.
func readDeploy(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// routeStages are the directives of the route /v1/* block, in order.
func routeStages(t *testing.T, text string) []string {
	t.Helper()
	route, err := findBlock(text, 0, len(text), "route /v1/* {")
	if err != nil {
		t.Fatal(err)
	}
	var stages []string
	depth := 0
	for off := route.start; off < route.end; {
		line, next := lineAt(text, off)
		if f := strings.Fields(line); depth == 1 && len(f) > 0 && !strings.HasPrefix(f[0], "#") {
			stages = append(stages, f[0])
		}
		depth += braceDepth(line)
		off = next
	}
	return stages
}

func TestPipelineCaddyfileKeepsTheShippedPipeline(t *testing.T) {
	deploy := readDeploy(t)
	got, err := pipelineCaddyfile(deploy)
	if err != nil {
		t.Fatal(err)
	}

	want := routeStages(t, deploy)
	i := slices.Index(want, "payments")
	if i < 0 || len(want) < 10 {
		t.Fatalf("the shipped /v1 route has stages %q: no payments stage, or fewer stages than expected", want)
	}
	want[i] = "reverse_proxy"
	if stages := routeStages(t, got); !slices.Equal(stages, want) {
		t.Errorf("stages of the /v1 route:\n got %q\nwant %q", stages, want)
	}
	if strings.Contains(got, "payments") {
		t.Error("the result still holds \"payments\"")
	}

	// Nothing else changes: line by line, once the payments block and its
	// replacement are set aside, only rate and burst lines differ, and each
	// of them is raised.
	pay, err := findBlock(deploy, 0, len(deploy), "payments {")
	if err != nil {
		t.Fatal(err)
	}
	before := strings.Split(deploy[:pay.start]+deploy[pay.end:], "\n")
	after := strings.Split(strings.Replace(got, "\t\t"+benchUpstream+"\n", "", 1), "\n")
	if len(before) != len(after) {
		t.Fatalf("%d lines besides the payments block, want %d", len(after), len(before))
	}
	changed := 0
	for i := range before {
		b, a := strings.TrimSpace(before[i]), strings.TrimSpace(after[i])
		switch {
		case b == a:
		case strings.HasPrefix(b, "rate ") && a == benchRate, strings.HasPrefix(b, "burst ") && a == benchBurst:
			changed++
		default:
			t.Errorf("line %d changed from %q to %q", i+1, b, a)
		}
	}
	if zones := len(zoneLine.FindAllString(deploy, -1)); changed != 2*zones {
		t.Errorf("%d rate and burst lines raised, want 2 for each of the %d zones", changed, zones)
	}
}

func TestPipelineCaddyfileFailsLoudly(t *testing.T) {
	deploy := readDeploy(t)
	for name, text := range map[string]string{
		"no /v1 route":           strings.Replace(deploy, "route /v1/* {", "route /api/* {", 1),
		"two /v1 routes":         deploy + "\nroute /v1/* {\n}\n",
		"no payments":            strings.Replace(deploy, "\t\tpayments {", "\t\tpayment_handler {", 1),
		"payments elsewhere":     strings.Replace(deploy, "\t\tpayments {", "\t\tpayment_handler {", 1) + "\nexample.com {\n\tpayments {\n\t}\n}\n",
		"unclosed route":         deploy[:strings.Index(deploy, "\t\tpayments {")],
		"a rate spelt otherwise": strings.Replace(deploy, "rate 300 1m", "rate {$IP_RATE:300} 1m", 1),
		"a zone without burst":   strings.Replace(deploy, "burst 60\n", "\n", 1),
	} {
		t.Run(name, func(t *testing.T) {
			if got, err := pipelineCaddyfile(text); err == nil {
				t.Errorf("no error; result:\n%s", got)
			}
		})
	}
}

func TestServerOptions(t *testing.T) {
	got, err := serverOptions(readDeploy(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"protocols h1 h2", "read_header", "max_header_size"} {
		if !strings.Contains(got, want) {
			t.Errorf("the servers block lacks %q:\n%s", want, got)
		}
	}
	if first, _ := lineAt(got, 0); strings.TrimSpace(first) != "servers {" || strings.TrimSpace(got[strings.LastIndexByte(strings.TrimRight(got, "\n"), '\n'):]) != "}" {
		t.Errorf("not one whole block:\n%s", got)
	}
}

func TestBraceDepth(t *testing.T) {
	for line, want := range map[string]int{
		"route /v1/* {":                        1,
		"}":                                    -1,
		"\tkey {paygate.client_ip}":            0,
		"\tseal_key {env.A} # roll: {env.B} {": 0,
		"# {":                                  0,
		"\turl {env.REDIS_URL}#frag {":         1,
	} {
		if got := braceDepth(line); got != want {
			t.Errorf("braceDepth(%q) = %d, want %d", line, got, want)
		}
	}
}

// validate runs "paygate validate" on config with the environment that
// deploy/Caddyfile reads (as the Makefile's check-config sets it).
func validate(t *testing.T, config string) {
	t.Helper()
	paygate(t, "validate", config)
}

// paygate runs "paygate <verb> --config <config>" with the environment
// that deploy/Caddyfile reads (as the Makefile's check-config sets it) and
// returns its standard output.
func paygate(t *testing.T, verb, config string) []byte {
	t.Helper()
	bin := testenv.Binary(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, verb, "--config", path, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(),
		"XDG_DATA_HOME="+dir,
		"PAYGATE_DOMAIN=127.0.0.1", "PAYGATE_TLS=internal", "PAYGATE_BIND=127.0.0.1",
		"PAYGATE_HTTP_PORT=8080", "PAYGATE_HTTPS_PORT=8443", "PAYGATE_ADMIN=127.0.0.1:2019",
		"REDIS_URL=unix:///tmp/paygate-bench-validate.sock",
		"PAYGATE_ISSUER="+benchIssuer, "PAYGATE_JWKS_URL=http://127.0.0.1:9/.well-known/jwks.json",
		"PAYGATE_POLICY_BUNDLE_URL=http://127.0.0.1:9/bundles/paygate.tar.gz",
		"PAYGATE_POLICY_PUBLIC_KEY="+filepath.Join(repo, "testdata", "opa", "bundle-signing.pub"),
		"PAYGATE_IDEMPOTENCY_KEY=cGF5Z2F0ZS1jaGVjay1jb25maWctc2VhbC1rZXktMzI=",
		"STRIPE_SECRET_KEY=sk_test_paygate_bench_not_a_key", "STRIPE_WEBHOOK_SECRET=whsec_paygate_bench_not_a_secret",
		"PAYGATE_CATALOG="+filepath.Join(repo, "testdata", "catalog", "catalog.json"),
		"PAYGATE_UPSTREAM=127.0.0.1:9",
	)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("paygate %s: %v\n%s\nconfig:\n%s", verb, err, stderr.String(), config)
	}
	return out
}

func TestPipelineCaddyfileValidates(t *testing.T) {
	got, err := pipelineCaddyfile(readDeploy(t))
	if err != nil {
		t.Fatal(err)
	}
	validate(t, got)
}

func TestBareCaddyfileValidates(t *testing.T) {
	servers, err := serverOptions(readDeploy(t))
	if err != nil {
		t.Fatal(err)
	}
	validate(t, bareCaddyfile(servers, serverPorts{http: 8080, https: 8443, adminPort: 2019}, "127.0.0.1:9"))
}

func TestLogsOffCaddyfile(t *testing.T) {
	pipeline, err := pipelineCaddyfile(readDeploy(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := logsOffCaddyfile(pipeline)
	if err != nil {
		t.Fatal(err)
	}

	// As adapted: the pipeline's logs are on, and off in the result.
	for _, c := range []struct {
		config string
		off    bool
	}{{pipeline, false}, {got, true}} {
		var adapted struct {
			Apps struct {
				HTTP struct {
					Servers map[string]struct {
						Logs *json.RawMessage `json:"logs"`
					} `json:"servers"`
				} `json:"http"`
			} `json:"apps"`
		}
		text := paygate(t, "adapt", c.config)
		if err := json.Unmarshal(text, &adapted); err != nil {
			t.Fatal(err)
		}
		logged := 0
		for _, srv := range adapted.Apps.HTTP.Servers {
			if srv.Logs != nil {
				logged++
			}
		}
		decisionLogsOff := bytes.Count(text, []byte(`"decision_log":{"disabled":true}`))
		if c.off && (logged != 0 || decisionLogsOff != 2) {
			t.Errorf("logs off: %d servers log requests, want 0; %d opa_authz stages have decision_log off, want 2 (both sites)", logged, decisionLogsOff)
		}
		if !c.off && (logged == 0 || decisionLogsOff != 0) {
			t.Errorf("the pipeline: %d servers log requests, want some; %d opa_authz stages have decision_log off, want 0", logged, decisionLogsOff)
		}
	}

	// Nothing else changes: the access log's lines go, one line comes.
	removed, added := lineDiff(strings.Split(pipeline, "\n"), strings.Split(got, "\n"))
	if want := []string{"format redact", "log {", "}"}; !slices.Equal(removed, want) {
		t.Errorf("lines removed %q, want %q", removed, want)
	}
	if want := []string{"decision_log off"}; !slices.Equal(added, want) {
		t.Errorf("lines added %q, want %q", added, want)
	}

	for name, text := range map[string]string{
		"no site snippet":  strings.Replace(pipeline, "(paygate_site) {", "(site) {", 1),
		"no access log":    strings.Replace(pipeline, "\tlog {\n\t\tformat redact\n\t}\n\n\troute /v1/*", "\troute /v1/*", 1),
		"no opa_authz":     strings.Replace(pipeline, "opa_authz {", "authz {", 1),
		"decision_log set": strings.Replace(pipeline, "opa_authz {", "opa_authz {\n\t\t\tdecision_log console", 1),
	} {
		t.Run(name, func(t *testing.T) {
			if text == pipeline {
				t.Fatal("the case changes nothing")
			}
			if got, err := logsOffCaddyfile(text); err == nil {
				t.Errorf("no error; result:\n%s", got)
			}
		})
	}
}

// lineDiff returns the lines, blanks trimmed, that a has more often than b
// (removed) and that b has more often than a (added), sorted.
func lineDiff(a, b []string) (removed, added []string) {
	count := map[string]int{}
	for _, l := range a {
		count[strings.TrimSpace(l)]++
	}
	for _, l := range b {
		count[strings.TrimSpace(l)]--
	}
	for _, l := range slices.Sorted(maps.Keys(count)) {
		for n := count[l]; n > 0; n-- {
			removed = append(removed, l)
		}
		for n := count[l]; n < 0; n++ {
			added = append(added, l)
		}
	}
	return removed, added
}
