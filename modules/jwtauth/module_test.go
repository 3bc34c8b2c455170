package jwtauth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/jwtverify"
	"github.com/paygate/paygate/internal/testenv"
)

const (
	testIssuer   = "https://id.example.test"
	testAudience = "paygate"
	testSite     = "https://pay.example.test"
)

// signer is the test identity provider's key, and keyFile a JWK set holding
// its public half.
var signer = sync.OnceValues(func() (jwk.Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	k, err := jwk.FromRaw(priv)
	if err != nil {
		return nil, err
	}
	return k, k.Set(jwk.KeyIDKey, "test-1")
})

func signingKey(t testing.TB) jwk.Key {
	t.Helper()
	k, err := signer()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keyFile writes the signer's public key as a JWK set and returns its path.
func keyFile(t testing.TB) string {
	t.Helper()
	pub, err := signingKey(t).PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{"keys": []any{pub}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// mint returns a token for sub from the test issuer, valid for an hour,
// with claims added to those (or replacing them).
func mint(t testing.TB, sub string, claims map[string]any) string {
	t.Helper()
	all := map[string]any{"sub": sub, "iss": testIssuer, "aud": testAudience, "exp": time.Now().Add(time.Hour).Unix()}
	maps.Copy(all, claims)
	return testenv.MintJWT(t, testenv.JWT{Alg: "EdDSA", Key: signingKey(t), Header: map[string]any{"typ": "at+jwt"}, Claims: all})
}

// logs observes a provider's log lines and audit events.
type logs struct {
	log, audit *observer.ObservedLogs
}

// provision provisions p (with the test key file unless it has keys) and
// swaps its loggers for observers.
func provision(t testing.TB, p *Provider) logs {
	t.Helper()
	if len(p.KeyFiles) == 0 && len(p.JWKSURLs) == 0 && p.Secret == "" {
		p.KeyFiles = []KeyFile{{Path: keyFile(t)}}
	}
	if p.Issuer == "" {
		p.Issuer = testIssuer
	}
	if p.Audiences == nil {
		p.Audiences = []string{testAudience}
	}
	logCore, logObs := observer.New(zap.DebugLevel)
	auditCore, auditObs := observer.New(zap.DebugLevel)
	p.logger, p.audit = zap.New(logCore), zap.New(auditCore)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := p.Provision(ctx); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	t.Cleanup(func() { _ = p.Cleanup() })
	if err := p.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return logs{log: logObs, audit: auditObs}
}

// newRequest returns a request to the site prepared as Caddy would.
func newRequest(method, target string, header http.Header, body string) (*httptest.ResponseRecorder, *http.Request) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range header {
		r.Header[k] = v
	}
	return w, caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, &caddyhttp.Server{})
}

func TestAuthenticate(t *testing.T) {
	good := mint(t, "user_1", map[string]any{"email": "u1@example.com"})
	other := mint(t, "user_2", nil)
	expired := mint(t, "user_1", map[string]any{"exp": time.Now().Add(-time.Hour).Unix()})
	badHeader := mint(t, "user_1", map[string]any{"email": "a@example.com\r\nX-Admin: 1"})
	bearer := func(tok string) []string { return []string{"Bearer " + tok} }
	cookie := func(toks ...string) []string {
		var parts []string
		for _, tok := range toks {
			parts = append(parts, "__Host-session="+tok)
		}
		return []string{"theme=dark; " + strings.Join(parts, "; ")}
	}
	tests := []struct {
		name       string
		method     string
		target     string
		header     http.Header
		body       string
		wantUser   string
		wantSource string
		wantReason string
	}{
		{name: "bearer", header: http.Header{"Authorization": bearer(good)}, wantUser: "user_1", wantSource: sourceHeader},
		{name: "bearer scheme in lower case", header: http.Header{"Authorization": {"bearer " + good}}, wantUser: "user_1", wantSource: sourceHeader},
		{name: "cookie", header: http.Header{"Cookie": cookie(good)}, wantUser: "user_1", wantSource: sourceCookie},
		{name: "header and cookie with the same token", header: http.Header{"Authorization": bearer(good), "Cookie": cookie(good)}, wantUser: "user_1", wantSource: sourceHeader},
		{name: "cookie, same-origin POST", method: http.MethodPost, header: http.Header{"Cookie": cookie(good), "Origin": {testSite}}, wantUser: "user_1", wantSource: sourceCookie},
		{name: "cookie, POST from a trusted origin", method: http.MethodPost, header: http.Header{"Cookie": cookie(good), "Origin": {"https://app.example.test"}}, wantUser: "user_1", wantSource: sourceCookie},
		{name: "cookie, POST without Origin but same-origin fetch", method: http.MethodDelete, header: http.Header{"Cookie": cookie(good), "Sec-Fetch-Site": {"same-origin"}}, wantUser: "user_1", wantSource: sourceCookie},
		{name: "bearer, cross-site POST", method: http.MethodPost, header: http.Header{"Authorization": bearer(good), "Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}, wantUser: "user_1", wantSource: sourceHeader},

		{name: "nothing", wantReason: reasonMissing},
		{name: "token in the query string", target: "/v1/payment_intents?access_token=" + good, wantReason: reasonMissing},
		{name: "token in a form field", method: http.MethodPost, header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, body: "access_token=" + good, wantReason: reasonMissing},
		{name: "token in another cookie", header: http.Header{"Cookie": {"session=" + good}}, wantReason: reasonMissing},
		{name: "basic credentials", header: http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, wantReason: reasonMalformed},
		{name: "bearer without a token", header: http.Header{"Authorization": {"Bearer"}}, wantReason: reasonMalformed},
		{name: "bearer with two spaces", header: http.Header{"Authorization": {"Bearer  " + good}}, wantReason: reasonMalformed},
		{name: "two bearer tokens in one header", header: http.Header{"Authorization": {"Bearer " + good + ", Bearer " + other}}, wantReason: reasonMalformed},
		{name: "two Authorization headers", header: http.Header{"Authorization": {"Bearer " + good, "Bearer " + good}}, wantReason: reasonMalformed},
		{name: "header and cookie with different tokens", header: http.Header{"Authorization": bearer(good), "Cookie": cookie(other)}, wantReason: reasonConflict},
		{name: "two cookies with different tokens", header: http.Header{"Cookie": cookie(good, other)}, wantReason: reasonConflict},
		{name: "cookie with a bad value", header: http.Header{"Cookie": {"__Host-session=a,b"}}, wantReason: reasonMalformed},
		{name: "cookie, cross-site POST", method: http.MethodPost, header: http.Header{"Cookie": cookie(good), "Origin": {"https://evil.example"}}, wantReason: reasonCrossSite},
		{name: "cookie, POST from a sibling subdomain", method: http.MethodPost, header: http.Header{"Cookie": cookie(good), "Origin": {"https://evil.example.test"}, "Sec-Fetch-Site": {"same-site"}}, wantReason: reasonCrossSite},
		{name: "cookie, POST with Origin null", method: http.MethodPost, header: http.Header{"Cookie": cookie(good), "Origin": {"null"}, "Sec-Fetch-Site": {"same-origin"}}, wantReason: reasonCrossSite},
		{name: "cookie, POST from the site over http", method: http.MethodPost, header: http.Header{"Cookie": cookie(good), "Origin": {"http://pay.example.test"}}, wantReason: reasonCrossSite},
		{name: "cookie, PUT with cross-site fetch metadata", method: http.MethodPut, header: http.Header{"Cookie": cookie(good), "Sec-Fetch-Site": {"cross-site"}}, wantReason: reasonCrossSite},
		{name: "cookie, PATCH with neither header", method: http.MethodPatch, header: http.Header{"Cookie": cookie(good)}, wantReason: reasonCrossSite},
		{name: "expired token", header: http.Header{"Authorization": bearer(expired)}, wantReason: string(jwtverify.ReasonExpired)},
		{name: "tampered token", header: http.Header{"Authorization": bearer(good[:len(good)-4] + "AAAA")}, wantReason: string(jwtverify.ReasonSignatureInvalid)},
		{name: "claim that cannot be a header", header: http.Header{"Authorization": bearer(badHeader)}, wantReason: reasonIdentity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Provider{
				Cookie:          "__Host-session",
				TrustedOrigins:  []string{"https://app.example.test"},
				Placeholders:    map[string]string{"email": "email"},
				IdentityHeaders: map[string]string{"X-User-Id": "sub", "X-User-Email": "email"},
			}
			l := provision(t, p)
			method, target := tt.method, tt.target
			if method == "" {
				method = http.MethodGet
			}
			if target == "" {
				target = "/v1/payment_intents"
			}
			w, r := newRequest(method, testSite+target, tt.header, tt.body)
			r.Header["X-User-Id"] = []string{"admin"}
			r.Header["X_User_Id"] = []string{"admin"}
			r.Header["X-USER-EMAIL"] = []string{"admin@example.com"}
			r.Header["Connection"] = []string{"x_user_id, keep-alive"}

			reason := tt.wantReason
			if reason == "" {
				reason = reasonMissing
			}
			failuresBefore := testutil.ToFloat64(authFailures.WithLabelValues(reason))
			user, ok, err := p.Authenticate(w, r)
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if tt.wantReason == "" {
				if !ok || user.ID != tt.wantUser {
					t.Fatalf("authenticated = %v as %q; want %q", ok, user.ID, tt.wantUser)
				}
				if got := r.Header.Values("X-User-Id"); len(got) != 1 || got[0] != tt.wantUser {
					t.Errorf("X-User-Id = %q, want [%q]", got, tt.wantUser)
				}
				if _, forged := r.Header["X_User_Id"]; forged {
					t.Error("X_User_Id from the client reached the upstream")
				}
				if _, forged := r.Header["X-USER-EMAIL"]; forged {
					t.Error("X-USER-EMAIL from the client reached the upstream")
				}
				if got := r.Header["Connection"]; len(got) != 1 || got[0] != "keep-alive" {
					t.Errorf("Connection = %q, want the identity header unlisted", got)
				}
				if got := r.Header.Get("X-User-Email"); got != "u1@example.com" {
					t.Errorf("X-User-Email = %q", got)
				}
				if user.Metadata["email"] != "u1@example.com" {
					t.Errorf("metadata = %v", user.Metadata)
				}
				if w.Header().Get("WWW-Authenticate") != "" {
					t.Error("challenge set on success")
				}
				return
			}
			if ok || user.ID != "" {
				t.Fatalf("authenticated as %q; want refused (%s)", user.ID, tt.wantReason)
			}
			wantChallenge := `Bearer realm="paygate", error="invalid_token"`
			if tt.wantReason == reasonMissing {
				wantChallenge = `Bearer realm="paygate"`
			}
			if got := w.Header().Get("WWW-Authenticate"); got != wantChallenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, wantChallenge)
			}
			if got := testutil.ToFloat64(authFailures.WithLabelValues(tt.wantReason)) - failuresBefore; got != 1 {
				t.Errorf("paygate_auth_failures_total{reason=%q} grew by %v, want 1", tt.wantReason, got)
			}
			events := l.audit.FilterField(zap.String("action", "token_rejected")).FilterField(zap.String("reason", tt.wantReason)).All()
			if len(events) != 1 {
				t.Errorf("audit events for %s: %d, want 1", tt.wantReason, len(events))
			}
			lines := l.log.FilterMessage("token rejected").FilterField(zap.String("reason", tt.wantReason)).All()
			if len(lines) != 1 {
				t.Errorf("log lines for %s: %d, want 1", tt.wantReason, len(lines))
			}
			if w.Code != http.StatusOK || w.Body.Len() != 0 {
				t.Errorf("the provider wrote a response itself (%d, %q)", w.Code, w.Body)
			}
			checkNoToken(t, l, good, other, expired, badHeader)
		})
	}
}

// checkNoToken fails when any log line or audit event holds one of toks or
// its signature.
func checkNoToken(t *testing.T, l logs, toks ...string) {
	t.Helper()
	for _, obs := range []*observer.ObservedLogs{l.log, l.audit} {
		for _, e := range obs.All() {
			b, err := json.Marshal(e.ContextMap())
			if err != nil {
				t.Fatal(err)
			}
			for _, tok := range toks {
				sig := tok[strings.LastIndexByte(tok, '.')+1:]
				if strings.Contains(string(b), tok) || strings.Contains(string(b), sig) {
					t.Fatalf("log line %q holds a token: %s", e.Message, b)
				}
			}
		}
	}
}

func TestStripCredential(t *testing.T) {
	tok := mint(t, "user_1", nil)
	for _, strip := range []bool{false, true} {
		p := &Provider{Cookie: "__Host-session", StripCredential: strip}
		provision(t, p)
		_, r := newRequest(http.MethodGet, testSite+"/v1/x", http.Header{"Cookie": {"a=1; __Host-session=" + tok + "; b=2"}}, "")
		if _, ok, err := p.Authenticate(httptest.NewRecorder(), r); !ok || err != nil {
			t.Fatalf("strip %v: not authenticated (%v)", strip, err)
		}
		if got, want := r.Header.Get("Cookie"), "a=1; b=2"; strip && got != want {
			t.Errorf("Cookie = %q, want %q", got, want)
		} else if !strip && !strings.Contains(got, tok) {
			t.Errorf("Cookie = %q, want the token kept", got)
		}

		_, r = newRequest(http.MethodGet, testSite+"/v1/x", http.Header{"Authorization": {"Bearer " + tok}}, "")
		if _, ok, err := p.Authenticate(httptest.NewRecorder(), r); !ok || err != nil {
			t.Fatalf("strip %v: not authenticated (%v)", strip, err)
		}
		if got := r.Header.Get("Authorization"); strip == (got != "") {
			t.Errorf("strip %v: Authorization = %q", strip, got)
		}
	}
}

// TestKeysUnavailable shows the fail-closed path: a JWKS that never loaded
// refuses every token and reports a technical error, answered as a 503 with
// Retry-After and without an invalid_token challenge (the token may be
// good). Its URL comes from the environment.
func TestKeysUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("PAYGATE_TEST_IDP", srv.URL)
	p := &Provider{JWKSURLs: []string{"{env.PAYGATE_TEST_IDP}/jwks.json"}}
	l := provision(t, p)
	w, r := newRequest(http.MethodGet, testSite+"/v1/x", http.Header{"Authorization": {"Bearer " + mint(t, "user_1", nil)}}, "")
	_, ok, err := p.Authenticate(w, r)
	if ok || jwtverify.ReasonOf(err) != jwtverify.ReasonKeysUnavailable {
		t.Fatalf("authenticated = %v, err = %v; want refused with %s", ok, err, jwtverify.ReasonKeysUnavailable)
	}
	if got := w.Header().Get("WWW-Authenticate"); got != "" {
		t.Errorf("WWW-Authenticate = %q, want none: the token was not found invalid", got)
	}
	if e := apierror.ResolveRequest(r, errors.New("not authenticated"), http.StatusUnauthorized); e != apierror.AuthUnavailable {
		t.Errorf("answer = %d %s, want 503 %s", e.Status, e.Code, apierror.AuthUnavailable.Code)
	}
	if n := l.log.FilterMessage("token rejected").FilterField(zap.String("reason", "keys_unavailable")).Len(); n != 1 {
		t.Errorf("%d log lines for keys_unavailable, want 1", n)
	}
}

// TestThroughAuthenticationHandler runs the provider inside Caddy's
// authentication handler, as jwt_auth configures it.
func TestThroughAuthenticationHandler(t *testing.T) {
	raw, err := json.Marshal(Provider{Issuer: testIssuer, Audiences: []string{testAudience}, KeyFiles: []KeyFile{{Path: keyFile(t)}}, IdentityHeaders: map[string]string{"X-User-Id": "sub"}})
	if err != nil {
		t.Fatal(err)
	}
	auth := &caddyauth.Authentication{ProvidersRaw: caddy.ModuleMap{"jwt": raw}}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := auth.Provision(ctx); err != nil {
		t.Fatal(err)
	}

	var reached *http.Request
	next := caddyhttp.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) error {
		reached = r
		return nil
	})
	w, r := newRequest(http.MethodGet, testSite+"/v1/x", http.Header{"Authorization": {"Bearer " + mint(t, "user_9", nil)}, "X-User-Id": {"admin"}}, "")
	if err := auth.ServeHTTP(w, r, next); err != nil || reached == nil {
		t.Fatalf("valid token: err = %v, reached upstream = %v", err, reached != nil)
	}
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if id, _ := repl.GetString("http.auth.user.id"); id != "user_9" || reached.Header.Get("X-User-Id") != "user_9" {
		t.Errorf("{http.auth.user.id} = %q, X-User-Id = %q; want user_9", id, reached.Header.Get("X-User-Id"))
	}

	reached = nil
	w, r = newRequest(http.MethodGet, testSite+"/v1/x", http.Header{"Authorization": {"Bearer x.y.z"}}, "")
	err = auth.ServeHTTP(w, r, next)
	var he caddyhttp.HandlerError
	if !errors.As(err, &he) || he.StatusCode != http.StatusUnauthorized || reached != nil {
		t.Fatalf("bad token: err = %v, reached upstream = %v; want a 401 error", err, reached != nil)
	}
	if got := apierror.Resolve(err, he.StatusCode); got.Status != http.StatusUnauthorized || strings.Contains(got.Message, "malformed") {
		t.Errorf("rendered error = %+v", got)
	}
	if got := w.Header().Get("WWW-Authenticate"); got != `Bearer realm="paygate", error="invalid_token"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
}

func TestProvisionRefuses(t *testing.T) {
	short := "at-most-thirty-one-bytes-long.."
	long := strings.Repeat("k", 64)
	t.Setenv("PAYGATE_TEST_SECRET", long)
	tests := []struct {
		name    string
		p       Provider
		wantErr string
	}{
		{name: "no keys", p: Provider{}, wantErr: "no keys"},
		{name: "secret and JWKS", p: Provider{Secret: long, JWKSURLs: []string{"https://id.example.test/jwks.json"}}, wantErr: "cannot be combined"},
		{name: "secret and key file", p: Provider{Secret: long, KeyFiles: []KeyFile{{Path: "KEYFILE"}}}, wantErr: "cannot be combined"},
		{name: "short secret", p: Provider{Secret: short}, wantErr: "at least 32 bytes"},
		{name: "secret placeholder unset", p: Provider{Secret: "{env.PAYGATE_TEST_UNSET}"}, wantErr: "secret is empty"},
		{name: "secret with asymmetric algorithms", p: Provider{Secret: "{env.PAYGATE_TEST_SECRET}", Algorithms: []string{"RS256"}}, wantErr: "a key for HS256 is configured"},
		{name: "secret with HS384 allowed only", p: Provider{Secret: long, Algorithms: []string{"HS384"}}, wantErr: "only HS384 are allowed"},
		{name: "HMAC algorithms with a key file", p: Provider{Algorithms: []string{"HS256"}, KeyFiles: []KeyFile{{Path: "KEYFILE"}}}, wantErr: "not allowed"},
		{name: "HMAC algorithms with a JWKS", p: Provider{Algorithms: []string{"HS256"}, JWKSURLs: []string{"https://id.example.test/jwks.json"}}, wantErr: "HMAC"},
		{name: "HMAC and asymmetric algorithms", p: Provider{Algorithms: []string{"HS256", "RS256"}, JWKSURLs: []string{"https://id.example.test/jwks.json"}}, wantErr: "together"},
		{name: "none allowed", p: Provider{Algorithms: []string{"RS256", "none"}, KeyFiles: []KeyFile{{Path: "KEYFILE"}}}, wantErr: "never accepted"},
		{name: "unknown algorithm", p: Provider{Algorithms: []string{"RS1"}, KeyFiles: []KeyFile{{Path: "KEYFILE"}}}, wantErr: "unsupported"},
		{name: "key file missing", p: Provider{KeyFiles: []KeyFile{{Path: "/nonexistent/key.pem"}}}, wantErr: "no such file"},
		{name: "key file for a disallowed algorithm", p: Provider{Algorithms: []string{"RS256"}, KeyFiles: []KeyFile{{Path: "KEYFILE"}}}, wantErr: "EdDSA is not allowed"},
		{name: "JWKS over http to a remote host", p: Provider{JWKSURLs: []string{"http://id.example.test/jwks.json"}}, wantErr: "must be https"},
		{name: "JWKS URL placeholder unset", p: Provider{JWKSURLs: []string{"{env.PAYGATE_TEST_UNSET}"}}, wantErr: "JWKS URL"},
		{name: "JWKS refresh floor above ceiling", p: Provider{JWKSURLs: []string{"https://id.example.test/jwks.json"}, JWKSMinRefresh: caddy.Duration(2 * time.Hour), JWKSMaxRefresh: caddy.Duration(time.Hour)}, wantErr: "above the maximum"},
		{name: "bad trusted origin", p: Provider{Cookie: "__Host-s", TrustedOrigins: []string{"app.example.test"}, KeyFiles: []KeyFile{{Path: "KEYFILE"}}}, wantErr: "trusted origin"},
		{name: "skew above 5m", p: Provider{Skew: caddy.Duration(6 * time.Minute), KeyFiles: []KeyFile{{Path: "KEYFILE"}}}, wantErr: "skew"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			p.Issuer, p.Audiences = testIssuer, []string{testAudience}
			for i := range p.KeyFiles {
				if p.KeyFiles[i].Path == "KEYFILE" {
					p.KeyFiles[i].Path = keyFile(t)
				}
			}
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			if err := p.Provision(ctx); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	p := Provider{Issuer: testIssuer, Audiences: []string{testAudience}, Secret: "{env.PAYGATE_TEST_SECRET}", SecretAlgorithm: "HS512"}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := p.Provision(ctx); err != nil {
		t.Fatalf("a 64-byte HS512 secret from the environment: %v", err)
	}
}

func TestValidate(t *testing.T) {
	valid := func() Provider {
		return Provider{Issuer: testIssuer, Audiences: []string{testAudience}, JWKSURLs: []string{"https://id.example.test/jwks.json"}, Realm: "paygate"}
	}
	tests := []struct {
		name string
		edit func(*Provider)
	}{
		{name: "no issuer", edit: func(p *Provider) { p.Issuer = "" }},
		{name: "no audience", edit: func(p *Provider) { p.Audiences = nil }},
		{name: "skew above 5m", edit: func(p *Provider) { p.Skew = caddy.Duration(5*time.Minute + 1) }},
		{name: "negative skew", edit: func(p *Provider) { p.Skew = -1 }},
		{name: "token size above 64KiB", edit: func(p *Provider) { p.MaxTokenSize = 64<<10 + 1 }},
		{name: "negative token size", edit: func(p *Provider) { p.MaxTokenSize = -1 }},
		{name: "negative cache", edit: func(p *Provider) { p.CacheSize = -1 }},
		{name: "cookie without __Host-", edit: func(p *Provider) { p.Cookie = "session" }},
		{name: "cookie name not a token", edit: func(p *Provider) { p.Cookie = "__Host-a b" }},
		{name: "trusted origins without cookie", edit: func(p *Provider) { p.TrustedOrigins = []string{"https://app.example.test"} }},
		{name: "realm with a quote", edit: func(p *Provider) { p.Realm = `pay"gate` }},
		{name: "realm with a newline", edit: func(p *Provider) { p.Realm = "pay\ngate" }},
		{name: "placeholder id", edit: func(p *Provider) { p.Placeholders = map[string]string{"id": "email"} }},
		{name: "placeholder not snake_case", edit: func(p *Provider) { p.Placeholders = map[string]string{"E-Mail": "email"} }},
		{name: "placeholder without claim", edit: func(p *Provider) { p.Placeholders = map[string]string{"email": ""} }},
		{name: "identity header name invalid", edit: func(p *Provider) { p.IdentityHeaders = map[string]string{"X User": "sub"} }},
		{name: "identity header without claim", edit: func(p *Provider) { p.IdentityHeaders = map[string]string{"X-User-Id": ""} }},
		{name: "identity header spelled twice", edit: func(p *Provider) { p.IdentityHeaders = map[string]string{"X-User-Id": "sub", "x_user_id": "email"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := valid()
			tt.edit(&p)
			if err := p.Validate(); err == nil {
				t.Fatal("got no error")
			}
		})
	}
	p := valid()
	p.Cookie, p.TrustedOrigins = "__Host-session", []string{"https://app.example.test"}
	p.Placeholders, p.IdentityHeaders = map[string]string{"email": "email"}, map[string]string{"X-User-Id": "sub"}
	if err := p.Validate(); err != nil {
		t.Fatalf("valid provider: %v", err)
	}
}

// TestPlaceholdersInIssuerAndAudience: issuer and audience come from the
// environment in production ({env.PAYGATE_ISSUER}); the resolved values are
// the accepted ones, and an unset variable fails the start, never silently
// accepting the literal placeholder.
func TestPlaceholdersInIssuerAndAudience(t *testing.T) {
	t.Setenv("PAYGATE_TEST_ISSUER", testIssuer)
	t.Setenv("PAYGATE_TEST_AUDIENCE", testAudience)
	p := &Provider{Issuer: "{env.PAYGATE_TEST_ISSUER}", Audiences: []string{"{env.PAYGATE_TEST_AUDIENCE}"}}
	provision(t, p)
	w, r := newRequest(http.MethodGet, testSite+"/v1/x", http.Header{"Authorization": {"Bearer " + mint(t, "user_1", nil)}}, "")
	if _, ok, err := p.Authenticate(w, r); !ok || err != nil {
		t.Fatalf("a token of the resolved issuer and audience: authenticated %v, %v", ok, err)
	}

	for name, unset := range map[string]*Provider{
		"issuer":   {Issuer: "{env.PAYGATE_TEST_UNSET}", Audiences: []string{testAudience}},
		"audience": {Issuer: testIssuer, Audiences: []string{"{env.PAYGATE_TEST_UNSET}"}},
	} {
		unset.KeyFiles = []KeyFile{{Path: keyFile(t)}}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		err := unset.Provision(ctx)
		cancel()
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s from an unset variable: Provision error %v, want one naming %s", name, err, name)
		}
	}
}
