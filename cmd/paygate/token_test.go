package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/spf13/cobra"

	"github.com/paygate/paygate/internal/devtoken"
	"github.com/paygate/paygate/internal/jwtverify"
)

// jwtTestdata is the repository's testdata/jwt directory.
var jwtTestdata = filepath.Join("..", "..", "testdata", "jwt")

// devPrivateKey is the development key the command signs with by default.
var devPrivateKey = filepath.Join(jwtTestdata, "dev-private.pem")

// verifier accepts what the shipped Caddyfile accepts (the default issuer,
// audience and typ), with the keys of the JWK set in jwksFile.
func verifier(t *testing.T, jwksFile string) *jwtverify.Verifier {
	t.Helper()
	algs, err := jwtverify.ParseAlgorithms(jwtverify.DefaultAlgorithms)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := jwtverify.KeysFromFile(jwksFile, "", algs)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jwtverify.New(jwtverify.Options{
		Issuer: devtoken.DefaultIssuer, Audiences: []string{devtoken.DefaultAudience}, Algorithms: algs,
		Skew: 30 * time.Second, Type: devtoken.DefaultType, MaxTokenSize: 8192,
	}, jwtverify.NewStatic(keys...))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// runTokenCommand runs "paygate token" with args as Caddy's command line would and
// returns what it printed.
func runTokenCommand(args ...string) (string, error) {
	cmd := &cobra.Command{Use: "token"}
	setUpToken(cmd)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs(args)
	err := cmd.Execute()
	return strings.TrimSpace(out.String()), err
}

func TestTokenCommand(t *testing.T) {
	dev := verifier(t, filepath.Join(jwtTestdata, "dev-jwks.json"))
	tok, err := runTokenCommand("--sub", "user_1", "--key", devPrivateKey, "--claim", "scope=pay", "--claim", "admin=true")
	if err != nil {
		t.Fatal(err)
	}
	claims, err := dev.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("the shipped configuration refuses the default token: %v", err)
	}
	if ttl := time.Until(claims.Expiry); claims.Subject != "user_1" || ttl > devtoken.DefaultTTL || ttl < devtoken.DefaultTTL-time.Minute {
		t.Errorf("claims = %+v, want sub user_1 and the default lifetime", claims)
	}
	for name, want := range map[string]string{"scope": "pay", "admin": "true"} {
		if got, _ := claims.Value(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if jti, ok := claims.Value("jti"); !ok || len(jti) < 20 {
		t.Errorf("jti = %q", jti)
	}

	expired, err := runTokenCommand("--sub", "user_1", "--key", devPrivateKey, "--ttl", "-1m")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Verify(context.Background(), expired); jwtverify.ReasonOf(err) != jwtverify.ReasonExpired {
		t.Errorf("--ttl -1m: err = %v, want expired", err)
	}

	for name, args := range map[string][]string{
		"no subject":     {"--key", devPrivateKey},
		"missing key":    {"--sub", "u", "--key", filepath.Join(t.TempDir(), "none.pem")},
		"bad claim":      {"--sub", "u", "--key", devPrivateKey, "--claim", "x"},
		"reserved claim": {"--sub", "u", "--key", devPrivateKey, "--claim", "aud=other"},
	} {
		if _, err := runTokenCommand(args...); err == nil {
			t.Errorf("%s: got no error", name)
		}
	}
}

// TestTokenCommandKid mints for a key set that names its keys: with --kid
// k2 the token verifies against a JWKS holding the development key as k2,
// which the thumbprint kid of the default does not find.
func TestTokenCommandKid(t *testing.T) {
	pem, err := os.ReadFile(filepath.Join(jwtTestdata, "dev-public.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := jwk.ParseKey(pem, jwk.WithPEM(true))
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Set(jwk.KeyIDKey, "k2"); err != nil {
		t.Fatal(err)
	}
	if err := pub.Set(jwk.AlgorithmKey, jwa.EdDSA); err != nil {
		t.Fatal(err)
	}
	set, err := json.Marshal(map[string]any{"keys": []jwk.Key{pub}})
	if err != nil {
		t.Fatal(err)
	}
	jwks := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(jwks, set, 0o600); err != nil {
		t.Fatal(err)
	}
	named := verifier(t, jwks)

	tok, err := runTokenCommand("--sub", "user_1", "--key", devPrivateKey, "--kid", "k2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := named.Verify(context.Background(), tok); err != nil {
		t.Errorf("--kid k2: refused by the key set that names the key k2: %v", err)
	}
	if _, err := verifier(t, filepath.Join(jwtTestdata, "dev-jwks.json")).Verify(context.Background(), tok); jwtverify.ReasonOf(err) != jwtverify.ReasonKeyUnknown {
		t.Errorf("--kid k2 against the development JWKS: err = %v, want an unknown kid", err)
	}

	thumbprint, err := runTokenCommand("--sub", "user_1", "--key", devPrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := named.Verify(context.Background(), thumbprint); jwtverify.ReasonOf(err) != jwtverify.ReasonKeyUnknown {
		t.Errorf("without --kid against the key set naming k2: err = %v, want an unknown kid", err)
	}
}

func TestParseClaims(t *testing.T) {
	got, err := parseClaims([]string{"scope=payments:write", "admin=true", "n=3", "roles=[\"a\"]", "empty=", "eq=a=b"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"scope": "payments:write", "admin": json.RawMessage("true"), "n": json.RawMessage("3"),
		"roles": json.RawMessage(`["a"]`), "empty": "", "eq": "a=b",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"novalue", "=x"} {
		if _, err := parseClaims([]string{bad}); err == nil {
			t.Errorf("parseClaims(%q): got no error", bad)
		}
	}
}
