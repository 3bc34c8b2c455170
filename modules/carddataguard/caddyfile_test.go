package carddataguard

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
		{name: "bare", input: `card_data_guard`},
		{name: "empty block", input: "card_data_guard {\n}"},
		{name: "max_body SI", input: "card_data_guard {\nmax_body 64KB\n}", want: Handler{MaxBody: 64000}},
		{name: "max_body IEC", input: "card_data_guard {\nmax_body 1MiB\n}", want: Handler{MaxBody: 1 << 20}},
		{name: "max_body bytes", input: "card_data_guard {\nmax_body 4096\n}", want: Handler{MaxBody: 4096}},
		{name: "skip_header", input: "card_data_guard {\nskip_header X-Session-Token X-Csrf\nskip_header X-Other\n}",
			want: Handler{SkipHeaders: []string{"X-Session-Token", "X-Csrf", "X-Other"}}},
		{name: "argument", input: `card_data_guard 64KB`, wantErr: true},
		{name: "max_body without size", input: "card_data_guard {\nmax_body\n}", wantErr: true},
		{name: "max_body two sizes", input: "card_data_guard {\nmax_body 1KB 2KB\n}", wantErr: true},
		{name: "max_body not a size", input: "card_data_guard {\nmax_body lots\n}", wantErr: true},
		{name: "max_body zero", input: "card_data_guard {\nmax_body 0\n}", wantErr: true},
		{name: "max_body too large", input: "card_data_guard {\nmax_body 2GiB\n}", wantErr: true},
		{name: "skip_header without name", input: "card_data_guard {\nskip_header\n}", wantErr: true},
		{name: "unknown subdirective", input: "card_data_guard {\nscan_cookies\n}", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Handler
			err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got no error (parsed %+v)", got)
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
