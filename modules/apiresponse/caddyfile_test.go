package apiresponse

import (
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		name, input  string
		body, header int64
		wantErr      bool
	}{
		{name: "bare", input: `api_response`},
		{name: "limits", input: "api_response {\nmax_body 2MiB\nmax_header_bytes 64KB\n}", body: 2 << 20, header: 64000},
		{name: "argument", input: `api_response 1MB`, wantErr: true},
		{name: "no size", input: "api_response {\nmax_body\n}", wantErr: true},
		{name: "two sizes", input: "api_response {\nmax_body 1MB 2MB\n}", wantErr: true},
		{name: "bad size", input: "api_response {\nmax_body lots\n}", wantErr: true},
		{name: "zero", input: "api_response {\nmax_header_bytes 0\n}", wantErr: true},
		{name: "unknown", input: "api_response {\nstream\n}", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && (h.MaxBody != tt.body || h.MaxHeaderBytes != tt.header) {
				t.Errorf("limits = %d, %d; want %d, %d", h.MaxBody, h.MaxHeaderBytes, tt.body, tt.header)
			}
		})
	}
}
