package opaauthz

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	on := true
	tests := []struct {
		name, input string
		want        Handler
	}{
		{name: "policy_dir", input: "opa_authz {\npolicy_dir /etc/paygate/policies\n}", want: Handler{PolicyDir: "/etc/paygate/policies"}},
		{name: "bundle bare", input: "opa_authz {\nbundle https://b.example.com/p.tar.gz\n}", want: Handler{Bundle: &BundleConfig{URL: "https://b.example.com/p.tar.gz"}}},
		{name: "bundle block", input: `opa_authz {
			bundle https://b.example.com/p.tar.gz {
				polling 30s 120s
				public_key /k.pub ES384
				persist /var/lib/pg
				bearer_token {env.T}
			}
		}`, want: Handler{Bundle: &BundleConfig{
			URL: "https://b.example.com/p.tar.gz", PollingMin: caddy.Duration(30 * time.Second), PollingMax: caddy.Duration(120 * time.Second),
			PublicKey: "/k.pub", KeyAlgorithm: "ES384", Persist: true, PersistDir: "/var/lib/pg", BearerToken: "{env.T}",
		}}},
		{name: "bundle short forms", input: "opa_authz {\nbundle https://b/p {\npolling 5s\npublic_key /k.pub\npersist\n}\n}", want: Handler{Bundle: &BundleConfig{
			URL: "https://b/p", PollingMin: caddy.Duration(5 * time.Second), PublicKey: "/k.pub", Persist: true,
		}}},
		{name: "trusted_key", input: "opa_authz {\nbundle https://b/p {\npublic_key /k.pub\ntrusted_key 2026-12 /next.pub ES256\ntrusted_key k3 /k3.pub\n}\n}", want: Handler{Bundle: &BundleConfig{
			URL: "https://b/p", PublicKey: "/k.pub", TrustedKeys: []TrustedKey{{KeyID: "2026-12", File: "/next.pub", Algorithm: "ES256"}, {KeyID: "k3", File: "/k3.pub"}},
		}}},
		{name: "query", input: "opa_authz {\npolicy_dir d\nquery data.x.y\n}", want: Handler{PolicyDir: "d", Query: "data.x.y"}},
		{name: "max_bundle_age", input: "opa_authz {\nbundle https://b/p\nmax_bundle_age 30m\n}", want: Handler{Bundle: &BundleConfig{URL: "https://b/p"}, MaxBundleAge: caddy.Duration(30 * time.Minute)}},
		{name: "max_bundle_age off", input: "opa_authz {\nbundle https://b/p\nmax_bundle_age off\n}", want: Handler{Bundle: &BundleConfig{URL: "https://b/p"}, MaxBundleAge: -1}},
		{name: "startup_wait", input: "opa_authz {\npolicy_dir d\nstartup_wait 2s\n}", want: Handler{PolicyDir: "d", StartupWait: caddy.Duration(2 * time.Second)}},
		{name: "claims", input: "opa_authz {\npolicy_dir d\nclaims role email\nclaims tenant\n}", want: Handler{PolicyDir: "d", Claims: []string{"role", "email", "tenant"}}},
		{name: "routes", input: "opa_authz {\npolicy_dir d\nroute /v1/a/{id} a\nroute /v1/b b\n}", want: Handler{PolicyDir: "d", Routes: []Route{{"/v1/a/{id}", "a"}, {"/v1/b", "b"}}}},
		{name: "decision_log console", input: "opa_authz {\npolicy_dir d\ndecision_log console\n}", want: Handler{PolicyDir: "d", DecisionLog: &DecisionLogConfig{Console: &on}}},
		{name: "decision_log off", input: "opa_authz {\npolicy_dir d\ndecision_log off\n}", want: Handler{PolicyDir: "d", DecisionLog: &DecisionLogConfig{Disabled: true}}},
		{name: "decision_log service", input: `opa_authz {
			policy_dir d
			decision_log https://logs.example.com/logs {
				console
				bearer_token {env.L}
				upload_interval 10s 20s
				headers User-Agent X-Request-Id
				headers Authorization
				mask_decision /custom/mask
			}
		}`, want: Handler{PolicyDir: "d", DecisionLog: &DecisionLogConfig{
			Service: "https://logs.example.com/logs", Console: &on, BearerToken: "{env.L}",
			UploadMin: caddy.Duration(10 * time.Second), UploadMax: caddy.Duration(20 * time.Second),
			Headers: []string{"User-Agent", "X-Request-Id", "Authorization"}, MaskDecision: "/custom/mask",
		}}},
		{name: "decision_log block only", input: "opa_authz {\npolicy_dir d\ndecision_log {\nheaders User-Agent\n}\n}", want: Handler{PolicyDir: "d", DecisionLog: &DecisionLogConfig{Headers: []string{"User-Agent"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Handler
			if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input)); err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(h)
			want, _ := json.Marshal(tt.want)
			if string(got) != string(want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func TestUnmarshalCaddyfileErrors(t *testing.T) {
	for name, input := range map[string]string{
		"argument":                         "opa_authz d",
		"unknown subdirective":             "opa_authz {\nfoo\n}",
		"policy_dir without value":         "opa_authz {\npolicy_dir\n}",
		"policy_dir two values":            "opa_authz {\npolicy_dir a b\n}",
		"bundle without url":               "opa_authz {\nbundle\n}",
		"bundle two urls":                  "opa_authz {\nbundle a b\n}",
		"bundle twice":                     "opa_authz {\nbundle a\nbundle b\n}",
		"bundle unknown subdirective":      "opa_authz {\nbundle a {\nfoo\n}\n}",
		"polling without value":            "opa_authz {\nbundle a {\npolling\n}\n}",
		"polling three values":             "opa_authz {\nbundle a {\npolling 1s 2s 3s\n}\n}",
		"polling not a duration":           "opa_authz {\nbundle a {\npolling soon\n}\n}",
		"polling max not a duration":       "opa_authz {\nbundle a {\npolling 1s later\n}\n}",
		"public_key without file":          "opa_authz {\nbundle a {\npublic_key\n}\n}",
		"public_key three values":          "opa_authz {\nbundle a {\npublic_key f ES256 x\n}\n}",
		"trusted_key without file":         "opa_authz {\nbundle a {\ntrusted_key k\n}\n}",
		"trusted_key four values":          "opa_authz {\nbundle a {\ntrusted_key k f ES256 x\n}\n}",
		"persist two dirs":                 "opa_authz {\nbundle a {\npersist a b\n}\n}",
		"bearer_token without value":       "opa_authz {\nbundle a {\nbearer_token\n}\n}",
		"query without value":              "opa_authz {\nquery\n}",
		"startup_wait without value":       "opa_authz {\nstartup_wait\n}",
		"startup_wait not a duration":      "opa_authz {\nstartup_wait soon\n}",
		"max_bundle_age without value":     "opa_authz {\nmax_bundle_age\n}",
		"max_bundle_age two values":        "opa_authz {\nmax_bundle_age 1h off\n}",
		"max_bundle_age not a duration":    "opa_authz {\nmax_bundle_age never\n}",
		"max_bundle_age zero":              "opa_authz {\nmax_bundle_age 0s\n}",
		"claims without value":             "opa_authz {\nclaims\n}",
		"route one value":                  "opa_authz {\nroute /v1/a\n}",
		"route three values":               "opa_authz {\nroute /v1/a a b\n}",
		"decision_log twice":               "opa_authz {\ndecision_log console\ndecision_log off\n}",
		"decision_log two values":          "opa_authz {\ndecision_log console off\n}",
		"decision_log off with block":      "opa_authz {\ndecision_log off {\nconsole\n}\n}",
		"decision_log unknown":             "opa_authz {\ndecision_log {\nfoo\n}\n}",
		"decision_log console argument":    "opa_authz {\ndecision_log u {\nconsole yes\n}\n}",
		"decision_log bearer_token empty":  "opa_authz {\ndecision_log u {\nbearer_token\n}\n}",
		"decision_log upload_interval":     "opa_authz {\ndecision_log u {\nupload_interval\n}\n}",
		"decision_log upload_interval bad": "opa_authz {\ndecision_log u {\nupload_interval often\n}\n}",
		"decision_log headers empty":       "opa_authz {\ndecision_log {\nheaders\n}\n}",
		"decision_log mask_decision empty": "opa_authz {\ndecision_log {\nmask_decision\n}\n}",
	} {
		t.Run(name, func(t *testing.T) {
			var h Handler
			if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err == nil {
				t.Errorf("got no error; parsed %+v", h)
			}
		})
	}
}

// TestValidate covers the configuration errors found after parsing.
func TestValidate(t *testing.T) {
	off := false
	valid := func() Handler { return Handler{PolicyDir: "d", Query: defaultQuery} }
	tests := map[string]func(h *Handler){
		"neither source":          func(h *Handler) { h.PolicyDir = "" },
		"both sources":            func(h *Handler) { h.Bundle = &BundleConfig{AllowUnsigned: true, URL: "https://b/p"} },
		"bundle without url":      func(h *Handler) { h.PolicyDir, h.Bundle = "", &BundleConfig{} },
		"bundle url not http":     func(h *Handler) { h.PolicyDir, h.Bundle = "", &BundleConfig{AllowUnsigned: true, URL: "ftp://b/p"} },
		"bundle url without path": func(h *Handler) { h.PolicyDir, h.Bundle = "", &BundleConfig{AllowUnsigned: true, URL: "https://b/"} },
		"bundle url with credentials": func(h *Handler) {
			h.PolicyDir, h.Bundle = "", &BundleConfig{AllowUnsigned: true, URL: "https://u:p@b/p"}
		},
		"bundle url unparsable": func(h *Handler) { h.PolicyDir, h.Bundle = "", &BundleConfig{AllowUnsigned: true, URL: "https://b/%zz"} },
		"polling below 1s": func(h *Handler) {
			h.PolicyDir, h.Bundle = "", &BundleConfig{AllowUnsigned: true, URL: "https://b/p", PollingMin: caddy.Duration(time.Millisecond)}
		},
		"polling max below min": func(h *Handler) {
			h.PolicyDir, h.Bundle = "", &BundleConfig{AllowUnsigned: true, URL: "https://b/p", PollingMin: caddy.Duration(time.Minute), PollingMax: caddy.Duration(time.Second)}
		},
		"polling max without min": func(h *Handler) {
			h.PolicyDir, h.Bundle = "", &BundleConfig{AllowUnsigned: true, URL: "https://b/p", PollingMax: caddy.Duration(time.Minute)}
		},
		"key_algorithm without key": func(h *Handler) {
			h.PolicyDir, h.Bundle = "", &BundleConfig{AllowUnsigned: true, URL: "https://b/p", KeyAlgorithm: "RS256"}
		},
		"bundle without public_key": func(h *Handler) { h.PolicyDir, h.Bundle = "", &BundleConfig{URL: "https://b/p"} },
		"allow_unsigned and a key": func(h *Handler) {
			h.PolicyDir, h.Bundle = "", &BundleConfig{URL: "https://b/p", PublicKey: "/k.pub", AllowUnsigned: true}
		},
		"bundle over plain http": func(h *Handler) {
			h.PolicyDir, h.Bundle = "", &BundleConfig{URL: "http://bundles.example.com/p", PublicKey: "/k.pub"}
		},
		"persist_dir without persist": func(h *Handler) {
			h.PolicyDir, h.Bundle = "", &BundleConfig{AllowUnsigned: true, URL: "https://b/p", PersistDir: "/x"}
		},
		"query syntax":                      func(h *Handler) { h.Query = "data.x[" },
		"query two expressions":             func(h *Handler) { h.Query = "data.x; data.y" },
		"negative startup_wait":             func(h *Handler) { h.StartupWait = -1 },
		"max_bundle_age without bundle":     func(h *Handler) { h.MaxBundleAge = caddy.Duration(time.Hour) },
		"max_bundle_age off without bundle": func(h *Handler) { h.MaxBundleAge = -1 },
		"max_bundle_age within a poll": func(h *Handler) {
			h.PolicyDir, h.Bundle = "", &BundleConfig{AllowUnsigned: true, URL: "https://b/p", PollingMin: caddy.Duration(time.Minute)}
			h.MaxBundleAge = caddy.Duration(2 * time.Minute)
		},
		"claim with dot":               func(h *Handler) { h.Claims = []string{"a.b"} },
		"claim id":                     func(h *Handler) { h.Claims = []string{"id"} },
		"claim upper case":             func(h *Handler) { h.Claims = []string{"Role"} },
		"route relative":               func(h *Handler) { h.Routes = []Route{{"v1/a", "a"}} },
		"route root":                   func(h *Handler) { h.Routes = []Route{{"/", "a"}} },
		"route two ids":                func(h *Handler) { h.Routes = []Route{{"/v1/{id}/{id}", "a"}} },
		"route upper-case literal":     func(h *Handler) { h.Routes = []Route{{"/V1/a", "a"}} },
		"route empty segment":          func(h *Handler) { h.Routes = []Route{{"/v1//a", "a"}} },
		"route other placeholder":      func(h *Handler) { h.Routes = []Route{{"/v1/{name}", "a"}} },
		"route bad resource type":      func(h *Handler) { h.Routes = []Route{{"/v1/a", "Payment-Intent"}} },
		"route duplicate":              func(h *Handler) { h.Routes = []Route{{"/v1/a", "a"}, {"/v1/a", "b"}} },
		"decision_log off and console": func(h *Handler) { on := true; h.DecisionLog = &DecisionLogConfig{Disabled: true, Console: &on} },
		"decision_log console off":     func(h *Handler) { h.DecisionLog = &DecisionLogConfig{Console: &off} },
		"decision_log service not url": func(h *Handler) { h.DecisionLog = &DecisionLogConfig{Service: "logs"} },
		"decision_log service bad":     func(h *Handler) { h.DecisionLog = &DecisionLogConfig{Service: "https://l/%zz"} },
		"decision_log token no service": func(h *Handler) {
			h.DecisionLog = &DecisionLogConfig{BearerToken: "t"}
		},
		"decision_log upload below 1s": func(h *Handler) {
			h.DecisionLog = &DecisionLogConfig{Service: "https://l/logs", UploadMin: caddy.Duration(time.Millisecond)}
		},
		"decision_log header with colon": func(h *Handler) { h.DecisionLog = &DecisionLogConfig{Headers: []string{"A:B"}} },
		"decision_log relative mask":     func(h *Handler) { h.DecisionLog = &DecisionLogConfig{MaskDecision: "paygate/log/mask"} },
	}
	h := valid()
	if err := h.Validate(); err != nil {
		t.Fatalf("the base configuration is invalid: %v", err)
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			h := valid()
			mutate(&h)
			if err := h.Validate(); err == nil {
				t.Error("got no error")
			}
		})
	}
}

func TestProvisionErrors(t *testing.T) {
	t.Setenv("OPA_AUTHZ_TEST_BAD_URL", "ftp://b/p")
	for name, h := range map[string]*Handler{
		"bundle url placeholder resolves badly": {Bundle: &BundleConfig{AllowUnsigned: true, URL: "{env.OPA_AUTHZ_TEST_BAD_URL}"}},
		"bundle url placeholder unset":          {Bundle: &BundleConfig{AllowUnsigned: true, URL: "{env.OPA_AUTHZ_TEST_UNSET}"}},
		"service placeholder resolves badly":    {PolicyDir: repoPolicies, DecisionLog: &DecisionLogConfig{Service: "{env.OPA_AUTHZ_TEST_BAD_URL}"}},
		"invalid":                               {},
		"missing public key":                    {Bundle: &BundleConfig{URL: "https://b/p", PublicKey: "/nonexistent.pub"}},
		"public key not PEM":                    {Bundle: &BundleConfig{URL: "https://b/p", PublicKey: "caddyfile.go"}},
		"private key as public":                 {Bundle: &BundleConfig{URL: "https://b/p", PublicKey: "../../testdata/opa/bundle-signing.key"}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := provisionHandler(t, h); err == nil {
				t.Error("got no error")
			}
		})
	}
}

// TestBundleTransportRules: signed bundles over https are the default;
// plain http is accepted to loopback, or elsewhere only when allowed, and
// unsigned bundles only when allowed.
func TestBundleTransportRules(t *testing.T) {
	for name, b := range map[string]BundleConfig{
		"https, signed":         {URL: "https://b.example.com/p", PublicKey: "/k.pub"},
		"http to loopback":      {URL: "http://127.0.0.1:8181/p", PublicKey: "/k.pub"},
		"http to localhost":     {URL: "http://localhost:8181/p", PublicKey: "/k.pub"},
		"http when allowed":     {URL: "http://bundles.internal/p", PublicKey: "/k.pub", AllowHTTP: true},
		"unsigned when allowed": {URL: "https://b.example.com/p", AllowUnsigned: true},
	} {
		t.Run(name, func(t *testing.T) {
			h := Handler{Bundle: &b, Query: defaultQuery}
			if err := h.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}
