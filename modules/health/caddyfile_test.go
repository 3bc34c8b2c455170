package health

import (
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		name, input string
		want        string
		wantErr     bool
	}{
		{name: "live", input: `paygate_health live`, want: "live"},
		{name: "ready", input: `paygate_health ready`, want: "ready"},
		{name: "bare", input: `paygate_health`, wantErr: true},
		{name: "two args", input: `paygate_health live ready`, wantErr: true},
		{name: "unknown check", input: `paygate_health startup`, wantErr: true},
		{name: "block", input: "paygate_health ready {\nstore\n}", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && h.Check != tt.want {
				t.Errorf("Check = %q, want %q", h.Check, tt.want)
			}
		})
	}
}
