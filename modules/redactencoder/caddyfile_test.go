package redactencoder

import (
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/logging"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		name, input string
		want        string // the wrapped encoder's JSON; "" for the default
		wantErr     bool
	}{
		{name: "bare", input: `redact`},
		{name: "empty block", input: "redact {\n}"},
		{name: "wrap json", input: "redact {\nwrap json\n}", want: `{"format":"json"}`},
		{name: "wrap console with options", input: "redact {\nwrap console {\ntime_format iso8601\n}\n}", want: `{"format":"console","time_format":"iso8601"}`},
		{name: "argument", input: `redact json`, wantErr: true},
		{name: "wrap without encoder", input: "redact {\nwrap\n}", wantErr: true},
		{name: "wrap unknown encoder", input: "redact {\nwrap nosuch\n}", wantErr: true},
		{name: "wrap a module that is not an encoder", input: "redact {\nwrap filter.delete\n}", wantErr: true},
		{name: "wrapped encoder's bad option", input: "redact {\nwrap json {\nnosuch x\n}\n}", wantErr: true},
		{name: "unknown subdirective", input: "redact {\nfields a\n}", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Encoder
			err := e.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got no error (wrap %s)", e.WrappedRaw)
				}
				return
			}
			if err != nil {
				t.Fatalf("UnmarshalCaddyfile: %v", err)
			}
			if got := string(e.WrappedRaw); got != tt.want {
				t.Errorf("wrap = %s, want %s", got, tt.want)
			}
		})
	}
}
