package tlsenforce

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
		{name: "bare", input: `tls_enforce`},
		{name: "arg", input: `tls_enforce 1.3`, want: "1.3"},
		{name: "block", input: "tls_enforce {\nmin_version 1.3\n}", want: "1.3"},
		{name: "two args", input: `tls_enforce 1.2 1.3`, wantErr: true},
		{name: "min_version without value", input: "tls_enforce {\nmin_version\n}", wantErr: true},
		{name: "min_version two values", input: "tls_enforce {\nmin_version 1.2 1.3\n}", wantErr: true},
		{name: "unknown", input: "tls_enforce {\nredirect\n}", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && h.MinVersion != tt.want {
				t.Errorf("MinVersion = %q, want %q", h.MinVersion, tt.want)
			}
		})
	}
}
