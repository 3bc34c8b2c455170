package stripewebhook

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	const secret = "secret {env.STRIPE_WEBHOOK_SECRET}\n"
	tests := []struct {
		name, input string
		want        Handler
		wantErr     string
		// notInErr must not appear in the error (a secret).
		notInErr string
	}{
		{name: "one secret", input: "stripe_webhook {\n" + secret + "}", want: Handler{Secrets: []string{"{env.STRIPE_WEBHOOK_SECRET}"}}},
		{name: "every option", input: `stripe_webhook {
			secret {env.STRIPE_WEBHOOK_SECRET} {file./run/secrets/whsec_previous}
			secret {env.STRIPE_WEBHOOK_SECRET_NEXT}
			tolerance 3m
			max_body 1MiB
			api_version strict
			events payment_intent.succeeded charge.dispute.created
			events customer.subscription.deleted
			mode live
			account acct_1Nv0FGQ9RKHgCVdK
			lease 2m
			timeout 30s
			retention 96h
		}`, want: Handler{
			Secrets:    []string{"{env.STRIPE_WEBHOOK_SECRET}", "{file./run/secrets/whsec_previous}", "{env.STRIPE_WEBHOOK_SECRET_NEXT}"},
			Tolerance:  caddy.Duration(3 * time.Minute),
			MaxBody:    1 << 20,
			APIVersion: APIVersionStrict,
			Events:     []string{"payment_intent.succeeded", "charge.dispute.created", "customer.subscription.deleted"},
			Mode:       ModeLive,
			Account:    "acct_1Nv0FGQ9RKHgCVdK",
			Lease:      caddy.Duration(2 * time.Minute),
			Timeout:    caddy.Duration(30 * time.Second),
			Retention:  caddy.Duration(96 * time.Hour),
		}},
		{name: "api_version accept, mode test, max_body in bytes", input: "stripe_webhook {\n" + secret + "api_version accept\nmode test\nmax_body 4096\n}",
			want: Handler{Secrets: []string{"{env.STRIPE_WEBHOOK_SECRET}"}, APIVersion: APIVersionAccept, Mode: ModeTest, MaxBody: 4096}},
		{name: "bare", input: "stripe_webhook", wantErr: "at least one secret is required"},
		{name: "empty block", input: "stripe_webhook {\n}", wantErr: "at least one secret is required"},
		{name: "an argument", input: "stripe_webhook {env.STRIPE_WEBHOOK_SECRET} {\n" + secret + "}", wantErr: "stripe_webhook: want no arguments, got 1"},
		{name: "unknown subdirective", input: "stripe_webhook {\n" + secret + "signing_secret {env.X}\n}", wantErr: `unknown subdirective "signing_secret"`},
		{name: "secret without value", input: "stripe_webhook {\nsecret\n}", wantErr: "secret: want at least 1 argument, got 0"},
		{name: "literal secret", input: "stripe_webhook {\nsecret whsec_0123456789abcdef0123\n}", wantErr: "secret 1 must be one {env.NAME} or {file.PATH} placeholder", notInErr: "whsec_0123456789abcdef0123"},
		{name: "literal secret after a placeholder", input: "stripe_webhook {\n" + secret + "secret {env.A} whsec_0123456789abcdef0123\n}", wantErr: "secret 3 must be one", notInErr: "whsec_0123456789abcdef0123"},
		{name: "placeholder of another kind", input: "stripe_webhook {\nsecret {http.request.header.X-Secret}\n}", wantErr: "secret 1 must be one {env.NAME} or {file.PATH} placeholder"},
		{name: "bad tolerance", input: "stripe_webhook {\n" + secret + "tolerance soon\n}", wantErr: `tolerance: "soon" is not a duration of at least 0s`},
		{name: "negative tolerance", input: "stripe_webhook {\n" + secret + "tolerance -1m\n}", wantErr: `tolerance: "-1m" is not a duration of at least 0s`},
		{name: "tolerance with two values", input: "stripe_webhook {\n" + secret + "tolerance 1m 2m\n}", wantErr: "tolerance: want 1 argument, got 2"},
		{name: "max_body zero", input: "stripe_webhook {\n" + secret + "max_body 0\n}", wantErr: `max_body: "0" is not a size from 1 B to 16 MiB`},
		{name: "max_body too large", input: "stripe_webhook {\n" + secret + "max_body 17MiB\n}", wantErr: `max_body: "17MiB" is not a size from 1 B to 16 MiB`},
		{name: "bad api_version", input: "stripe_webhook {\n" + secret + "api_version lenient\n}", wantErr: "api_version must be accept or strict"},
		{name: "api_version without value", input: "stripe_webhook {\n" + secret + "api_version\n}", wantErr: "api_version: want 1 argument, got 0"},
		{name: "events without value", input: "stripe_webhook {\n" + secret + "events\n}", wantErr: "events: want at least 1 argument, got 0"},
		{name: "wildcard event", input: "stripe_webhook {\n" + secret + "events payment_intent.*\n}", wantErr: `"payment_intent.*" is not an event type`},
		{name: "bad mode", input: "stripe_webhook {\n" + secret + "mode production\n}", wantErr: "mode must be test or live"},
		{name: "mode with two values", input: "stripe_webhook {\n" + secret + "mode test live\n}", wantErr: "mode: want 1 argument, got 2"},
		{name: "bad account", input: "stripe_webhook {\n" + secret + "account cus_123\n}", wantErr: "account must be a Stripe account ID (acct_...)"},
		{name: "bad lease", input: "stripe_webhook {\n" + secret + "lease forever\n}", wantErr: `lease: "forever" is not a duration`},
		{name: "bad timeout", input: "stripe_webhook {\n" + secret + "timeout -5s\n}", wantErr: `timeout: "-5s" is not a duration of at least 0s`},
		{name: "short retention", input: "stripe_webhook {\n" + secret + "retention 24h\n}", wantErr: "retention must be at least 72h"},
		{name: "retention without value", input: "stripe_webhook {\n" + secret + "retention\n}", wantErr: "retention: want 1 argument, got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if tt.notInErr != "" && strings.Contains(err.Error(), tt.notInErr) {
					t.Errorf("the error shows the secret: %v", err)
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
