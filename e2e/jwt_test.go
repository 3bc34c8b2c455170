package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/paygate/paygate/internal/testenv"
)

// jwtSite puts jwt_auth in the API route, with two key sources: the
// development JWK set (what `paygate token` signs for) and a JWKS URL served
// by the test.
const jwtSite = `
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	route /v1/* {
		security_headers api
		tls_enforce
		jwt_auth {
			issuer https://id.paygate.localhost
			audience paygate
			key_file {{.Data.keyFile}}
			jwks {{.Data.jwksURL}}
			typ at+jwt
			cookie __Host-session
			claim email
			identity_header X-User-Id sub
			identity_header X-User-Email email
			strip_credential
		}
		reverse_proxy {{.Upstream}}
	}
	handle_errors {
		paygate_error
	}
}
`

// The issuer, audience and typ the development tokens carry (the defaults
// of `paygate token`).
const (
	devIssuer   = "https://id.paygate.localhost"
	devAudience = "paygate"
)

// jwtTestKey is an ES256 key and a JWKS of it alone, under its kid.
type jwtTestKey struct {
	private *ecdsa.PrivateKey
	jwks    []byte
}

func newJWTTestKey(t *testing.T, kid string) jwtTestKey {
	t.Helper()
	private, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	public, err := jwk.FromRaw(private.Public())
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: jwa.ES256, jwk.KeyUsageKey: "sig"} {
		if err := public.Set(name, v); err != nil {
			t.Fatal(err)
		}
	}
	jwks, err := json.Marshal(map[string]any{"keys": []jwk.Key{public}})
	if err != nil {
		t.Fatal(err)
	}
	return jwtTestKey{private: private, jwks: jwks}
}

// mint signs an ES256 token for user_jwks from the development issuer,
// naming the key kid.
func (k jwtTestKey) mint(t *testing.T, kid string) string {
	t.Helper()
	return testenv.MintJWT(t, testenv.JWT{Alg: "ES256", Key: k.private,
		Header: map[string]any{"kid": kid, "typ": "at+jwt"}, Claims: testenv.DevClaims("user_jwks")})
}

// paygateToken runs `paygate token` with the development key: the test of
// the command through the binary. Other tests mint in process with
// testenv.DevToken.
func paygateToken(t *testing.T, args ...string) string {
	t.Helper()
	key, err := filepath.Abs(filepath.Join("..", "testdata", "jwt", "dev-private.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testenv.Binary(t), append([]string{"token", "--key", key}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("paygate token %q: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

// startJWTSite starts paygate on jwtSite, with its JWKS URL served by idp
// and extra, when not empty, as one more line of jwt_auth.
func startJWTSite(t *testing.T, idp http.Handler, extra string) (*testenv.Paygate, *testenv.Upstream) {
	t.Helper()
	jwks := httptest.NewServer(idp)
	t.Cleanup(jwks.Close)
	devJWKS, err := filepath.Abs(filepath.Join("..", "testdata", "jwt", "dev-jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	site := jwtSite
	if extra != "" {
		site = strings.Replace(site, "strip_credential", "strip_credential\n\t\t\t"+extra, 1)
	}
	up := testenv.StartUpstream(t, nil)
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream: up,
		Site:     site,
		Data:     map[string]any{"keyFile": devJWKS, "jwksURL": jwks.URL + "/.well-known/jwks.json"},
	})
	return pg, up
}

func TestJWTAuthThroughTheBinary(t *testing.T) {
	key := newJWTTestKey(t, "e2e-1")
	idp := new(switchableJWKS)
	idp.serve(key.jwks)
	pg, up := startJWTSite(t, idp, "")
	c := pg.Client()
	api := pg.HTTPSURL + "/v1/payment_intents"
	origin := pg.HTTPSURL

	devTok := paygateToken(t, "--sub", "user_1", "--claim", "email=u1@example.com")
	jwksTok := key.mint(t, "e2e-1")
	var tokens []string // every token sent, for the log scan
	tokens = append(tokens, devTok, jwksTok)

	t.Run("accepted", func(t *testing.T) {
		tests := []struct {
			name, method string
			header       http.Header
			wantUser     string
		}{
			{name: "paygate token, bearer", method: "GET", header: http.Header{"Authorization": {"Bearer " + devTok}}, wantUser: "user_1"},
			{name: "JWKS key, bearer", method: "POST", header: http.Header{"Authorization": {"Bearer " + jwksTok}}, wantUser: "user_jwks"},
			{name: "cookie, GET", method: "GET", header: http.Header{"Cookie": {"__Host-session=" + devTok}}, wantUser: "user_1"},
			{name: "cookie, same-origin POST", method: "POST", header: http.Header{"Cookie": {"__Host-session=" + devTok}, "Origin": {origin}}, wantUser: "user_1"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := tt.header.Clone()
				// Forged identity in every spelling an upstream might read.
				h["X-User-Id"] = []string{"admin"}
				h["X_User_Id"] = []string{"admin"}
				h["X-USER-EMAIL"] = []string{"admin@example.com"}
				before := up.Count()
				resp, body := send(t, c, tt.method, api, "{}", h)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status = %d, want 200 (body %s)", resp.StatusCode, body)
				}
				checkHeaders(t, resp, apiHeaders)
				reqs := up.Requests()
				if len(reqs) != before+1 {
					t.Fatalf("upstream got %d requests, want 1", len(reqs)-before)
				}
				got := reqs[len(reqs)-1].Header
				if v := got.Values("X-User-Id"); len(v) != 1 || v[0] != tt.wantUser {
					t.Errorf("upstream X-User-Id = %q, want [%q]", v, tt.wantUser)
				}
				for name := range got {
					if strings.EqualFold(strings.ReplaceAll(name, "_", "-"), "X-User-Id") && name != "X-User-Id" {
						t.Errorf("forged %s reached the upstream", name)
					}
				}
				if v := got.Values("X-User-Email"); tt.wantUser == "user_1" && (len(v) != 1 || v[0] != "u1@example.com") {
					t.Errorf("upstream X-User-Email = %q", v)
				} else if tt.wantUser != "user_1" && len(v) != 0 {
					t.Errorf("upstream X-User-Email = %q, want it removed (no email claim)", v)
				}
				if a := got.Get("Authorization"); a != "" || strings.Contains(got.Get("Cookie"), "__Host-session") {
					t.Errorf("the credential reached the upstream (strip_credential): Authorization %q, Cookie %q", a, got.Get("Cookie"))
				}
			})
		}
	})

	expired := testenv.DevToken(t, "user_1", map[string]any{"exp": time.Now().Add(-2 * time.Minute).Unix()})
	otherAud := testenv.DevToken(t, "user_1", map[string]any{"aud": "billing"})
	otherIss := testenv.DevToken(t, "user_1", map[string]any{"iss": "https://id.evil.example"})
	idToken := testenv.MintJWT(t, testenv.JWT{Alg: "EdDSA", Key: testenv.DevKey(t), Header: map[string]any{"typ": "JWT"}, Claims: testenv.DevClaims("user_1")})
	unknownKid := key.mint(t, "rotated-away")
	tampered := testenv.ReplaceSegment(t, devTok, 1, `{"sub":"admin","iss":"https://id.paygate.localhost","aud":"paygate","exp":4102444800}`)
	algNone := testenv.MintJWT(t, testenv.JWT{Alg: "none", Header: map[string]any{"typ": "at+jwt"}, Claims: testenv.DevClaims("user_1")})
	algNoneSigned := testenv.ReplaceSegment(t, devTok, 0, `{"alg":"NONE","typ":"at+jwt"}`)
	publicPEM, err := os.ReadFile(filepath.Join("..", "testdata", "jwt", "dev-public.pem"))
	if err != nil {
		t.Fatal(err)
	}
	hmacWithPublicKey := testenv.MintJWT(t, testenv.JWT{Alg: "HS256", Key: publicPEM, Header: map[string]any{"typ": "at+jwt"}, Claims: testenv.DevClaims("user_1")})
	// Signed as it is: a second "sub" that a last-member-wins parser would
	// take, and a second "kid" in the header.
	claims, err := json.Marshal(testenv.DevClaims("user_1"))
	if err != nil {
		t.Fatal(err)
	}
	kid := testenv.DevKey(t).KeyID()
	dupSub := testenv.SignJWT(t, "EdDSA", testenv.DevKey(t), fmt.Sprintf(`{"alg":"EdDSA","typ":"at+jwt","kid":%q}`, kid),
		strings.Replace(string(claims), "{", `{"sub":"admin",`, 1))
	dupKid := testenv.SignJWT(t, "EdDSA", testenv.DevKey(t), fmt.Sprintf(`{"alg":"EdDSA","typ":"at+jwt","kid":%q,"kid":%q}`, kid, kid), string(claims))
	// White space around sub: HTTP trims the identity header the upstream
	// reads, so " user_1" would be user_1 there and another user here.
	spacedSub := testenv.DevToken(t, " user_1", nil)
	subSpaced := testenv.DevToken(t, "user_1\t", nil)
	tokens = append(tokens, expired, otherAud, otherIss, idToken, unknownKid, tampered, algNoneSigned, hmacWithPublicKey, dupSub, dupKid, spacedSub, subSpaced)

	t.Run("refused", func(t *testing.T) {
		tests := []struct {
			name, method, path string
			header             http.Header
			wantError          bool // the challenge names error="invalid_token"
		}{
			{name: "no credential", header: nil},
			{name: "malformed", header: http.Header{"Authorization": {"Bearer not-a-jwt"}}, wantError: true},
			{name: "basic credentials", header: http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, wantError: true},
			{name: "expired", header: http.Header{"Authorization": {"Bearer " + expired}}, wantError: true},
			{name: "other audience", header: http.Header{"Authorization": {"Bearer " + otherAud}}, wantError: true},
			{name: "other issuer", header: http.Header{"Authorization": {"Bearer " + otherIss}}, wantError: true},
			{name: "typ JWT", header: http.Header{"Authorization": {"Bearer " + idToken}}, wantError: true},
			{name: "unknown kid", header: http.Header{"Authorization": {"Bearer " + unknownKid}}, wantError: true},
			{name: "payload changed", header: http.Header{"Authorization": {"Bearer " + tampered}}, wantError: true},
			{name: "alg none", header: http.Header{"Authorization": {"Bearer " + algNone}}, wantError: true},
			{name: "alg NONE with a signature", header: http.Header{"Authorization": {"Bearer " + algNoneSigned}}, wantError: true},
			{name: "HS256 keyed with the public key", header: http.Header{"Authorization": {"Bearer " + hmacWithPublicKey}}, wantError: true},
			{name: "claims with sub twice", header: http.Header{"Authorization": {"Bearer " + dupSub}}, wantError: true},
			{name: "header with kid twice", header: http.Header{"Authorization": {"Bearer " + dupKid}}, wantError: true},
			{name: "sub with a space before it", header: http.Header{"Authorization": {"Bearer " + spacedSub}}, wantError: true},
			{name: "sub with a tab after it", header: http.Header{"Authorization": {"Bearer " + subSpaced}}, wantError: true},
			{name: "two credentials", header: http.Header{"Authorization": {"Bearer " + devTok}, "Cookie": {"__Host-session=" + jwksTok}}, wantError: true},
			{name: "two Authorization headers", header: http.Header{"Authorization": {"Bearer " + devTok, "Bearer " + devTok}}, wantError: true},
			{name: "token in the query string", path: "?access_token=" + devTok},
			{name: "cookie, cross-site POST", method: "POST", header: http.Header{"Cookie": {"__Host-session=" + devTok}, "Origin": {"https://evil.example"}}, wantError: true},
			{name: "cookie, POST without Origin or fetch metadata", method: "POST", header: http.Header{"Cookie": {"__Host-session=" + devTok}}, wantError: true},
		}
		before := up.Count()
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				method := tt.method
				if method == "" {
					method = "GET"
				}
				resp, body := send(t, c, method, api+tt.path, "{}", tt.header)
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("status = %d, want 401 (body %s)", resp.StatusCode, body)
				}
				want := `Bearer realm="paygate"`
				if tt.wantError {
					want += `, error="invalid_token"`
				}
				if got := resp.Header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != want {
					t.Errorf("WWW-Authenticate = %q, want %q", got, want)
				}
				checkHeaders(t, resp, apiHeaders)
				e := decodeAPIError(t, resp, body, "unauthorized")
				if e.Error.Type != "authentication_error" || e.Error.Message != "Authentication is required." {
					t.Errorf("error body says more than that authentication is required: %s", body)
				}
			})
		}
		if n := up.Count() - before; n != 0 {
			t.Errorf("%d refused requests reached the upstream", n)
		}
	})

	for series, want := range map[string]float64{
		`paygate_auth_failures_total{reason="token_expired"}`:       1,
		`paygate_auth_failures_total{reason="credential_conflict"}`: 1,
		`paygate_auth_failures_total{reason="duplicate_member"}`:    2,
		`paygate_auth_failures_total{reason="subject_invalid"}`:     2,
		`paygate_auth_failures_total{reason="cross_site_request"}`:  2,
		`paygate_auth_failures_total{reason="credential_missing"}`:  2,
		`paygate_auth_successes_total{source="cookie"}`:             2,
	} {
		pg.WaitForMetric(t, series, testenv.MetricIs(want))
	}

	// Every refusal is logged and audited with its reason; no token is.
	pg.Stop()
	logs := string(pg.Logs(t))
	for _, reason := range []string{"credential_missing", "credential_malformed", "token_malformed", "token_expired", "audience_mismatch", "issuer_mismatch", "typ_mismatch", "kid_unknown", "signature_invalid", "alg_not_allowed", "credential_conflict", "cross_site_request", "duplicate_member"} {
		if !strings.Contains(logs, `"msg":"token rejected"`) || !strings.Contains(logs, `"reason":"`+reason+`"`) {
			t.Errorf("no log line for %s", reason)
		}
	}
	if n := strings.Count(logs, `"action":"token_rejected"`); n != 21 {
		t.Errorf("%d token_rejected audit events, want 21", n)
	}
	for _, tok := range tokens {
		sig := tok[strings.LastIndexByte(tok, '.')+1:]
		if strings.Contains(logs, tok) || strings.Contains(logs, sig) {
			t.Fatalf("a token is in the logs")
		}
	}
}

// TestJWKSRemovedKeyRefusesCachedToken: a token accepted once, and so in
// the verified-token cache, is refused as soon as its key has left the
// identity provider's key set (a key rotated out, or revoked because it
// leaked), not when the token expires. The refetch that finds the key gone
// is the one another token's unknown kid triggers.
func TestJWKSRemovedKeyRefusesCachedToken(t *testing.T) {
	old, next := newJWTTestKey(t, "e2e-old"), newJWTTestKey(t, "e2e-next")
	idp := new(switchableJWKS)
	idp.serve(old.jwks)
	// A refetch on an unknown kid may follow the first fetch at once.
	pg, up := startJWTSite(t, idp, "jwks_retry_interval 1ms")
	c := pg.Client()
	api := pg.HTTPSURL + "/v1/payment_intents"
	get := func(token string) (*http.Response, []byte) {
		return send(t, c, "GET", api, "", http.Header{"Authorization": {"Bearer " + token}})
	}

	oldTok := old.mint(t, "e2e-old")
	for i := range 2 {
		if resp, body := get(oldTok); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d with the old key's token: %d %s, want 200", i+1, resp.StatusCode, body)
		}
	}

	idp.serve(next.jwks)
	nextTok := next.mint(t, "e2e-next")
	testenv.Eventually(t, "a token of the new key accepted (the key set refetched)", func() bool {
		resp, _ := get(nextTok)
		return resp.StatusCode == http.StatusOK
	})

	// The old key's token, now that its key has left the set.
	resp, body := get(oldTok)
	wantTokenRefused(t, resp, body)
	if n := up.Count(); n != 3 {
		t.Errorf("the upstream got %d requests, want 3: the old token twice, the new one once", n)
	}
}
