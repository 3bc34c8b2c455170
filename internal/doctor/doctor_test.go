package doctor

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goodConfig is testdata/good.json decoded: a config every check passes.
func goodConfig(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "good.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// handlers returns every handler object named name in v.
func handlers(v any, name string) []map[string]any {
	var hs []map[string]any
	switch v := v.(type) {
	case map[string]any:
		if v["handler"] == name {
			hs = append(hs, v)
		}
		for _, e := range v {
			hs = append(hs, handlers(e, name)...)
		}
	case []any:
		for _, e := range v {
			hs = append(hs, handlers(e, name)...)
		}
	}
	return hs
}

// removeHandlers takes every handler named name out of v.
func removeHandlers(v any, name string) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = removeHandlers(e, name)
		}
	case []any:
		kept := v[:0]
		for _, e := range v {
			if m, ok := e.(map[string]any); ok && m["handler"] == name {
				continue
			}
			kept = append(kept, removeHandlers(e, name))
		}
		return kept
	}
	return v
}

// setAll sets key to val in every handler named name.
func setAll(doc map[string]any, name, key string, val any) {
	for _, h := range handlers(doc, name) {
		h[key] = val
	}
}

// at returns the object at a path of member names from doc.
func at(doc map[string]any, path ...string) map[string]any {
	m := doc
	for _, p := range path {
		m = m[p].(map[string]any)
	}
	return m
}

func jwt(doc map[string]any) map[string]any {
	return at(handlers(doc, "authentication")[0], "providers", "jwt")
}

func run(t *testing.T, doc map[string]any, opts Options) *Report {
	t.Helper()
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Check(raw, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func result(t *testing.T, rep *Report, id string) Result {
	t.Helper()
	for _, r := range rep.Checks {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no check %s", id)
	return Result{}
}

// TestGoodConfigPasses: every check passes on a config that has what the
// design demands, so that each bad config below differs in one thing.
func TestGoodConfigPasses(t *testing.T) {
	rep := run(t, goodConfig(t), Options{Replicas: 3})
	for _, r := range rep.Checks {
		if r.Status != Pass {
			t.Errorf("%s: %s, want pass: %s", r.ID, r.Status, strings.Join(r.Details, "; "))
		}
	}
	if !rep.OK || rep.Passed != len(checks) {
		t.Errorf("OK %v with %d passed, want true with %d", rep.OK, rep.Passed, len(checks))
	}
}

// TestBadConfigs: each config differs from the good one in one thing that
// one check must catch.
func TestBadConfigs(t *testing.T) {
	tests := []struct {
		name     string
		check    string
		want     Status
		replicas int
		mutate   func(doc map[string]any)
		// detail is part of the message the check must give.
		detail string
	}{
		{name: "no tls_enforce", check: "https_only", want: Fail, detail: "/v1/*: payments runs without tls_enforce",
			mutate: func(doc map[string]any) { removeHandlers(doc, "tls_enforce") }},
		{name: "redirects on", check: "https_only", want: Warn, detail: "redirects are on",
			mutate: func(doc map[string]any) { delete(at(doc, "apps", "http", "servers", "public"), "automatic_https") }},
		{name: "TLS 1.1", check: "tls_floor", want: Fail, detail: "below TLS 1.2",
			mutate: func(doc map[string]any) {
				at(doc, "apps", "http", "servers", "public")["tls_connection_policies"] = []any{map[string]any{"protocol_min": "tls1.1"}}
			}},
		{name: "CBC suite", check: "tls_floor", want: Fail, detail: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA is not",
			mutate: func(doc map[string]any) {
				at(doc, "apps", "http", "servers", "public")["tls_connection_policies"] = []any{map[string]any{"cipher_suites": []any{"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"}}}
			}},
		{name: "short HSTS", check: "hsts", want: Fail, detail: "max-age 300 is under a year",
			mutate: func(doc map[string]any) {
				setAll(doc, "security_headers", "set", map[string]any{"strict-transport-security": "max-age=300"})
			}},
		{name: "HSTS removed", check: "hsts", want: Fail, detail: "Strict-Transport-Security is removed",
			mutate: func(doc map[string]any) {
				setAll(doc, "security_headers", "set", map[string]any{"Strict-Transport-Security": ""})
			}},
		{name: "no security_headers", check: "hsts", want: Fail, detail: "reverse_proxy runs without security_headers before it",
			mutate: func(doc map[string]any) { removeHandlers(doc, "security_headers") }},
		{name: "CSP admits a CDN", check: "csp", want: Fail, detail: "https://cdn.example.com, which is not Stripe",
			mutate: func(doc map[string]any) {
				setAll(doc, "security_headers", "set", map[string]any{"Content-Security-Policy": "default-src 'self'; script-src 'self' https://js.stripe.com https://cdn.example.com; frame-ancestors 'none'"})
			}},
		{name: "CSP unsafe-inline", check: "csp", want: Fail, detail: "allows 'unsafe-inline'",
			mutate: func(doc map[string]any) {
				setAll(doc, "security_headers", "set", map[string]any{"Content-Security-Policy": "default-src 'self' 'unsafe-inline'; frame-ancestors 'none'"})
			}},
		{name: "unknown preset", check: "csp", want: Fail, detail: "unknown security_headers preset",
			mutate: func(doc map[string]any) { setAll(doc, "security_headers", "preset", "lax") }},
		{name: "page without Stripe.js", check: "csp", want: Warn, detail: "Stripe.js and Elements cannot load",
			mutate: func(doc map[string]any) { setAll(doc, "security_headers", "preset", "api") }},
		{name: "no jwt_auth", check: "jwt", want: Fail, detail: "without jwt_auth",
			mutate: func(doc map[string]any) { removeHandlers(doc, "authentication") }},
		{name: "no issuer", check: "jwt", want: Fail, detail: "no issuer",
			mutate: func(doc map[string]any) { delete(jwt(doc), "issuer") }},
		{name: "no audience", check: "jwt", want: Fail, detail: "no audience",
			mutate: func(doc map[string]any) { delete(jwt(doc), "audiences") }},
		{name: "alg none", check: "jwt", want: Fail, detail: "algorithm none",
			mutate: func(doc map[string]any) { jwt(doc)["algorithms"] = []any{"RS256", "none"} }},
		{name: "HMAC with RSA", check: "jwt", want: Fail, detail: "HMAC and asymmetric",
			mutate: func(doc map[string]any) { jwt(doc)["algorithms"] = []any{"HS256", "RS256"} }},
		{name: "JWKS over http", check: "jwt", want: Fail, detail: "is not https",
			mutate: func(doc map[string]any) { jwt(doc)["jwks_urls"] = []any{"http://id.example.com/jwks.json"} }},
		{name: "development JWT key", check: "jwt", want: Warn, detail: "the development key",
			mutate: func(doc map[string]any) {
				delete(jwt(doc), "jwks_urls")
				jwt(doc)["key_files"] = []any{map[string]any{"path": "testdata/jwt/dev-jwks.json"}}
			}},
		{name: "development bundle key", check: "signed_policies", want: Warn, detail: "the development key",
			mutate: func(doc map[string]any) {
				at(handlers(doc, "opa_authz")[0], "bundle")["public_key"] = "/etc/paygate/bundle-signing.pub"
			}},
		{name: "no typ", check: "jwt", want: Warn, detail: "no typ",
			mutate: func(doc map[string]any) { delete(jwt(doc), "typ") }},
		{name: "webhook secret inline", check: "webhook_secrets", want: Fail, detail: "secret 1 of stripe_webhook is written inline",
			mutate: func(doc map[string]any) {
				setAll(doc, "stripe_webhook", "secrets", []any{"whsec_0123456789abcdefABCDEF"})
			}},
		{name: "no webhook verification", check: "webhook_secrets", want: Fail, detail: "payment_events runs without stripe_webhook",
			mutate: func(doc map[string]any) { removeHandlers(doc, "stripe_webhook") }},
		{name: "no rate limits", check: "rate_limits", want: Fail, detail: "no rate limit by client IP",
			mutate: func(doc map[string]any) { removeHandlers(doc, "redis_rate_limit") }},
		{name: "user limit before authentication", check: "rate_limits", want: Fail, detail: "no rate limit by user",
			mutate: func(doc map[string]any) {
				for _, h := range handlers(doc, "redis_rate_limit") {
					for _, z := range h["zones"].([]any) {
						z.(map[string]any)["key"] = "{paygate.client_ip}"
					}
				}
			}},
		{name: "idempotency without its limits", check: "rate_limits", want: Fail, detail: "no rate limit by user",
			mutate: func(doc map[string]any) { delete(handlers(doc, "idempotency")[0], "limits") }},
		{name: "idempotency's limits by IP", check: "rate_limits", want: Fail, detail: "no rate limit by user",
			mutate: func(doc map[string]any) {
				for _, z := range at(handlers(doc, "idempotency")[0], "limits")["zones"].([]any) {
					z.(map[string]any)["key"] = "{paygate.client_ip}"
				}
			}},
		{name: "idempotency before authentication, with its limits", check: "rate_limits", want: Fail, detail: "no rate limit by user",
			mutate: func(doc map[string]any) {
				idem := handlers(doc, "idempotency")[0]
				removeHandlers(doc, "idempotency")
				h := handlers(doc, "card_data_guard")[0]
				for k := range h {
					delete(h, k)
				}
				maps.Copy(h, idem)
			}},
		{name: "no declines zone", check: "rate_limits", want: Warn, detail: "no zone counting declines",
			mutate: func(doc map[string]any) {
				for _, h := range handlers(doc, "redis_rate_limit") {
					for _, z := range h["zones"].([]any) {
						delete(z.(map[string]any), "statuses")
					}
				}
			}},
		{name: "no idempotency", check: "idempotency", want: Fail, detail: "without idempotency",
			mutate: func(doc map[string]any) { removeHandlers(doc, "idempotency") }},
		{name: "idempotency key optional", check: "idempotency", want: Fail, detail: "does not require a key on POST /v1/payment_intents",
			mutate: func(doc map[string]any) {
				setAll(doc, "idempotency", "routes", []any{map[string]any{"method": "POST", "template": "/v1/payment_intents", "key": "optional"}})
			}},
		{name: "memory store, 3 replicas", check: "shared_store", want: Fail, replicas: 3, detail: "3 replicas",
			mutate: func(doc map[string]any) { at(doc, "apps", "paygate")["store"] = map[string]any{"backend": "memory"} }},
		{name: "no store, 2 replicas", check: "shared_store", want: Fail, replicas: 2, detail: "store is memory",
			mutate: func(doc map[string]any) { delete(at(doc, "apps"), "paygate") }},
		{name: "live key inline", check: "stripe_live_keys", want: Fail, detail: "live Stripe key is written inline",
			mutate: func(doc map[string]any) { setAll(doc, "payments", "stripe_key", "sk_live_0123456789abcdefABCDEF") }},
		{name: "Stripe over http", check: "stripe_live_keys", want: Fail, detail: "is not https",
			mutate: func(doc map[string]any) { setAll(doc, "payments", "api_base", "http://stripe-proxy.internal") }},
		{name: "behind_tls_proxy, no trusted proxies", check: "stripe_live_keys", want: Fail, detail: "trusts no proxy",
			mutate: func(doc map[string]any) {
				srv := at(doc, "apps", "http", "servers", "public")
				srv["listen"] = []any{":80"}
				delete(srv, "tls_connection_policies")
				setAll(doc, "payments", "behind_tls_proxy", true)
			}},
		{name: "unsigned bundles", check: "signed_policies", want: Fail, detail: "unsigned bundles",
			mutate: func(doc map[string]any) {
				b := at(handlers(doc, "opa_authz")[0], "bundle")
				delete(b, "public_key")
				b["allow_unsigned"] = true
			}},
		{name: "no bundle key", check: "signed_policies", want: Fail, detail: "no public_key",
			mutate: func(doc map[string]any) { delete(at(handlers(doc, "opa_authz")[0], "bundle"), "public_key") }},
		{name: "policy directory", check: "signed_policies", want: Warn, detail: "from a directory",
			mutate: func(doc map[string]any) {
				h := handlers(doc, "opa_authz")[0]
				delete(h, "bundle")
				h["policy_dir"] = "policies/paygate"
			}},
		{name: "no opa_authz", check: "signed_policies", want: Fail, detail: "without opa_authz",
			mutate: func(doc map[string]any) { removeHandlers(doc, "opa_authz") }},
		{name: "admin on every interface", check: "admin_api", want: Fail, detail: "not on loopback",
			mutate: func(doc map[string]any) { doc["admin"] = map[string]any{"listen": ":2019"} }},
		{name: "admin on a public address", check: "admin_api", want: Fail, detail: "not on loopback",
			mutate: func(doc map[string]any) { doc["admin"] = map[string]any{"listen": "tcp/203.0.113.7:2019"} }},
		{name: "seal key inline", check: "inline_secrets", want: Fail, detail: "seal_keys[0] is written inline",
			mutate: func(doc map[string]any) {
				setAll(doc, "idempotency", "seal_keys", []any{"cGF5Z2F0ZS1jaGVjay1jb25maWctc2VhbC1rZXktMzI="})
			}},
		{name: "Redis password in the URL", check: "inline_secrets", want: Fail, detail: "apps.paygate.store.redis.url holds what looks like",
			mutate: func(doc map[string]any) {
				at(doc, "apps", "paygate", "store", "redis")["url"] = "rediss://paygate:s3cretpassw0rd@redis.internal:6379/0"
			}},
		{name: "Stripe key in another module", check: "inline_secrets", want: Fail, detail: "holds what looks like",
			mutate: func(doc map[string]any) {
				setAll(doc, "reverse_proxy", "headers", map[string]any{"request": map[string]any{"set": map[string]any{"X-Key": []any{"sk_test_0123456789abcdefABCDEF"}}}})
			}},
		{name: "audit log to stderr", check: "audit_log", want: Warn, detail: "to stderr",
			mutate: func(doc map[string]any) {
				logs := at(doc, "logging", "logs")
				delete(logs, "audit")
				delete(logs["default"].(map[string]any), "exclude")
			}},
		{name: "audit log to a file and stderr", check: "audit_log", want: Pass, detail: "to the file /var/log/paygate/audit.log",
			mutate: func(doc map[string]any) { delete(at(doc, "logging", "logs", "default"), "exclude") }},
		{name: "audit log dropped", check: "audit_log", want: Fail, detail: "no log keeps paygate.audit",
			mutate: func(doc map[string]any) { at(doc, "logging", "logs", "audit")["level"] = "ERROR" }},
		{name: "audit log without redaction", check: "log_redaction", want: Fail, detail: `log "audit" uses the json encoder`,
			mutate: func(doc map[string]any) {
				at(doc, "logging", "logs", "audit")["encoder"] = map[string]any{"format": "json"}
			}},
		{name: "no logging config", check: "log_redaction", want: Fail, detail: `log "default" uses the Caddy's default encoder`,
			mutate: func(doc map[string]any) { delete(doc, "logging") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := goodConfig(t)
			tt.mutate(doc)
			rep := run(t, doc, Options{Replicas: tt.replicas})
			r := result(t, rep, tt.check)
			if r.Status != tt.want {
				t.Errorf("%s: %s, want %s: %s", tt.check, r.Status, tt.want, strings.Join(r.Details, "; "))
			}
			if !strings.Contains(strings.Join(r.Details, "\n"), tt.detail) {
				t.Errorf("%s details %q do not say %q", tt.check, r.Details, tt.detail)
			}
			if got, want := rep.OK, tt.want != Fail; got != want {
				t.Errorf("report OK %v, want %v", got, want)
			}
		})
	}
}

// TestNoSecretInOutput: the report names where a secret is written
// inline, never the secret.
func TestNoSecretInOutput(t *testing.T) {
	secrets := []string{"sk_live_0123456789abcdefABCDEF", "whsec_0123456789abcdefABCDEF", "s3cretpassw0rd"}
	doc := goodConfig(t)
	setAll(doc, "payments", "stripe_key", secrets[0])
	setAll(doc, "stripe_webhook", "secrets", []any{secrets[1]})
	at(doc, "apps", "paygate", "store", "redis")["url"] = "rediss://paygate:" + secrets[2] + "@redis.internal:6379/0"
	doc["admin"] = map[string]any{"listen": "rediss://paygate:" + secrets[2] + "@203.0.113.7:2019"}
	caddyfile := []byte("pay.example.com {\n\tpayments {\n\t\tstripe_key " + secrets[0] + "\n\t}\n}\n")
	rep := run(t, doc, Options{Caddyfile: caddyfile, Filename: "Caddyfile"})
	var text, js bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if rep.OK {
		t.Error("a config with inline secrets is OK")
	}
	for _, s := range secrets {
		if strings.Contains(text.String(), s) || strings.Contains(js.String(), s) {
			t.Errorf("the report shows the secret %s:\n%s", s, text.String())
		}
	}
}

func TestCheckHSTS(t *testing.T) {
	for v, ok := range map[string]bool{
		"max-age=63072000; includeSubDomains": true,
		"max-age=31536000":                    true,
		`max-age="31536000"; preload`:         true,
		"max-age=86400":                       false,
		"includeSubDomains":                   false,
		"max-age=x":                           false,
		"":                                    false,
	} {
		if err := CheckHSTS(v); (err == nil) != ok {
			t.Errorf("CheckHSTS(%q) = %v, want ok %v", v, err, ok)
		}
	}
}

func TestCheckCSP(t *testing.T) {
	base := "default-src 'self'; frame-ancestors 'none'; "
	for _, tt := range []struct {
		csp  string
		want string // a problem CheckCSP must report, or "" for none
	}{
		{base + "script-src 'self' https://js.stripe.com https://*.js.stripe.com", ""},
		{base + "img-src 'self' data: https://*.stripe.com", ""},
		{base + "script-src 'nonce-abc' 'strict-dynamic'", ""},
		{base + "connect-src js.stripe.com", ""},
		{base + "report-uri https://reports.example.com/csp; upgrade-insecure-requests", ""},
		{base + "script-src *", "admits every source (*)"},
		{base + "script-src https:", "admits every https: source"},
		{base + "script-src data:", "admits data: URIs"},
		{base + "script-src 'unsafe-eval'", "allows 'unsafe-eval'"},
		{base + "script-src http://js.stripe.com", "over http"},
		{base + "script-src https://stripe.com.evil.example", "not Stripe"},
		{base + "frame-src https://*.com", "not Stripe"},
		{"frame-ancestors 'none'", "no default-src"},
		{"default-src 'self'", "no frame-ancestors"},
		{"", "removed"},
	} {
		got := strings.Join(CheckCSP(tt.csp), "; ")
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("CheckCSP(%q) = %q, want %q", tt.csp, got, tt.want)
		}
	}
}

// TestCaddyfileSecrets: secrets in a Caddyfile's text, before the adapter
// replaces {$NAME} (the JSON then holds the value, or nothing when the
// variable is unset here).
func TestCaddyfileSecrets(t *testing.T) {
	for _, tt := range []struct {
		text string
		want string // part of the one finding, or "" for none
	}{
		{"payments {\n\tstripe_key {env.STRIPE_SECRET_KEY}\n}", ""},
		{"# stripe_key sk_test_0123456789abcdefABCDEF in a comment\npayments", ""},
		{"jwt_auth {\n\tissuer {$PAYGATE_ISSUER}\n}", ""},
		{"payments {\n\tstripe_key {$STRIPE_SECRET_KEY}\n}", "Caddyfile:2: stripe_key {$STRIPE_SECRET_KEY} is replaced by the secret itself when the Caddyfile is adapted; use {env.STRIPE_SECRET_KEY}"},
		{"stripe_webhook {\n\tsecret {env.A} {$NEXT:x}\n}", "Caddyfile:2: secret {$NEXT:x}"},
		{"store redis {\n\tsentinel_auth u {$REDIS_SENTINEL_PASSWORD}\n}", "Caddyfile:2: sentinel_auth"},
		{"store redis {\n\tsentinel_auth {$REDIS_SENTINEL_USERNAME:default} {env.REDIS_SENTINEL_PASSWORD}\n}", ""},
		{"payments {\n\tstripe_key sk_test_0123456789abcdefABCDEF\n}", "Caddyfile:2: a value that looks like a key"},
	} {
		fs := scanCaddyfile([]byte(tt.text), "Caddyfile")
		switch {
		case tt.want == "" && len(fs) != 0:
			t.Errorf("%q: %v, want nothing", tt.text, fs)
		case tt.want != "" && (len(fs) != 1 || fs[0].status != Fail || !strings.Contains(fs[0].msg, tt.want)):
			t.Errorf("%q: %v, want one failure saying %q", tt.text, fs, tt.want)
		}
	}
}

func TestLogReceives(t *testing.T) {
	for _, tt := range []struct {
		l    logConfig
		want bool
	}{
		{logConfig{}, true},
		{logConfig{Include: []string{"paygate.audit"}}, true},
		{logConfig{Include: []string{"paygate"}}, true},
		{logConfig{Include: []string{"paygate.aud"}}, false},
		{logConfig{Include: []string{"http.log.access"}}, false},
		{logConfig{Exclude: []string{"paygate.audit"}}, false},
		{logConfig{Exclude: []string{"paygate"}}, false},
		{logConfig{Exclude: []string{"http.log.access.log0"}}, true},
		{logConfig{Include: []string{"paygate.audit"}, Exclude: []string{"paygate"}}, true},
		{logConfig{Include: []string{"paygate"}, Exclude: []string{"paygate.audit"}}, false},
		{logConfig{Exclude: []string{"*"}}, false},
	} {
		if got := tt.l.receives("paygate.audit"); got != tt.want {
			t.Errorf("include %v exclude %v: receives %v, want %v", tt.l.Include, tt.l.Exclude, got, tt.want)
		}
	}
}

// TestJSONOutput: the JSON report says what the checklist says.
func TestJSONOutput(t *testing.T) {
	doc := goodConfig(t)
	// One failure: idempotency without a seal key (removing the stage
	// would take the per-user limits it holds away too).
	setAll(doc, "idempotency", "seal_keys", []any{})
	rep := run(t, doc, Options{})
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got struct {
		OK     bool `json:"ok"`
		Failed int  `json:"failed"`
		Checks []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.OK || got.Failed != 1 || len(got.Checks) != len(checks) {
		t.Fatalf("ok %v, failed %d, %d checks; want false, 1, %d", got.OK, got.Failed, len(got.Checks), len(checks))
	}
	for _, c := range got.Checks {
		if want := map[bool]string{true: "fail", false: "pass"}[c.ID == "idempotency"]; c.Status != want {
			t.Errorf("%s: %s, want %s", c.ID, c.Status, want)
		}
	}
}

func TestServesTLS(t *testing.T) {
	hostRoute := []route{{Match: []map[string]json.RawMessage{{"host": json.RawMessage(`["pay.example.com"]`)}}}}
	for _, tt := range []struct {
		name string
		srv  server
		want bool
	}{
		{"connection policies", server{Listen: []string{":8080"}, TLSPolicies: []tlsPolicy{{}}}, true},
		{"HTTPS port", server{Listen: []string{":443"}}, true},
		{"a host on another port", server{Listen: []string{":8443"}, Routes: hostRoute}, true},
		{"an http:// site", server{Listen: []string{":8081"}, Routes: hostRoute, AutoHTTPS: &autoHTTPS{Skip: []string{"pay.example.com"}}}, false},
		{"HTTP port", server{Listen: []string{":80"}, Routes: hostRoute}, false},
		{"automatic HTTPS off", server{Listen: []string{":8443"}, Routes: hostRoute, AutoHTTPS: &autoHTTPS{Disabled: true}}, false},
		{"no hosts", server{Listen: []string{":7777"}}, false},
	} {
		if got := servesTLS(&tt.srv, 0, 0); got != tt.want {
			t.Errorf("%s: servesTLS %v, want %v", tt.name, got, tt.want)
		}
	}
}
