package payments

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	two := 2
	zero := 0
	tests := []struct {
		name, input string
		want        Handler
		wantErr     string
	}{
		{name: "bare", input: `payments`},
		{name: "events", input: `payments events`, want: Handler{Mode: "events"}},
		{name: "api with block", input: `payments api {
			stripe_key {env.STRIPE_SECRET_KEY}
			api_base http://127.0.0.1:12111
			catalog /etc/paygate/catalog.json
			timeout 2s
			max_network_retries 2
		}`, want: Handler{
			Mode: "api", StripeKey: "{env.STRIPE_SECRET_KEY}", APIBase: "http://127.0.0.1:12111",
			Catalog: "/etc/paygate/catalog.json", Timeout: caddy.Duration(2 * time.Second), MaxNetworkRetries: &two,
		}},
		{name: "no retries", input: "payments {\nmax_network_retries 0\n}", want: Handler{MaxNetworkRetries: &zero}},
		{name: "two arguments", input: `payments api events`, wantErr: "wrong argument count"},
		{name: "unknown subdirective", input: "payments {\nsecret_key x\n}", wantErr: `unknown subdirective "secret_key"`},
		{name: "stripe_key without value", input: "payments {\nstripe_key\n}", wantErr: "wrong argument count"},
		{name: "stripe_key with two values", input: "payments {\nstripe_key {env.A} {env.B}\n}", wantErr: "wrong argument count"},
		{name: "api_base without value", input: "payments {\napi_base\n}", wantErr: "wrong argument count"},
		{name: "catalog without value", input: "payments {\ncatalog\n}", wantErr: "wrong argument count"},
		{name: "bad timeout", input: "payments {\ntimeout soon\n}", wantErr: `timeout "soon"`},
		{name: "bad retries", input: "payments {\nmax_network_retries many\n}", wantErr: `max_network_retries "many"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(h, tt.want) {
				t.Errorf("got %+v, want %+v", h, tt.want)
			}
		})
	}
}
