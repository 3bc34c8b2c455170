package idempotency

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/store"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	const env = "seal_key {env.IDEM_SEAL_KEY}\n"
	tests := []struct {
		name, input string
		want        Handler
	}{
		{
			name:  "seal key only",
			input: "idempotency {\n" + env + "}",
			want:  Handler{SealKeys: []string{"{env.IDEM_SEAL_KEY}"}},
		},
		{
			name: "every option",
			input: `idempotency {
				seal_key {env.IDEM_SEAL_KEY_NEW} {file./run/secrets/idem_old}
				seal_key {env.IDEM_SEAL_KEY_OLDEST}
				route POST /v1/payment_intents
				route POST /v1/setup_intents required
				route POST /v1/payment_intents/{id}/confirm optional
				retention 48h
				lease 10s
				max_response 128KiB
			}`,
			want: Handler{
				SealKeys: []string{"{env.IDEM_SEAL_KEY_NEW}", "{file./run/secrets/idem_old}", "{env.IDEM_SEAL_KEY_OLDEST}"},
				Routes: []Route{
					{Method: "POST", Template: "/v1/payment_intents"},
					{Method: "POST", Template: "/v1/setup_intents", Key: KeyRequired},
					{Method: "POST", Template: "/v1/payment_intents/{id}/confirm", Key: KeyOptional},
				},
				Retention:   caddy.Duration(48 * time.Hour),
				Lease:       caddy.Duration(10 * time.Second),
				MaxResponse: 128 << 10,
			},
		},
		{
			name:  "shortest lease, largest response",
			input: "idempotency {\n" + env + "lease 1s\nmax_response 1MiB\n}",
			want:  Handler{SealKeys: []string{"{env.IDEM_SEAL_KEY}"}, Lease: caddy.Duration(time.Second), MaxResponse: 1 << 20},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Handler
			if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input)); err != nil {
				t.Fatalf("UnmarshalCaddyfile: %v", err)
			}
			if !reflect.DeepEqual(h, tt.want) {
				t.Errorf("got  %+v\nwant %+v", h, tt.want)
			}
		})
	}
}

func TestUnmarshalCaddyfileErrors(t *testing.T) {
	const env = "seal_key {env.IDEM_SEAL_KEY}\n"
	const literal = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA="
	tests := []struct {
		name, input, want string
	}{
		{"argument", "idempotency on {\n" + env + "}", "want no arguments"},
		{"no seal key", "idempotency", "at least one seal_key is required"},
		{"no seal key in block", "idempotency {\nlease 5s\n}", "at least one seal_key is required"},
		{"seal key without value", "idempotency {\nseal_key\n}", "seal_key: want at least 1 argument"},
		{"literal seal key", "idempotency {\nseal_key " + literal + "\n}", "seal key 1 must be one {env.NAME} or {file.PATH} placeholder"},
		{"literal second seal key", "idempotency {\nseal_key {env.A} " + literal + "\n}", "seal key 2 must be one"},
		{"seal key in a string", "idempotency {\nseal_key prefix{env.A}\n}", "must be one {env.NAME}"},
		{"other placeholder", "idempotency {\nseal_key {http.request.header.X-Key}\n}", "must be one {env.NAME}"},
		{"route without template", "idempotency {\n" + env + "route POST\n}", "route: want 2 to 3 arguments, got 1"},
		{"route with four words", "idempotency {\n" + env + "route POST /v1/payment_intents required now\n}", "route: want 2 to 3 arguments, got 4"},
		{"bad key word", "idempotency {\n" + env + "route POST /v1/payment_intents mandatory\n}", "key must be required or optional"},
		{"short lease", "idempotency {\n" + env + "lease 999ms\n}", `lease: "999ms" is not a duration of at least 1s`},
		{"lease not a duration", "idempotency {\n" + env + "lease long\n}", `lease: "long" is not a duration`},
		{"negative retention", "idempotency {\n" + env + "retention -1h\n}", `retention: "-1h" is not a duration of at least 0s`},
		{"zero max_response", "idempotency {\n" + env + "max_response 0\n}", "max_response: \"0\" is not a size from 1 B to 1.0 MiB"},
		{"max_response over 1MiB", "idempotency {\n" + env + "max_response 2MiB\n}", "is not a size from 1 B to 1.0 MiB"},
		{"unknown subdirective", "idempotency {\n" + env + "ttl 1h\n}", `unknown subdirective "ttl"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if err == nil {
				t.Fatalf("UnmarshalCaddyfile accepted it: %+v", h)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), literal) {
				t.Errorf("err = %q holds the seal key", err)
			}
		})
	}
}

// TestRoutesOfTheTable: a route the payment API's table does not have, or
// one that does not take a key (GET, DELETE), is refused when the stage is
// set up.
func TestRoutesOfTheTable(t *testing.T) {
	t.Setenv(sealEnv, newSealKey(t))
	for route, want := range map[string]string{
		"POST /v1/refunds":                      "is not an endpoint of the payment API's route table",
		"POST /v1/payment_methods":              "is not an endpoint of the payment API's route table",
		"post /v1/payment_intents":              "is not an endpoint of the payment API's route table",
		"POST /v1/payment_intents/pi_1/confirm": "is not an endpoint of the payment API's route table",
		"GET /v1/payment_intents/{id}":          "only POST and PATCH endpoints take an Idempotency-Key",
		"DELETE /v1/payment_methods/{id}":       "only POST and PATCH endpoints take an Idempotency-Key",
	} {
		t.Run(route, func(t *testing.T) {
			var h Handler
			input := "idempotency {\nseal_key {env." + sealEnv + "}\nroute " + route + "\n}"
			if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err != nil {
				t.Fatalf("UnmarshalCaddyfile: %v", err)
			}
			s := store.NewMemory(time.Now)
			defer s.Close()
			err := h.setUp(s, zap.NewNop(), caddy.NewReplacer())
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("set-up error = %v, want %q", err, want)
			}
		})
	}
}

// TestSetUpSealKeys: the seal keys' placeholders are resolved at set-up,
// and a bad value is refused without being shown.
func TestSetUpSealKeys(t *testing.T) {
	const bad = "c2hvcnQgYnV0IHNlY3JldCBrZXkgbWF0ZXJpYWw="
	tests := []struct {
		name  string
		value string
		want  string
	}{
		{"empty", "", "seal key 1 is not 32 bytes"},
		{"short", bad, "seal key 1 is not 32 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(sealEnv, tt.value)
			s := store.NewMemory(time.Now)
			defer s.Close()
			h := &Handler{SealKeys: []string{"{env." + sealEnv + "}"}}
			err := h.setUp(s, zap.NewNop(), caddy.NewReplacer())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("set-up error = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), bad) {
				t.Errorf("set-up error %q holds the key", err)
			}
		})
	}
	t.Run("file", func(t *testing.T) {
		path := t.TempDir() + "/seal_key"
		if err := os.WriteFile(path, []byte(newSealKey(t)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		s := store.NewMemory(time.Now)
		defer s.Close()
		h := &Handler{SealKeys: []string{"{file." + path + "}"}}
		if err := h.setUp(s, zap.NewNop(), caddy.NewReplacer()); err != nil {
			t.Fatalf("set-up: %v", err)
		}
		if h.Retention != caddy.Duration(defaultRetention) || h.Lease != caddy.Duration(defaultLease) || h.MaxResponse != defaultMaxResponse {
			t.Errorf("defaults: retention %v, lease %v, max_response %d", h.Retention, h.Lease, h.MaxResponse)
		}
	})
}
