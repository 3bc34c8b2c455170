package ratelimit

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		name, input string
		want        Handler
	}{
		{"one zone", `redis_rate_limit {
			zone ip {
				key {paygate.client_ip}
				rate 300 1m
				burst 60
			}
		}`, Handler{Zones: []Zone{{Name: "ip", Key: "{paygate.client_ip}", Rate: 300, Period: caddy.Duration(time.Minute), Burst: 60}}}},
		{"every option", `redis_rate_limit {
			ipv6_prefix 48
			zone create_velocity {
				key "{paygate.user} {paygate.route}"
				rate 10 1h
				burst 10
				match POST /v1/payment_intents
				match POST /v1/payment_intents/{id}/confirm
				on_store_failure deny
				replicas 3
				shadow
			}
			zone cards {
				key {paygate.client_ip}
				statuses 402 401
				statuses 404
				distinct {paygate.card_fingerprint}
				rate 5 24h
				burst 5
				on_store_failure local
			}
		}`, Handler{IPv6Prefix: 48, Zones: []Zone{
			{Name: "create_velocity", Key: "{paygate.user} {paygate.route}", Rate: 10, Period: caddy.Duration(time.Hour), Burst: 10,
				Match:          []Endpoint{{"POST", "/v1/payment_intents"}, {"POST", "/v1/payment_intents/{id}/confirm"}},
				OnStoreFailure: FailDeny, Replicas: 3, Shadow: true},
			{Name: "cards", Key: "{paygate.client_ip}", Statuses: []int{402, 401, 404}, Distinct: "{paygate.card_fingerprint}",
				Rate: 5, Period: caddy.Duration(24 * time.Hour), Burst: 5, OnStoreFailure: FailLocal},
		}}},
		// Validate, not the parser, refuses a zone without a key or rate.
		{"zone without a block", `redis_rate_limit {
			zone ip
		}`, Handler{Zones: []Zone{{Name: "ip"}}}},
		{"no zone", `redis_rate_limit`, Handler{}},
		{"later option wins", `redis_rate_limit {
			zone ip {
				key a
				key b
				rate 1 1s
				rate 2 1m
			}
		}`, Handler{Zones: []Zone{{Name: "ip", Key: "b", Rate: 2, Period: caddy.Duration(time.Minute)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Handler
			if err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input)); err != nil {
				t.Fatalf("UnmarshalCaddyfile: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestUnmarshalCaddyfileErrors(t *testing.T) {
	zone := func(line string) string {
		return "redis_rate_limit {\nzone ip {\n" + line + "\n}\n}"
	}
	tests := []struct{ name, input, want string }{
		{"argument", "redis_rate_limit ip", "redis_rate_limit: want no arguments, got 1"},
		{"unknown option", "redis_rate_limit {\nrate 1 1s\n}", `unknown subdirective "rate"`},
		{"ipv6_prefix without value", "redis_rate_limit {\nipv6_prefix\n}", "ipv6_prefix: want 1 argument, got 0"},
		{"ipv6_prefix not a number", "redis_rate_limit {\nipv6_prefix /64\n}", `ipv6_prefix: "/64" is not an integer`},
		{"ipv6_prefix negative", "redis_rate_limit {\nipv6_prefix -1\n}", `ipv6_prefix: "-1" is not an integer of at least 1`},
		{"ipv6_prefix zero", "redis_rate_limit {\nipv6_prefix 0\n}", `ipv6_prefix: "0" is not an integer of at least 1`},
		{"zone without name", "redis_rate_limit {\nzone {\nkey a\n}\n}", "zone: want 1 argument, got 0"},
		{"zone with two names", "redis_rate_limit {\nzone a b {\nkey a\n}\n}", "zone: want 1 argument, got 2"},
		{"unknown zone option", zone("limit 5"), `zone ip: unknown subdirective "limit"`},
		{"key without value", zone("key"), "key: want 1 argument, got 0"},
		{"key with two values", zone("key a b"), "key: want 1 argument, got 2"},
		{"rate without period", zone("rate 10"), "rate: want 2 arguments, got 1"},
		{"rate with three values", zone("rate 10 1m 5"), "rate: want 2 arguments, got 3"},
		{"rate not a number", zone("rate ten 1m"), "rate: want <count> <period>"},
		{"rate zero", zone("rate 0 1m"), "rate: want <count> <period>"},
		{"rate negative", zone("rate -1 1m"), "rate: want <count> <period>"},
		{"period not a duration", zone("rate 10 minute"), "rate: want <count> <period>"},
		{"period zero", zone("rate 10 0s"), "rate: want <count> <period>"},
		{"period negative", zone("rate 10 -1m"), "rate: want <count> <period>"},
		{"burst zero", zone("burst 0"), `burst: "0" is not an integer of at least 1`},
		{"burst not a number", zone("burst many"), `burst: "many" is not an integer`},
		{"burst without value", zone("burst"), "burst: want 1 argument, got 0"},
		{"match one value", zone("match POST"), "match: want 2 arguments, got 1"},
		{"match three values", zone("match POST /v1/payment_intents /v1/setup_intents"), "match: want 2 arguments, got 3"},
		{"statuses without value", zone("statuses"), "statuses: want at least 1 argument, got 0"},
		{"status not a number", zone("statuses 402 4xx"), `statuses: "4xx" is not a status code`},
		{"distinct without value", zone("distinct"), "distinct: want 1 argument, got 0"},
		{"on_store_failure without value", zone("on_store_failure"), "on_store_failure: want 1 argument, got 0"},
		{"on_store_failure two values", zone("on_store_failure deny allow"), "on_store_failure: want 1 argument, got 2"},
		{"replicas zero", zone("replicas 0"), `replicas: "0" is not an integer of at least 1`},
		{"shadow argument", zone("shadow on"), "shadow: want no arguments, got 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("UnmarshalCaddyfile: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
