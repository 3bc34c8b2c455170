package testenv

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/paygate/paygate/internal/devtoken"
)

const exposition = `# HELP paygate_auth_failures_total Refused credentials.
# TYPE paygate_auth_failures_total counter
paygate_auth_failures_total{reason="token_expired"} 3
paygate_auth_failures_total{reason="kid_unknown"} 1
# TYPE paygate_store_up gauge
paygate_store_up{backend="redis",instance="a"} 1
# TYPE paygate_requests untyped
paygate_requests 7
# TYPE paygate_latency_seconds histogram
paygate_latency_seconds_bucket{le="+Inf"} 2
paygate_latency_seconds_sum 0.5
paygate_latency_seconds_count 2
`

func TestParseMetrics(t *testing.T) {
	m, err := ParseMetrics(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	for series, want := range map[string]float64{
		`paygate_auth_failures_total{reason="token_expired"}`: 3,
		`paygate_auth_failures_total{reason="kid_unknown"}`:   1,
		`paygate_store_up{backend="redis",instance="a"}`:      1,
		`paygate_store_up{instance="a",backend="redis"}`:      1, // labels in any order
		`paygate_requests`: 7,
		`paygate_auth_failures_total{reason="credential_missing"}`: 0, // not exposed yet
		`paygate_store_up{backend="redis"}`:                        0, // a label set is complete
		`paygate_latency_seconds_count`:                            2, // a histogram's count and sum
		`paygate_latency_seconds_sum`:                              0.5,
	} {
		if got, err := m.Value(series); err != nil || got != want {
			t.Errorf("Value(%s) = %v, %v; want %v", series, got, err, want)
		}
	}
	for _, bad := range []string{"", "paygate_x{reason=}", "two series", `paygate_x{a="b"`} {
		if _, err := m.Value(bad); err == nil {
			t.Errorf("Value(%q): got no error", bad)
		}
	}
	if got := m.Family("paygate_store_up"); len(got) != 1 || got[`paygate_store_up{backend="redis",instance="a"}`] != 1 {
		t.Errorf("Family(paygate_store_up) = %v, want its one series", got)
	}
	if _, err := ParseMetrics(strings.NewReader("paygate_x{ 1\n")); err == nil {
		t.Error("ParseMetrics of a broken exposition: got no error")
	}
}

func TestParseLogEntries(t *testing.T) {
	logs := []byte("plain text\n" +
		`{"level":"info","msg":"audit","action":"policy_denied","n":2}` + "\n" +
		"[1,2]\n" +
		`{"msg":"handled request"}` + "\n")
	entries := ParseLogEntries(logs)
	if len(entries) != 2 {
		t.Fatalf("%d entries, want the 2 JSON objects", len(entries))
	}
	if e := entries[0]; e.Str("action") != "policy_denied" || e.Str("n") != "" || e.Fields["n"] != float64(2) || !strings.HasPrefix(e.Line, `{"level"`) {
		t.Errorf("entry %+v", e)
	}
	match := LogFields(map[string]string{"msg": "audit", "action": "policy_denied"})
	if !match(entries[0]) || match(entries[1]) {
		t.Error("LogFields matched the wrong entries")
	}
}

// verifyJWT verifies token with key under alg, as a conforming library
// does, and returns the payload.
func verifyJWT(t *testing.T, token string, alg jwa.SignatureAlgorithm, key any) []byte {
	t.Helper()
	payload, err := jws.Verify([]byte(token), jws.WithKey(alg, key))
	if err != nil {
		t.Fatalf("%s token does not verify: %v", alg, err)
	}
	return payload
}

// header decodes a token's header.
func header(t *testing.T, token string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestMintJWTEveryAlgorithm(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("a secret of at least thirty-two bytes")
	claims := map[string]any{"sub": "user_1", "exp": 4102444800}
	for _, tt := range []struct {
		alg         jwa.SignatureAlgorithm
		key, verify any
	}{
		{jwa.HS256, secret, secret},
		{jwa.HS512, secret, secret},
		{jwa.RS256, rsaKey, &rsaKey.PublicKey},
		{jwa.PS256, rsaKey, &rsaKey.PublicKey},
		{jwa.ES384, ecKey, &ecKey.PublicKey},
		{jwa.EdDSA, edKey, edPub},
	} {
		t.Run(tt.alg.String(), func(t *testing.T) {
			tok := MintJWT(t, JWT{Alg: tt.alg.String(), Key: tt.key, Header: map[string]any{"kid": "k1", "typ": "at+jwt"}, Claims: claims})
			var got map[string]any
			if err := json.Unmarshal(verifyJWT(t, tok, tt.alg, tt.verify), &got); err != nil || got["sub"] != "user_1" {
				t.Errorf("payload %v (%v)", got, err)
			}
			if h := header(t, tok); h["alg"] != tt.alg.String() || h["kid"] != "k1" || h["typ"] != "at+jwt" {
				t.Errorf("header %v", h)
			}
		})
	}
}

func TestMintJWTHeaders(t *testing.T) {
	k, err := jwk.FromRaw(ed25519.NewKeyFromSeed(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Set(jwk.KeyIDKey, "from-the-key"); err != nil {
		t.Fatal(err)
	}
	// A jwk.Key's kid is the default; Header replaces it or leaves it out,
	// and carries any member an attack needs.
	if h := header(t, MintJWT(t, JWT{Alg: "EdDSA", Key: k})); h["kid"] != "from-the-key" {
		t.Errorf("kid = %v, want the key's", h["kid"])
	}
	tok := MintJWT(t, JWT{Alg: "EdDSA", Key: k, Header: map[string]any{
		"kid": nil, "jku": "https://127.0.0.1:1/jwks.json", "b64": false, "crit": []string{"b64"}, "typ": "JWT",
	}})
	h := header(t, tok)
	if _, ok := h["kid"]; ok || h["jku"] != "https://127.0.0.1:1/jwks.json" || h["b64"] != false || h["typ"] != "JWT" {
		t.Errorf("header %v", h)
	}
	// The header may name another alg than the one that signs.
	if h := header(t, MintJWT(t, JWT{Alg: "EdDSA", Key: k, Header: map[string]any{"alg": "RS256"}})); h["alg"] != "RS256" {
		t.Errorf("alg = %v, want the header's RS256", h["alg"])
	}
}

func TestSignJWTRawSegments(t *testing.T) {
	secret := []byte("a secret of at least thirty-two bytes")
	header, payload := `{"alg":"HS256","alg":"none"}`, `{"sub":"a","sub":"b"}`
	tok := SignJWT(t, "HS256", secret, header, payload)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] != Segment(header) || parts[1] != Segment(payload) || parts[2] == "" {
		t.Fatalf("token %s does not carry the texts as they are", tok)
	}
	if none := SignJWT(t, "NONE", nil, `{"alg":"NONE"}`, payload); !strings.HasSuffix(none, ".") || strings.Count(none, ".") != 2 {
		t.Errorf("alg NONE: %s, want an empty signature", none)
	}
	tampered := ReplaceSegment(t, tok, 1, `{"sub":"admin"}`)
	if got := strings.Split(tampered, "."); got[0] != parts[0] || got[1] != Segment(`{"sub":"admin"}`) || got[2] != parts[2] {
		t.Errorf("ReplaceSegment: %s", tampered)
	}
}

// TestDevToken verifies a development token against the development JWKS
// by its kid, as the shipped configuration does.
func TestDevToken(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "jwt", "dev-jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := jwk.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	tok := DevToken(t, "user_1", map[string]any{"role": "support", "aud": "billing", "iat": nil})
	payload, err := jws.Verify([]byte(tok), jws.WithKeySet(set, jws.WithInferAlgorithmFromKey(true)))
	if err != nil {
		t.Fatalf("the development JWKS does not verify the token: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if claims["sub"] != "user_1" || claims["iss"] != devtoken.DefaultIssuer || claims["aud"] != "billing" || claims["role"] != "support" || claims["exp"] == nil {
		t.Errorf("claims %v", claims)
	}
	if _, ok := claims["iat"]; ok {
		t.Error("iat, removed with a nil value, is there")
	}
	if h := header(t, tok); h["typ"] != devtoken.DefaultType || h["alg"] != "EdDSA" {
		t.Errorf("header %v", h)
	}
}
