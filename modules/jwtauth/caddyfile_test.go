package jwtauth

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		name, input string
		want        Provider
		wantErr     bool
	}{
		{name: "bare", input: `jwt_auth`, want: Provider{}},
		{name: "every option", input: `jwt_auth {
			issuer https://id.example.com
			audience paygate payments
			audience extra
			jwks https://id.example.com/a.json https://id.example.com/b.json
			key_file /etc/paygate/idp.pem
			key_file /etc/paygate/rsa.pem PS256
			algorithms RS256 PS256
			skew 1m
			typ at+jwt
			require jti scope
			max_token_size 4096
			cache_size 500
			cookie __Host-session
			trusted_origins https://app.example.com
			claim email
			claim https://example.com/roles roles
			identity_header X-User-Id sub
			identity_header X-User-Email email
			strip_credential
			realm payments
			jwks_min_refresh 1m
			jwks_max_refresh 12h
			jwks_max_stale 30m
			jwks_retry_interval 10s
			jwks_timeout 5s
		}`, want: Provider{
			Issuer:            "https://id.example.com",
			Audiences:         []string{"paygate", "payments", "extra"},
			JWKSURLs:          []string{"https://id.example.com/a.json", "https://id.example.com/b.json"},
			KeyFiles:          []KeyFile{{Path: "/etc/paygate/idp.pem"}, {Path: "/etc/paygate/rsa.pem", Algorithm: "PS256"}},
			Algorithms:        []string{"RS256", "PS256"},
			Skew:              caddy.Duration(60e9),
			Type:              "at+jwt",
			RequiredClaims:    []string{"jti", "scope"},
			MaxTokenSize:      4096,
			CacheSize:         500,
			Cookie:            "__Host-session",
			TrustedOrigins:    []string{"https://app.example.com"},
			Placeholders:      map[string]string{"email": "email", "roles": "https://example.com/roles"},
			IdentityHeaders:   map[string]string{"X-User-Id": "sub", "X-User-Email": "email"},
			StripCredential:   true,
			Realm:             "payments",
			JWKSMinRefresh:    caddy.Duration(60e9),
			JWKSMaxRefresh:    caddy.Duration(12 * 3600e9),
			JWKSMaxStale:      caddy.Duration(1800e9),
			JWKSRetryInterval: caddy.Duration(10e9),
			JWKSTimeout:       caddy.Duration(5e9),
		}},
		{name: "secret", input: "jwt_auth {\nsecret {env.JWT_SECRET} HS512\n}", want: Provider{Secret: "{env.JWT_SECRET}", SecretAlgorithm: "HS512"}},
		{name: "secret without algorithm", input: "jwt_auth {\nsecret {file./run/secret}\n}", want: Provider{Secret: "{file./run/secret}"}},
		{name: "cache off", input: "jwt_auth {\ncache_size off\n}", want: Provider{DisableCache: true}},
		{name: "cache 0", input: "jwt_auth {\ncache_size 0\n}", want: Provider{DisableCache: true}},

		{name: "argument", input: `jwt_auth https://id.example.com`, wantErr: true},
		{name: "unknown subdirective", input: "jwt_auth {\nquery_param token\n}", wantErr: true},
		{name: "issuer without value", input: "jwt_auth {\nissuer\n}", wantErr: true},
		{name: "issuer two values", input: "jwt_auth {\nissuer a b\n}", wantErr: true},
		{name: "typ without value", input: "jwt_auth {\ntyp\n}", wantErr: true},
		{name: "cookie without value", input: "jwt_auth {\ncookie\n}", wantErr: true},
		{name: "realm two values", input: "jwt_auth {\nrealm a b\n}", wantErr: true},
		{name: "audience without value", input: "jwt_auth {\naudience\n}", wantErr: true},
		{name: "jwks without value", input: "jwt_auth {\njwks\n}", wantErr: true},
		{name: "algorithms without value", input: "jwt_auth {\nalgorithms\n}", wantErr: true},
		{name: "require without value", input: "jwt_auth {\nrequire\n}", wantErr: true},
		{name: "trusted_origins without value", input: "jwt_auth {\ntrusted_origins\n}", wantErr: true},
		{name: "key_file without path", input: "jwt_auth {\nkey_file\n}", wantErr: true},
		{name: "key_file three values", input: "jwt_auth {\nkey_file a RS256 x\n}", wantErr: true},
		{name: "secret without value", input: "jwt_auth {\nsecret\n}", wantErr: true},
		{name: "secret three values", input: "jwt_auth {\nsecret s HS256 x\n}", wantErr: true},
		{name: "claim without name", input: "jwt_auth {\nclaim\n}", wantErr: true},
		{name: "claim three values", input: "jwt_auth {\nclaim a b c\n}", wantErr: true},
		{name: "claim that is no placeholder name", input: "jwt_auth {\nclaim https://example.com/roles\n}", wantErr: true},
		{name: "claim with a bad placeholder name", input: "jwt_auth {\nclaim email E-Mail\n}", wantErr: true},
		{name: "identity_header one value", input: "jwt_auth {\nidentity_header X-User-Id\n}", wantErr: true},
		{name: "identity_header three values", input: "jwt_auth {\nidentity_header X-User-Id sub x\n}", wantErr: true},
		{name: "strip_credential with a value", input: "jwt_auth {\nstrip_credential yes\n}", wantErr: true},
		{name: "max_token_size not a number", input: "jwt_auth {\nmax_token_size 8KB\n}", wantErr: true},
		{name: "max_token_size zero", input: "jwt_auth {\nmax_token_size 0\n}", wantErr: true},
		{name: "max_token_size without value", input: "jwt_auth {\nmax_token_size\n}", wantErr: true},
		{name: "cache_size negative", input: "jwt_auth {\ncache_size -1\n}", wantErr: true},
		{name: "cache_size not a number", input: "jwt_auth {\ncache_size many\n}", wantErr: true},
		{name: "cache_size two values", input: "jwt_auth {\ncache_size 1 2\n}", wantErr: true},
		{name: "skew not a duration", input: "jwt_auth {\nskew soon\n}", wantErr: true},
		{name: "skew negative", input: "jwt_auth {\nskew -1s\n}", wantErr: true},
		{name: "skew without value", input: "jwt_auth {\nskew\n}", wantErr: true},
		{name: "jwks_min_refresh not a duration", input: "jwt_auth {\njwks_min_refresh x\n}", wantErr: true},
		{name: "jwks_max_refresh not a duration", input: "jwt_auth {\njwks_max_refresh x\n}", wantErr: true},
		{name: "jwks_max_stale not a duration", input: "jwt_auth {\njwks_max_stale x\n}", wantErr: true},
		{name: "jwks_retry_interval not a duration", input: "jwt_auth {\njwks_retry_interval x\n}", wantErr: true},
		{name: "jwks_timeout two values", input: "jwt_auth {\njwks_timeout 1s 2s\n}", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Provider
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
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestParseCaddyfile checks that jwt_auth is Caddy's authentication handler
// with the jwt provider.
func TestParseCaddyfile(t *testing.T) {
	h := httpcaddyfile.Helper{Dispenser: caddyfile.NewTestDispenser("jwt_auth {\nissuer https://id.example.com\n}")}
	mh, err := parseCaddyfile(h)
	if err != nil {
		t.Fatal(err)
	}
	auth, ok := mh.(caddyauth.Authentication)
	if !ok {
		t.Fatalf("handler is %T, want caddyauth.Authentication", mh)
	}
	var p Provider
	if err := json.Unmarshal(auth.ProvidersRaw["jwt"], &p); err != nil || p.Issuer != "https://id.example.com" {
		t.Fatalf("providers = %s (%v)", auth.ProvidersRaw, err)
	}
	if _, err := parseCaddyfile(httpcaddyfile.Helper{Dispenser: caddyfile.NewTestDispenser("jwt_auth {\nbogus\n}")}); err == nil {
		t.Error("a bad block: got no error")
	}
}
