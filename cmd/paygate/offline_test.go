package main

import (
	"slices"
	"testing"
)

func TestOfflineValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    []string
		offline bool
	}{
		{"validate --offline", []string{"paygate", "validate", "--offline", "--config", "C"}, []string{"paygate", "validate", "--config", "C"}, true},
		{"flag last", []string{"paygate", "validate", "--config", "C", "--adapter", "caddyfile", "--offline"}, []string{"paygate", "validate", "--config", "C", "--adapter", "caddyfile"}, true},
		{"validate without it", []string{"paygate", "validate", "--config", "C"}, []string{"paygate", "validate", "--config", "C"}, false},
		// Anything but validate keeps the flag, which Caddy then refuses.
		{"run", []string{"paygate", "run", "--offline", "--config", "C"}, []string{"paygate", "run", "--offline", "--config", "C"}, false},
		{"adapt --validate", []string{"paygate", "adapt", "--validate", "--offline"}, []string{"paygate", "adapt", "--validate", "--offline"}, false},
		{"flag before the command", []string{"paygate", "--offline", "validate"}, []string{"paygate", "--offline", "validate"}, false},
		// Only the exact flag: another spelling reaches Caddy, which refuses it.
		{"with a value", []string{"paygate", "validate", "--offline=true"}, []string{"paygate", "validate", "--offline=true"}, false},
		{"no command", []string{"paygate"}, []string{"paygate"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := slices.Clone(tc.args)
			got, offline := offlineValidate(tc.args)
			if !slices.Equal(got, tc.want) || offline != tc.offline {
				t.Errorf("offlineValidate(%q) = %q, %v; want %q, %v", tc.args, got, offline, tc.want, tc.offline)
			}
			if !slices.Equal(tc.args, orig) {
				t.Errorf("the arguments were changed in place: %q", tc.args)
			}
		})
	}
}
