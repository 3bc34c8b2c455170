package payments

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/store"
)

func TestConfiguration(t *testing.T) {
	intp := func(n int) *int { return &n }
	live, test, publishable := keyFile(t, "sk_live_abc123"), keyFile(t, testKey), keyFile(t, "pk_test_abc123")
	restrictedLive := keyFile(t, "rk_live_abc123")
	tests := []struct {
		name    string
		h       Handler
		wantErr string // "" = accepted
	}{
		{name: "test key", h: Handler{StripeKey: test, Catalog: shippedCatalog, APIBase: "http://127.0.0.1:12111"}},
		{name: "no key", h: Handler{Catalog: shippedCatalog}, wantErr: "stripe_key is required"},
		{name: "literal key", h: Handler{StripeKey: testKey, Catalog: shippedCatalog}, wantErr: "placeholder, never the key itself"},
		{name: "key with text around the placeholder", h: Handler{StripeKey: "sk_{env.X}", Catalog: shippedCatalog}, wantErr: "placeholder"},
		{name: "unset environment variable", h: Handler{StripeKey: "{env.PAYGATE_TEST_SURELY_UNSET}", Catalog: shippedCatalog}, wantErr: "empty after replacement"},
		{name: "missing key file", h: Handler{StripeKey: "{file./nonexistent/paygate/key}", Catalog: shippedCatalog}, wantErr: "empty after replacement"},
		{name: "publishable key", h: Handler{StripeKey: publishable, Catalog: shippedCatalog}, wantErr: "not a Stripe secret or restricted key"},
		{name: "no catalog", h: Handler{StripeKey: test}, wantErr: "catalog is required"},
		{name: "missing catalog file", h: Handler{StripeKey: test, Catalog: "/nonexistent/catalog.json"}, wantErr: "catalog"},
		{name: "negative timeout", h: Handler{StripeKey: test, Catalog: shippedCatalog, Timeout: caddy.Duration(-time.Second)}, wantErr: "timeout"},
		{name: "too many retries", h: Handler{StripeKey: test, Catalog: shippedCatalog, MaxNetworkRetries: intp(11)}, wantErr: "max_network_retries"},
		{name: "negative retries", h: Handler{StripeKey: test, Catalog: shippedCatalog, MaxNetworkRetries: intp(-1)}, wantErr: "max_network_retries"},
		{name: "api_base not http", h: Handler{StripeKey: test, Catalog: shippedCatalog, APIBase: "ftp://api.stripe.com"}, wantErr: "api_base"},
		{name: "api_base with a path", h: Handler{StripeKey: test, Catalog: shippedCatalog, APIBase: "https://api.stripe.com/v1"}, wantErr: "api_base"},
		{name: "api_base with credentials", h: Handler{StripeKey: test, Catalog: shippedCatalog, APIBase: "https://u:p@api.stripe.com"}, wantErr: "api_base"},
		{name: "live key on Stripe over TLS", h: Handler{StripeKey: live, Catalog: shippedCatalog}},
		{name: "live key to an http api_base", h: Handler{StripeKey: live, Catalog: shippedCatalog, APIBase: "http://127.0.0.1:12111"}, wantErr: "only sent to an https api_base"},
		{name: "restricted live key to an http api_base", h: Handler{StripeKey: restrictedLive, Catalog: shippedCatalog, APIBase: "http://stripe.internal"}, wantErr: "https api_base"},
		{name: "live key on a server without TLS", h: Handler{StripeKey: live, Catalog: shippedCatalog, plainServer: true}, wantErr: "server without TLS"},
		{name: "test key on a server without TLS", h: Handler{StripeKey: test, Catalog: shippedCatalog, plainServer: true}},
		{name: "live key on a server without TLS behind a TLS proxy", h: Handler{StripeKey: live, Catalog: shippedCatalog, plainServer: true, BehindTLSProxy: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.h
			s := store.NewMemory(time.Now)
			defer s.Close()
			err := h.setUp(s, zap.NewNop(), zap.NewNop(), caddy.NewReplacer())
			if err == nil {
				err = h.Validate()
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want the configuration accepted", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
			for _, secret := range []string{"sk_live_abc123", "rk_live_abc123", "pk_test_abc123", testKey} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q holds the key", err)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	th := newTestHandler(t, "", func(h *Handler) { h.APIBase, h.MaxNetworkRetries = "", nil })
	if th.h.APIBase != defaultAPIBase || time.Duration(th.h.Timeout) != defaultTimeout || *th.h.MaxNetworkRetries != defaultRetries {
		t.Errorf("defaults: api_base %q, timeout %v, retries %d", th.h.APIBase, th.h.Timeout, *th.h.MaxNetworkRetries)
	}
}

// TestLiveKeyRefusedOverPlainHTTP: a live key is never used for a request
// that did not arrive over TLS, even where start-up could not tell.
func TestLiveKeyRefusedOverPlainHTTP(t *testing.T) {
	th := newTestHandler(t, "https://stripe.invalid", func(h *Handler) { h.StripeKey = keyFile(t, "sk_live_abc123") })
	r, _ := http.NewRequest(http.MethodGet, "http://pay.example.com/v1/payment_methods", nil)
	_, e := th.serve(r, "alice")
	wantError(t, e, http.StatusInternalServerError, "internal_error")
	if n := th.logs.FilterMessageSnippet("live Stripe key").FilterField(zap.Bool("alert", true)).Len(); n != 1 {
		t.Errorf("%d alert log lines, want 1:\n%s", n, th.allLogs())
	}
}

// TestLiveKeyBehindATrustedTLSProxy: behind a load balancer that terminated
// TLS (a trusted proxy saying https), the live key serves; the same request
// from an untrusted peer, X-Forwarded-Proto and all, is refused.
func TestLiveKeyBehindATrustedTLSProxy(t *testing.T) {
	th := newTestHandler(t, "https://stripe.invalid", func(h *Handler) {
		h.StripeKey, h.BehindTLSProxy = keyFile(t, "sk_live_abc123"), true
	})
	for _, trusted := range []bool{true, false} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "http://pay.example.com/v1/payment_methods", nil)
		r.TLS = nil
		r.Header.Set("X-Forwarded-Proto", "https")
		r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, &caddyhttp.Server{})
		caddyhttp.SetVar(r.Context(), caddyhttp.TrustedProxyVarKey, trusted)
		err := th.serving.ServeHTTP(w, r, nil)
		var e *apierror.Error
		errors.As(err, &e)
		// Without a user the dispatch answers 401: the live-key check let
		// the request through.
		if trusted && (e == nil || e.Status != http.StatusUnauthorized) {
			t.Errorf("trusted proxy: err = %v, want the dispatch's 401", err)
		}
		if !trusted && (e == nil || e.Status != http.StatusInternalServerError) {
			t.Errorf("untrusted peer: err = %v, want the live-key refusal", err)
		}
	}
}
