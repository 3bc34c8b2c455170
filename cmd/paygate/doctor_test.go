package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/doctor"
)

// checkConfigEnv is the environment the Makefile's check-config target
// adapts the shipped Caddyfiles with.
var checkConfigEnv = map[string]string{
	"PAYGATE_DOMAIN":            "pay.example.com",
	"REDIS_URL":                 "redis://127.0.0.1:6379/0",
	"STRIPE_SECRET_KEY":         "sk_test_check",
	"STRIPE_API_BASE":           "http://127.0.0.1:12111",
	"PAYGATE_UPSTREAM":          "127.0.0.1:9",
	"STRIPE_WEBHOOK_SECRET":     "whsec_check_config_only",
	"PAYGATE_IDEMPOTENCY_KEY":   "cGF5Z2F0ZS1jaGVjay1jb25maWctc2VhbC1rZXktMzI=",
	"PAYGATE_ISSUER":            "https://id.example.com",
	"PAYGATE_JWKS_URL":          "https://id.example.com/.well-known/jwks.json",
	"PAYGATE_CATALOG":           "testdata/catalog/catalog.json",
	"PAYGATE_POLICY_BUNDLE_URL": "http://127.0.0.1:9/paygate.tar.gz",
	"PAYGATE_POLICY_PUBLIC_KEY": "testdata/opa/bundle-signing.pub",
	// The Kubernetes overlays' stores (deploy/kubernetes/overlays).
	"REDIS_SENTINEL_MASTER": "mymaster",
	"REDIS_SENTINEL_ADDRS":  "10.0.0.1:26379 10.0.0.2:26379 10.0.0.3:26379",
	"REDIS_CLUSTER_ADDRS":   "10.0.1.1:6379 10.0.1.2:6379 10.0.1.3:6379",
}

// repoFile is a path of the repository from this package's directory.
func repoFile(rel string) string { return filepath.Join("..", "..", filepath.FromSlash(rel)) }

func failedChecks(rep *doctor.Report) []string {
	var ids []string
	for _, c := range rep.Checks {
		if c.Status == doctor.Fail {
			ids = append(ids, c.ID+": "+strings.Join(c.Details, "; "))
		}
	}
	return ids
}

// TestDoctorShippedConfigs: the shipped Caddyfiles pass doctor, the
// production ones with any number of replicas (they share Redis), the
// development one with a single instance only (its store is memory).
func TestDoctorShippedConfigs(t *testing.T) {
	for k, v := range checkConfigEnv {
		t.Setenv(k, v)
	}
	for _, tt := range []struct {
		file       string
		production bool
	}{
		{"Caddyfile", false},
		{"deploy/Caddyfile", true},
		{"deploy/kubernetes/base/Caddyfile", true},
		{"deploy/kubernetes/overlays/sentinel/Caddyfile", true},
		{"deploy/kubernetes/overlays/cluster/Caddyfile", true},
	} {
		t.Run(tt.file, func(t *testing.T) {
			input, err := os.ReadFile(repoFile(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			rep, err := doctorReport(input, tt.file, adapterFor(tt.file), 1)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK {
				t.Errorf("%s fails doctor: %s", tt.file, failedChecks(rep))
			}
			rep, err = doctorReport(input, tt.file, "caddyfile", 3)
			if err != nil {
				t.Fatal(err)
			}
			switch failed := failedChecks(rep); {
			case tt.production && len(failed) > 0:
				t.Errorf("%s with 3 replicas fails doctor: %s", tt.file, failed)
			case !tt.production && (len(failed) != 1 || !strings.HasPrefix(failed[0], "shared_store:")):
				t.Errorf("%s with 3 replicas: failed %s, want shared_store only", tt.file, failed)
			}
		})
	}
}

// TestDoctorCaddyfileSecret: a secret given as {$NAME} fails doctor
// whatever the variable holds where doctor runs: a key (inline in the
// adapted JSON) or a placeholder (only the Caddyfile's text shows it).
func TestDoctorCaddyfileSecret(t *testing.T) {
	for k, v := range checkConfigEnv {
		t.Setenv(k, v)
	}
	input, err := os.ReadFile(repoFile("deploy/Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(input), "stripe_key {env.STRIPE_SECRET_KEY}", "stripe_key {$STRIPE_SECRET_KEY}", 1)
	if bad == string(input) {
		t.Fatal("deploy/Caddyfile has no stripe_key {env.STRIPE_SECRET_KEY} line")
	}
	for _, value := range []string{"sk_test_check", "{env.STRIPE_SECRET_KEY}"} {
		t.Setenv("STRIPE_SECRET_KEY", value)
		rep, err := doctorReport([]byte(bad), "Caddyfile", "caddyfile", 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range rep.Checks {
			if c.ID == "inline_secrets" && c.Status != doctor.Fail {
				t.Errorf("STRIPE_SECRET_KEY=%s: inline_secrets %s, want fail: %s", value, c.Status, c.Details)
			}
		}
	}
}

// TestDoctorPresets: each security_headers preset doctor trusts sends, as
// the module itself sets it, a CSP and an HSTS header that doctor's own
// checks pass; the stripe preset admits Stripe.js.
func TestDoctorPresets(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	for _, preset := range doctor.Presets {
		t.Run(preset, func(t *testing.T) {
			mod, err := ctx.LoadModuleByID("http.handlers.security_headers", json.RawMessage(`{"preset":"`+preset+`"}`))
			if err != nil {
				t.Fatal(err)
			}
			h := mod.(caddyhttp.MiddlewareHandler)
			r := httptest.NewRequest(http.MethodGet, "https://pay.example.com/", nil)
			r.TLS = &tls.ConnectionState{}
			w := httptest.NewRecorder()
			next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
			if err := h.ServeHTTP(w, r, next); err != nil {
				t.Fatal(err)
			}
			csp := w.Header().Get("Content-Security-Policy")
			if problems := doctor.CheckCSP(csp); len(problems) > 0 {
				t.Errorf("CSP %q: %s", csp, problems)
			}
			if err := doctor.CheckHSTS(w.Header().Get("Strict-Transport-Security")); err != nil {
				t.Error(err)
			}
			if got, want := doctor.AdmitsStripeJS(csp), preset == "stripe"; got != want {
				t.Errorf("CSP %q admits Stripe.js: %v, want %v", csp, got, want)
			}
		})
	}
}

// TestDoctorSchemas: every JSON field doctor reads exists, at the same
// place, in the config type of the module (or Caddy) that it reads.
func TestDoctorSchemas(t *testing.T) {
	for id, ours := range doctor.Schemas() {
		var theirs reflect.Type
		if id == "caddy.Config" {
			theirs = reflect.TypeOf(caddy.Config{})
		} else {
			info, err := caddy.GetModule(id)
			if err != nil {
				t.Errorf("%s: %v", id, err)
				continue
			}
			theirs = reflect.TypeOf(info.New())
		}
		for _, missing := range missingFields(reflect.TypeOf(ours), theirs, id) {
			t.Errorf("doctor reads %s, which %s does not have", missing, id)
		}
	}
}

// missingFields lists the JSON fields of ours that theirs lacks, by path,
// descending into structs (and their slices, pointers and maps) that both
// have.
func missingFields(ours, theirs reflect.Type, path string) []string {
	ours, theirs = elem(ours), elem(theirs)
	if ours.Kind() != reflect.Struct || theirs.Kind() != reflect.Struct {
		return nil
	}
	have := jsonFields(theirs)
	var missing []string
	for name, t := range jsonFields(ours) {
		other, ok := have[name]
		if !ok {
			missing = append(missing, path+"."+name)
			continue
		}
		missing = append(missing, missingFields(t, other, path+"."+name)...)
	}
	return missing
}

// elem is the element type behind pointers, slices and maps.
func elem(t reflect.Type) reflect.Type {
	for {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map:
			if t == reflect.TypeOf(json.RawMessage{}) {
				return t
			}
			t = t.Elem()
		default:
			return t
		}
	}
}

// jsonFields maps the JSON names of a struct's fields, embedded structs'
// included, to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-":
		case f.Anonymous && name == "":
			for n, ft := range jsonFields(elem(f.Type)) {
				fields[n] = ft
			}
		case name != "":
			fields[name] = f.Type
		}
	}
	return fields
}

func TestAdapterFor(t *testing.T) {
	for path, want := range map[string]string{
		"Caddyfile":              "caddyfile",
		"deploy/Caddyfile":       "caddyfile",
		"Caddyfile.dev":          "caddyfile",
		"site.caddyfile":         "caddyfile",
		"caddy.json":             "",
		"/etc/paygate/config.js": "",
	} {
		if got := adapterFor(path); got != want {
			t.Errorf("adapterFor(%q) = %q, want %q", path, got, want)
		}
	}
}

// TestDoctorJSON: a JSON config is checked as it is, without an adapter.
func TestDoctorJSON(t *testing.T) {
	path := repoFile("internal/doctor/testdata/good.json")
	input, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := doctorReport(input, path, adapterFor(path), 2)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Adapter != "" || rep.Warned != 0 {
		t.Errorf("ok %v, adapter %q, %d warnings; want true, none, 0: %s", rep.OK, rep.Adapter, rep.Warned, failedChecks(rep))
	}
}
