package securityheaders

import (
	"reflect"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		name, input string
		want        Handler
		wantErr     bool
	}{
		{name: "bare", input: `security_headers`, want: Handler{}},
		{name: "preset arg", input: `security_headers api`, want: Handler{Preset: "api"}},
		{name: "block", input: `security_headers {
			preset stripe
			set Referrer-Policy no-referrer
			omit Cross-Origin-Opener-Policy
			strip X-Runtime X-Debug
		}`, want: Handler{
			Preset: "stripe",
			Set:    map[string]string{"Referrer-Policy": "no-referrer", "Cross-Origin-Opener-Policy": ""},
			Remove: []string{"X-Runtime", "X-Debug"},
		}},
		{name: "cors", input: "security_headers {\ncors https://shop.example.com\ncors https://a.example.com https://b.example.com\n}",
			want: Handler{CORS: []string{"https://shop.example.com", "https://a.example.com", "https://b.example.com"}}},
		{name: "cors left empty", input: "security_headers {\ncors\n}", want: Handler{}},
		{name: "two args", input: `security_headers api stripe`, wantErr: true},
		{name: "preset without value", input: "security_headers {\npreset\n}", wantErr: true},
		{name: "set without value", input: "security_headers {\nset X-A\n}", wantErr: true},
		{name: "set with extra", input: "security_headers {\nset X-A 1 2\n}", wantErr: true},
		{name: "omit without field", input: "security_headers {\nomit\n}", wantErr: true},
		{name: "strip without field", input: "security_headers {\nstrip\n}", wantErr: true},
		{name: "unknown", input: "security_headers {\nframe deny\n}", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Handler
			err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got no error, want one (parsed %+v)", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("UnmarshalCaddyfile: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
