package opaauthz

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// TestOPAConfig checks the OPA configuration built from the handler's.
func TestOPAConfig(t *testing.T) {
	t.Setenv("OPA_AUTHZ_TEST_TOKEN", "tok")
	t.Setenv("OPA_AUTHZ_TEST_URL", "https://b.example.com/p.tar.gz")
	pub := "../../testdata/opa/bundle-signing.pub"
	t.Setenv("OPA_AUTHZ_TEST_PUB", pub)
	on := true
	tests := []struct {
		name string
		h    Handler
		want string
	}{
		{
			name: "policy_dir defaults",
			h:    Handler{PolicyDir: "d"},
			want: `{"decision_logs":{"console":false,"plugin":"paygate_console","mask_decision":"/paygate/log/mask"},"plugins":{"paygate_console":{}}}`,
		},
		{
			name: "bundle",
			h: Handler{Bundle: &BundleConfig{
				URL: "https://b.example.com/x/paygate.tar.gz?v=1", PollingMin: caddy.Duration(1500 * time.Millisecond),
				PublicKey: pub, Persist: true, PersistDir: "/p", BearerToken: "{env.OPA_AUTHZ_TEST_TOKEN}",
			}, DecisionLog: &DecisionLogConfig{Disabled: true}},
			want: `{
				"services": {"bundle": {"url": "https://b.example.com", "credentials": {"bearer": {"token": "tok"}}}},
				"bundles": {"paygate": {"service": "bundle", "resource": "/x/paygate.tar.gz?v=1",
					"polling": {"min_delay_seconds": 2, "max_delay_seconds": 3},
					"signing": {"keyid": "paygate"}, "persist": true}},
				"keys": {"paygate": {"algorithm": "ES256", "key": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE9A3cclQLZACgrubOFRzBxGJuBmNp\najCIOO/KIaMXOl4TAf8FuK+s7pzwK/jikTIE6UOGyHfAAh2CfdGPfCyBVA==\n-----END PUBLIC KEY-----\n"}},
				"persistence_directory": "/p/` + "PERSIST" + `"
			}`,
		},
		{
			name: "decision log service",
			h: Handler{PolicyDir: "d", DecisionLog: &DecisionLogConfig{
				Service: "https://logs.example.com/v1/logs", BearerToken: "{env.OPA_AUTHZ_TEST_TOKEN}",
				UploadMin: caddy.Duration(10 * time.Second), Headers: []string{"user-agent"}, MaskDecision: "/m",
			}},
			want: `{
				"services": {"decision_log": {"url": "https://logs.example.com", "credentials": {"bearer": {"token": "tok"}}}},
				"decision_logs": {"console": false, "service": "decision_log", "resource": "/v1/logs", "mask_decision": "/m",
					"reporting": {"min_delay_seconds": 10, "max_delay_seconds": 20},
					"request_context": {"http": {"headers": ["User-Agent"]}}}
			}`,
		},
		{
			name: "placeholders",
			h:    Handler{Bundle: &BundleConfig{URL: "{env.OPA_AUTHZ_TEST_URL}", PublicKey: "{env.OPA_AUTHZ_TEST_PUB}"}, DecisionLog: &DecisionLogConfig{Service: "{env.OPA_AUTHZ_TEST_URL}"}},
			want: `{
				"services": {"bundle": {"url": "https://b.example.com"}, "decision_log": {"url": "https://b.example.com"}},
				"bundles": {"paygate": {"service": "bundle", "resource": "/p.tar.gz", "signing": {"keyid": "paygate"}}},
				"keys": {"paygate": {"algorithm": "ES256", "key": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE9A3cclQLZACgrubOFRzBxGJuBmNp\najCIOO/KIaMXOl4TAf8FuK+s7pzwK/jikTIE6UOGyHfAAh2CfdGPfCyBVA==\n-----END PUBLIC KEY-----\n"}},
				"decision_logs": {"console": false, "service": "decision_log", "resource": "/p.tar.gz", "mask_decision": "/paygate/log/mask"}
			}`,
		},
		{
			name: "decision log service and console",
			h:    Handler{PolicyDir: "d", DecisionLog: &DecisionLogConfig{Service: "https://logs.example.com", Console: &on}},
			want: `{
				"services": {"decision_log": {"url": "https://logs.example.com"}},
				"decision_logs": {"console": false, "plugin": "paygate_console", "service": "decision_log", "mask_decision": "/paygate/log/mask"},
				"plugins": {"paygate_console": {}}
			}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := tt.h.opaConfig(caddy.NewReplacer())
			if err != nil {
				t.Fatal(err)
			}
			var got, want map[string]any
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatal(err)
			}
			// The persistence directory ends in a hash of the bundle URL.
			if dir, ok := got["persistence_directory"].(string); ok {
				if filepath.Dir(dir) != "/p" || len(filepath.Base(dir)) != 16 {
					t.Errorf("persistence_directory = %q, want /p/<16 hex digits>", dir)
				}
				want["persistence_directory"] = dir
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %s\nwant %s", raw, tt.want)
			}
		})
	}
}

func TestParseQuery(t *testing.T) {
	for _, tt := range []struct{ query, path string }{
		{"data.paygate.authz.decision", "paygate/authz/decision"},
		{`data.paygate["authz"].decision`, "paygate/authz/decision"},
		{"data.paygate.authz.decisions[_]", ""},
		{"data.x[input.k]", ""},
		{`{"allow": true}`, ""},
	} {
		q, err := parseQuery(tt.query)
		if err != nil {
			t.Fatalf("%s: %v", tt.query, err)
		}
		if q.path != tt.path {
			t.Errorf("%s: path %q, want %q", tt.query, q.path, tt.path)
		}
	}
}
