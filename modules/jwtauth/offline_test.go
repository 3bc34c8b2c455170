package jwtauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/paygate/paygate/internal/offline"
	"github.com/paygate/paygate/internal/testenv"
)

// TestOfflineValidation: in offline validation Provision checks the JWKS
// URL and every other setting but never fetches the set; the same provider
// provisioned online fetches it at once.
func TestOfflineValidation(t *testing.T) {
	jwks := func(hits *atomic.Int32) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			hits.Add(1)
			http.Error(w, "down", http.StatusServiceUnavailable)
		}))
		t.Cleanup(srv.Close)
		return srv.URL + "/jwks.json"
	}
	var offlineHits, onlineHits atomic.Int32
	offlineURL, onlineURL := jwks(&offlineHits), jwks(&onlineHits)

	disable := offline.Enable()
	t.Cleanup(disable)
	// Offline is not "skip validation": what a server refuses, it refuses.
	for want, p := range map[string]Provider{
		"must be https":     {JWKSURLs: []string{"http://id.example.test/jwks.json"}},
		"above the maximum": {JWKSURLs: []string{offlineURL}, JWKSMinRefresh: caddy.Duration(2 * time.Hour), JWKSMaxRefresh: caddy.Duration(time.Hour)},
		"trusted origin":    {JWKSURLs: []string{offlineURL}, Cookie: "__Host-s", TrustedOrigins: []string{"app.example.test"}},
		"no such file":      {JWKSURLs: []string{offlineURL}, KeyFiles: []KeyFile{{Path: "/nonexistent/key.pem"}}},
	} {
		p.Issuer, p.Audiences = testIssuer, []string{testAudience}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		if err := p.Provision(ctx); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("offline: err = %v, want one containing %q", err, want)
		}
		cancel()
	}
	provision(t, &Provider{JWKSURLs: []string{offlineURL}})
	disable()

	provision(t, &Provider{JWKSURLs: []string{onlineURL}})
	testenv.Eventually(t, "the online provider's JWKS fetch", func() bool { return onlineHits.Load() > 0 })
	// The offline provider was provisioned first: a fetch of its own would
	// have come by now.
	if n := offlineHits.Load(); n != 0 {
		t.Errorf("the JWKS was fetched %d times in offline validation, want never", n)
	}
}
