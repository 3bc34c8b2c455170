package paygateapp

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// The accepted forms are covered by the adapt goldens in testdata/adapt;
// these are the error paths.
func TestUnmarshalCaddyfileErrors(t *testing.T) {
	tests := map[string]string{
		"argument on paygate":     "paygate x {\n}",
		"unknown option":          "paygate {\n\tcache 1\n}",
		"store without backend":   "paygate {\n\tstore\n}",
		"unknown backend":         "paygate {\n\tstore etcd\n}",
		"memory with argument":    "paygate {\n\tstore memory big\n}",
		"memory with block":       "paygate {\n\tstore memory {\n\t\tsize 1\n\t}\n}",
		"redis two urls":          "paygate {\n\tstore redis a b\n}",
		"unknown redis option":    "paygate {\n\tstore redis {\n\t\treplicas 3\n\t}\n}",
		"url without value":       "paygate {\n\tstore redis {\n\t\turl\n\t}\n}",
		"sentinel without addr":   "paygate {\n\tstore redis {\n\t\tsentinel mymaster\n\t}\n}",
		"sentinel_auth one arg":   "paygate {\n\tstore redis {\n\t\tsentinel_auth user\n\t}\n}",
		"cluster without addr":    "paygate {\n\tstore redis {\n\t\tcluster\n\t}\n}",
		"db not a number":         "paygate {\n\tstore redis {\n\t\tdb one\n\t}\n}",
		"negative pool size":      "paygate {\n\tstore redis {\n\t\tpool_size -1\n\t}\n}",
		"bad timeout":             "paygate {\n\tstore redis {\n\t\ttimeout soon\n\t}\n}",
		"zero dial timeout":       "paygate {\n\tstore redis {\n\t\tdial_timeout 0s\n\t}\n}",
		"key_prefix two values":   "paygate {\n\tstore redis {\n\t\tkey_prefix a b\n\t}\n}",
		"tls with argument":       "paygate {\n\tstore redis {\n\t\ttls yes\n\t}\n}",
		"unknown tls option":      "paygate {\n\tstore redis {\n\t\ttls {\n\t\t\tverify no\n\t\t}\n\t}\n}",
		"tls ca_file no value":    "paygate {\n\tstore redis {\n\t\ttls {\n\t\t\tca_file\n\t\t}\n\t}\n}",
		"bad health_interval":     "paygate {\n\thealth_interval never\n}",
		"health_interval missing": "paygate {\n\thealth_interval\n}",
	}
	for name, input := range tests {
		t.Run(name, func(t *testing.T) {
			var a App
			if err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err == nil {
				t.Fatalf("got no error for:\n%s", input)
			}
		})
	}
}

func TestRedisConfigResolve(t *testing.T) {
	t.Setenv("PAYGATE_TEST_REDIS_PASSWORD", "s3cret")
	tests := []struct {
		name    string
		cfg     RedisConfig
		wantErr string
	}{
		{name: "url", cfg: RedisConfig{URL: "redis://127.0.0.1:6379/0"}},
		{name: "sentinel", cfg: RedisConfig{SentinelMaster: "m", SentinelAddrs: []string{"127.0.0.1:26379"}}},
		{name: "cluster", cfg: RedisConfig{ClusterAddrs: []string{"127.0.0.1:7000"}}},
		{name: "env password", cfg: RedisConfig{URL: "redis://127.0.0.1:6379", Password: "{env.PAYGATE_TEST_REDIS_PASSWORD}"}},
		{name: "nothing", cfg: RedisConfig{}, wantErr: "exactly one"},
		{name: "url and cluster", cfg: RedisConfig{URL: "redis://x", ClusterAddrs: []string{"a:1"}}, wantErr: "exactly one"},
		{name: "sentinel without addresses", cfg: RedisConfig{SentinelMaster: "m"}, wantErr: "sentinel address"},
		{name: "cluster with db", cfg: RedisConfig{ClusterAddrs: []string{"a:1"}, DB: 1}, wantErr: "database 0"},
		{name: "unset env password", cfg: RedisConfig{URL: "redis://x", Password: "{env.PAYGATE_TEST_UNSET}"}, wantErr: "PAYGATE_TEST_UNSET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.resolve(caddy.NewReplacer())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Timeout == 0 || got.DialTimeout == 0 || got.KeyPrefix != "paygate:" {
				t.Errorf("defaults not filled in: %+v", got)
			}
			if tt.cfg.Password != "" && got.Password != "s3cret" {
				t.Errorf("password placeholder not replaced: %q", got.Password)
			}
		})
	}
}
