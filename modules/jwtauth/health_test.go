package jwtauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/paygate/paygate/internal/health"
	"github.com/paygate/paygate/internal/testenv"
)

// TestJWKSReadiness: each JWKS is a readiness check "jwks", failing until
// its key set loads; two providers on one JWKS (two sites importing the
// same pipeline) make one check, which goes with the last provider.
func TestJWKSReadiness(t *testing.T) {
	var up atomic.Bool
	keys := keyFile(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		http.ServeFile(w, r, keys)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("PAYGATE_TEST_IDP", srv.URL)
	jwksURL := srv.URL + "/jwks.json"
	check := func() (health.Status, bool) {
		s, found := health.Run().Checks["jwks"]
		return s, found
	}

	// Provisioned without the provision helper, which swaps the loggers
	// that the JWKS fetches are using.
	start := func(jwks string) *Provider {
		p := &Provider{Issuer: testIssuer, Audiences: []string{testAudience}, JWKSURLs: []string{jwks}}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		t.Cleanup(cancel)
		if err := p.Provision(ctx); err != nil {
			t.Fatalf("Provision: %v", err)
		}
		return p
	}
	first, second := start("{env.PAYGATE_TEST_IDP}/jwks.json"), start(jwksURL)
	if s, found := check(); !found || s.OK || !strings.Contains(s.Reason, "not loaded yet") || !strings.Contains(s.Reason, jwksURL) {
		t.Fatalf("jwks check before the key set loaded: %+v (found %v), want failing, naming %s", s, found, jwksURL)
	}
	up.Store(true)
	testenv.Eventually(t, "the jwks check to pass once the key set loads", func() bool {
		s, _ := check()
		return s.OK
	})

	// The older provider's cleanup (a reload's) leaves the newer one's check.
	if err := first.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if s, found := check(); !found || !s.OK {
		t.Fatalf("after the older provider's cleanup: %+v (found %v), want the newer one's passing check", s, found)
	}
	if err := second.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, found := check(); found {
		t.Fatal("the jwks check outlived its providers")
	}
}
