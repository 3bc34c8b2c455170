package devtoken

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/spf13/cobra"

	"github.com/paygate/paygate/internal/jwtverify"
)

// testdata is the repository's testdata/jwt directory.
var testdata = filepath.Join("..", "..", "testdata", "jwt")

// devVerifier accepts what the shipped Caddyfile accepts: the development
// JWKS, the default issuer, audience and typ.
func devVerifier(t *testing.T) *jwtverify.Verifier {
	t.Helper()
	algs, err := jwtverify.ParseAlgorithms(jwtverify.DefaultAlgorithms)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := jwtverify.KeysFromFile(filepath.Join(testdata, "dev-jwks.json"), "", algs)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jwtverify.New(jwtverify.Options{
		Issuer: DefaultIssuer, Audiences: []string{DefaultAudience}, Algorithms: algs,
		Skew: 30 * time.Second, Type: DefaultType, MaxTokenSize: 8192,
	}, jwtverify.NewStatic(keys...))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func devKey(t *testing.T) jwk.Key {
	t.Helper()
	k, err := LoadKey(filepath.Join(testdata, "dev-private.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestDevelopmentKeysMatch checks that the development key files belong
// together: the public PEM and the JWKS hold the private key's public half,
// under the kid the token command uses.
func TestDevelopmentKeysMatch(t *testing.T) {
	key := devKey(t)
	pub, err := key.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	pemKey, err := jwk.ParseKey(mustRead(t, "dev-public.pem"), jwk.WithPEM(true))
	if err != nil {
		t.Fatal(err)
	}
	set, err := jwk.Parse(mustRead(t, "dev-jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	listed, ok := set.LookupKeyID(key.KeyID())
	if set.Len() != 1 || !ok {
		t.Fatalf("dev-jwks.json does not list kid %s alone", key.KeyID())
	}
	for name, k := range map[string]jwk.Key{"dev-public.pem": pemKey, "dev-jwks.json": listed} {
		a, _ := pub.Thumbprint(crypto.SHA256)
		b, _ := k.Thumbprint(crypto.SHA256)
		if !bytes.Equal(a, b) {
			t.Errorf("%s does not hold the development private key's public half", name)
		}
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMintIsAcceptedByTheShippedConfiguration(t *testing.T) {
	tok, err := Mint(devKey(t), Options{
		Subject: "user_1", Issuer: DefaultIssuer, Audience: DefaultAudience, TTL: DefaultTTL, Type: DefaultType,
		Claims: map[string]any{"scope": "payments", "admin": json.RawMessage("true")},
	})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := devVerifier(t).Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if claims.Subject != "user_1" || claims.Expiry.Sub(time.Now()) > DefaultTTL || claims.Expiry.Sub(time.Now()) < DefaultTTL-time.Minute {
		t.Errorf("claims = %+v", claims)
	}
	for name, want := range map[string]string{"scope": "payments", "admin": "true"} {
		if got, _ := claims.Value(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if jti, ok := claims.Value("jti"); !ok || len(jti) < 20 {
		t.Errorf("jti = %q", jti)
	}
}

func TestMintRefuses(t *testing.T) {
	key := devKey(t)
	tests := []struct {
		name string
		o    Options
	}{
		{name: "no subject", o: Options{TTL: time.Minute}},
		{name: "registered claim in Claims", o: Options{Subject: "u", Claims: map[string]any{"exp": 1}}},
		{name: "unknown algorithm", o: Options{Subject: "u", Alg: "XS256"}},
		{name: "algorithm that does not fit the key", o: Options{Subject: "u", Alg: "RS256"}},
	}
	for _, tt := range tests {
		if _, err := Mint(key, tt.o); err == nil {
			t.Errorf("%s: got no error", tt.name)
		}
	}
}

func TestMintWithOtherKeys(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, pemType string
		der           []byte
		alg, wantAlg  string
	}{
		{name: "RSA", pemType: "RSA PRIVATE KEY", der: x509.MarshalPKCS1PrivateKey(rsaKey), wantAlg: "RS256"},
		{name: "RSA as PS256", pemType: "RSA PRIVATE KEY", der: x509.MarshalPKCS1PrivateKey(rsaKey), alg: "PS256", wantAlg: "PS256"},
		{name: "EC", pemType: "EC PRIVATE KEY", der: ecDER, wantAlg: "ES256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "key.pem")
			if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: tt.pemType, Bytes: tt.der}), 0o600); err != nil {
				t.Fatal(err)
			}
			key, err := LoadKey(path)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := Mint(key, Options{Subject: "u", TTL: time.Minute, Alg: tt.alg})
			if err != nil {
				t.Fatal(err)
			}
			var hdr map[string]any
			b, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
			if err := json.Unmarshal(b, &hdr); err != nil || hdr["alg"] != tt.wantAlg || hdr["kid"] != key.KeyID() {
				t.Errorf("header = %s (%v), want alg %s and kid %s", b, err, tt.wantAlg, key.KeyID())
			}
		})
	}
}

func TestLoadKeyRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, path := range map[string]string{
		"missing":    filepath.Join(dir, "none.pem"),
		"public key": filepath.Join(testdata, "dev-public.pem"),
		"not PEM":    write("x.pem", []byte("hello")),
	} {
		if _, err := LoadKey(path); err == nil {
			t.Errorf("%s: got no error", name)
		}
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

// TestCommand runs "paygate token" as Caddy's command line would.
func TestCommand(t *testing.T) {
	run := func(args ...string) (string, error) {
		cmd := &cobra.Command{Use: "token"}
		setUp(cmd)
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&bytes.Buffer{})
		cmd.SetArgs(args)
		err := cmd.Execute()
		return strings.TrimSpace(out.String()), err
	}
	tok, err := run("--sub", "user_1", "--key", filepath.Join(testdata, "dev-private.pem"), "--claim", "scope=pay")
	if err != nil {
		t.Fatal(err)
	}
	claims, err := devVerifier(t).Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("the default token is refused: %v", err)
	}
	if scope, _ := claims.Value("scope"); claims.Subject != "user_1" || scope != "pay" {
		t.Errorf("claims = %+v, scope %q", claims, scope)
	}

	expired, err := run("--sub", "user_1", "--key", filepath.Join(testdata, "dev-private.pem"), "--ttl", "-1m")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := devVerifier(t).Verify(context.Background(), expired); jwtverify.ReasonOf(err) != jwtverify.ReasonExpired {
		t.Errorf("--ttl -1m: err = %v, want expired", err)
	}

	for name, args := range map[string][]string{
		"no subject":     {"--key", filepath.Join(testdata, "dev-private.pem")},
		"missing key":    {"--sub", "u", "--key", filepath.Join(t.TempDir(), "none.pem")},
		"bad claim":      {"--sub", "u", "--key", filepath.Join(testdata, "dev-private.pem"), "--claim", "x"},
		"reserved claim": {"--sub", "u", "--key", filepath.Join(testdata, "dev-private.pem"), "--claim", "aud=other"},
	} {
		if _, err := run(args...); err == nil {
			t.Errorf("%s: got no error", name)
		}
	}
}
