package cfgargs

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestBetween(t *testing.T) {
	for _, tt := range []struct {
		args     string
		min, max int
		want     string // the arguments joined by '|', or "error"
	}{
		{"", 0, 0, ""},
		{"a", 0, 0, "error"},
		{"", 0, 1, ""},
		{"a", 0, 1, "a"},
		{"a b", 0, 1, "error"},
		{"", 1, 2, "error"},
		{"a b", 1, 2, "a|b"},
		{"a b c", 1, 2, "error"},
		{"a b", 2, 2, "a|b"},
		{"a", 2, 2, "error"},
	} {
		got, err := Between(dispenser(tt.args), tt.min, tt.max)
		s := strings.Join(got, "|")
		if err != nil {
			s = "error"
		}
		if s != tt.want {
			t.Errorf("Between(%q, %d, %d) = %q, %v; want %q", tt.args, tt.min, tt.max, s, err, tt.want)
		}
	}
}

func TestNone(t *testing.T) {
	for _, tt := range []struct{ input, wantErr string }{
		{"dir", ""},
		{"dir a", "wrong argument count"},
		{"dir {\nopt 1\n}", `dir takes no options, got "opt"`},
	} {
		d := caddyfile.NewTestDispenser(tt.input)
		d.Next()
		err := None(d)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("None(%q) = %v, want %q", tt.input, err, tt.wantErr)
		}
	}
}
