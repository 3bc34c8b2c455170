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
		{name: "with block", input: `payments {
			stripe_key {env.STRIPE_SECRET_KEY}
			api_base http://127.0.0.1:12111
			catalog /etc/paygate/catalog.json
			timeout 2s
			max_network_retries 2
		}`, want: Handler{
			StripeKey: "{env.STRIPE_SECRET_KEY}", APIBase: "http://127.0.0.1:12111",
			Catalog: "/etc/paygate/catalog.json", Timeout: caddy.Duration(2 * time.Second), MaxNetworkRetries: &two,
		}},
		{name: "no retries", input: "payments {\nmax_network_retries 0\n}", want: Handler{MaxNetworkRetries: &zero}},
		{name: "an argument", input: `payments events`, wantErr: "payments: want no arguments, got 1"},
		{name: "unknown subdirective", input: "payments {\nsecret_key x\n}", wantErr: `unknown subdirective "secret_key"`},
		{name: "stripe_key without value", input: "payments {\nstripe_key\n}", wantErr: "stripe_key: want 1 argument, got 0"},
		{name: "stripe_key with two values", input: "payments {\nstripe_key {env.A} {env.B}\n}", wantErr: "stripe_key: want 1 argument, got 2"},
		{name: "api_base without value", input: "payments {\napi_base\n}", wantErr: "api_base: want 1 argument, got 0"},
		{name: "catalog without value", input: "payments {\ncatalog\n}", wantErr: "catalog: want 1 argument, got 0"},
		{name: "bad timeout", input: "payments {\ntimeout soon\n}", wantErr: `"soon" is not a duration`},
		{name: "negative timeout", input: "payments {\ntimeout -1s\n}", wantErr: `"-1s" is not a duration of at least 0s`},
		{name: "bad retries", input: "payments {\nmax_network_retries many\n}", wantErr: `"many" is not an integer`},
		{name: "negative retries", input: "payments {\nmax_network_retries -1\n}", wantErr: `"-1" is not an integer of at least 0`},
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

func TestUnmarshalEventsCaddyfile(t *testing.T) {
	for _, tt := range []struct {
		name, input, wantErr string
	}{
		{name: "bare", input: "payment_events"},
		{name: "an argument", input: "payment_events api", wantErr: "payment_events takes no arguments and no block"},
		{name: "a block", input: "payment_events {\nstripe_key {env.K}\n}", wantErr: "payment_events takes no arguments and no block"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var p EventProcessor
			err := p.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
