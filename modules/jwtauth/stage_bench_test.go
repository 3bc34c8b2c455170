package jwtauth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/paygate/paygate/internal/devtoken"
)

// rsaKey returns a new 2048-bit RSA signing key with kid.
func rsaKey(kid string) (jwk.Key, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	k, err := jwk.FromRaw(priv)
	if err != nil {
		return nil, err
	}
	return k, k.Set(jwk.KeyIDKey, kid)
}

// The identity provider's RS256 key, and an attacker's key that forges
// tokens under its kid; made once per test binary, RSA generation being
// slow.
var (
	rsaSigner = sync.OnceValues(func() (jwk.Key, error) { return rsaKey("rsa-1") })
	rsaForger = sync.OnceValues(func() (jwk.Key, error) { return rsaKey("rsa-1") })
)

// mustKey returns the key that get makes, failing b when it cannot.
func mustKey(b *testing.B, get func() (jwk.Key, error)) jwk.Key {
	b.Helper()
	k, err := get()
	if err != nil {
		b.Fatal(err)
	}
	return k
}

// keySet is the JWK set of the public halves of keys, each with the
// algorithm its type implies.
func keySet(b *testing.B, keys ...jwk.Key) []byte {
	b.Helper()
	set := jwk.NewSet()
	for _, k := range keys {
		pub, err := k.PublicKey()
		if err != nil {
			b.Fatal(err)
		}
		alg := jwa.EdDSA
		if k.KeyType() == jwa.RSA {
			alg = jwa.RS256
		}
		if err := pub.Set(jwk.AlgorithmKey, alg); err != nil {
			b.Fatal(err)
		}
		if err := set.AddKey(pub); err != nil {
			b.Fatal(err)
		}
	}
	text, err := json.Marshal(set)
	if err != nil {
		b.Fatal(err)
	}
	return text
}

// benchToken mints a token of user_42's, as the shipped Caddyfile's
// jwt_auth takes them (typ at+jwt, a role claim), signed with key; kid,
// when set, replaces the key's own in the header. Each is new: it carries
// a random jti.
func benchToken(b *testing.B, key jwk.Key, kid string) string {
	b.Helper()
	tok, err := devtoken.Mint(key, devtoken.Options{
		Subject: "user_42", Issuer: testIssuer, Audience: testAudience, TTL: time.Hour,
		Type: "at+jwt", KeyID: kid, Claims: map[string]any{"role": "customer"},
	})
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

// bearer is an Authorization header value for tok.
func bearer(tok string) []string { return []string{"Bearer " + tok} }

// tokenPool hands out Authorization headers with tokens no verifier has
// seen yet, minting them in batches with the benchmark's timer stopped:
// signing is the identity provider's work, not the stage's. Each stage
// has its own verified-token cache, so sub-benchmarks may share a pool.
type tokenPool struct {
	key     jwk.Key
	headers [][]string
}

// header returns the pool's i-th header.
func (p *tokenPool) header(b *testing.B, i int) []string {
	if i >= len(p.headers) {
		b.StopTimer()
		for range max(len(p.headers), 256) {
			p.headers = append(p.headers, bearer(benchToken(b, p.key, "")))
		}
		b.StartTimer()
	}
	return p.headers[i]
}

// benchStage provisions jwt_auth as its directive does, Caddy's
// authentication handler around the provider p (given the issuer,
// audience, typ and role claim of the shipped Caddyfile), logging JSON at
// INFO to nowhere as Caddy would to a file.
func benchStage(b *testing.B, p *Provider) *caddyauth.Authentication {
	b.Helper()
	p.Issuer, p.Audiences, p.Type = testIssuer, []string{testAudience}, "at+jwt"
	p.Placeholders = map[string]string{"role": "role"}
	raw, err := json.Marshal(p)
	if err != nil {
		b.Fatal(err)
	}
	auth := &caddyauth.Authentication{ProvidersRaw: caddy.ModuleMap{"jwt": raw}}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	b.Cleanup(cancel)
	if err := auth.Provision(ctx); err != nil {
		b.Fatal(err)
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	logger := zap.New(zapcore.NewCore(enc, zapcore.AddSync(io.Discard), zap.InfoLevel))
	prov := auth.Providers["jwt"].(*Provider)
	prov.logger, prov.audit = logger, logger
	return auth
}

// serveTokens serves a GET for an intent through auth, the i-th time with
// the Authorization header header(i), and fails b unless each request is
// authenticated (or, when refused is set, each is refused with 401). The
// first request is not measured: it puts a repeated token in the cache.
func serveTokens(b *testing.B, auth *caddyauth.Authentication, header func(i int) []string, refused bool) {
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
	w, r := newRequest(http.MethodGet, testSite+"/v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa", nil, "")
	serve := func(i int) {
		r.Header["Authorization"] = header(i)
		err := auth.ServeHTTP(w, r, next)
		var he caddyhttp.HandlerError
		if !refused && err != nil {
			b.Fatalf("request %d: %v", i, err)
		} else if refused && (!errors.As(err, &he) || he.StatusCode != http.StatusUnauthorized) {
			b.Fatalf("request %d: err = %v, want a 401", i, err)
		}
	}
	serve(0)
	b.ReportAllocs()
	i := 1
	for b.Loop() {
		serve(i)
		i++
	}
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if id, _ := repl.GetString("http.auth.user.id"); !refused && id != "user_42" {
		b.Fatalf("{http.auth.user.id} = %q, want user_42", id)
	}
}

// BenchmarkServeHTTP is the jwt_auth stage (Caddy's authentication handler
// and the provider, keys from a JWK set file as in the shipped Caddyfile)
// on a GET: a token from the verified-token cache; a token never seen
// before on each request, RS256 and EdDSA (minted before it is served);
// and a forged RS256 token (the right kid, another key's signature), which
// is refused, logged and audited.
func BenchmarkServeHTTP(b *testing.B) {
	rsaSig := mustKey(b, rsaSigner)
	edSig := signingKey(b)
	keyFile := filepath.Join(b.TempDir(), "jwks.json")
	if err := os.WriteFile(keyFile, keySet(b, rsaSig, edSig), 0o600); err != nil {
		b.Fatal(err)
	}
	stage := func(b *testing.B) *caddyauth.Authentication {
		return benchStage(b, &Provider{KeyFiles: []KeyFile{{Path: keyFile}}})
	}
	b.Run("token=cached", func(b *testing.B) {
		h := bearer(benchToken(b, rsaSig, ""))
		serveTokens(b, stage(b), func(int) []string { return h }, false)
	})
	for _, sig := range []struct {
		alg string
		key jwk.Key
	}{{"RS256", rsaSig}, {"EdDSA", edSig}} {
		pool := &tokenPool{key: sig.key}
		b.Run("token=new/alg="+sig.alg, func(b *testing.B) {
			serveTokens(b, stage(b), func(i int) []string { return pool.header(b, i) }, false)
		})
	}
	b.Run("token=forged", func(b *testing.B) {
		h := bearer(benchToken(b, mustKey(b, rsaForger), rsaSig.KeyID()))
		serveTokens(b, stage(b), func(int) []string { return h }, true)
	})
}
