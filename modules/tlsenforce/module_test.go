package tlsenforce

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/apierror"
)

func TestServeHTTP(t *testing.T) {
	tests := []struct {
		name       string
		minVersion string
		tls        uint16 // 0: plain HTTP
		trusted    bool   // Caddy's trusted_proxies vouched for the peer
		proto      []string
		wantCode   string // "" = passed on
	}{
		{name: "tls 1.3", tls: tls.VersionTLS13},
		{name: "tls 1.2", tls: tls.VersionTLS12},
		{name: "tls 1.2 on a 1.3 route", minVersion: "1.3", tls: tls.VersionTLS12, wantCode: "tls_version_too_low"},
		{name: "tls 1.1", tls: tls.VersionTLS11, wantCode: "tls_version_too_low"},
		{name: "plain http", wantCode: "tls_required"},
		{name: "forged X-Forwarded-Proto", proto: []string{"https"}, wantCode: "tls_required"},
		{name: "trusted proxy says https", trusted: true, proto: []string{"https"}},
		{name: "trusted proxy says HTTPS", trusted: true, proto: []string{"HTTPS"}},
		{name: "trusted proxy says http", trusted: true, proto: []string{"http"}, wantCode: "tls_required"},
		{name: "trusted proxy without header", trusted: true, wantCode: "tls_required"},
		{name: "client https appended by proxy http", trusted: true, proto: []string{"https, http"}, wantCode: "tls_required"},
		{name: "client https then proxy line http", trusted: true, proto: []string{"https", "http"}, wantCode: "tls_required"},
		{name: "chain ending in https", trusted: true, proto: []string{"http, https"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &Handler{MinVersion: tt.minVersion}
			if err := h.Provision(caddy.Context{}); err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPost, "http://pay.example.com/v1/payment_intents", nil)
			r.TLS = nil
			if tt.tls != 0 {
				r.TLS = &tls.ConnectionState{Version: tt.tls}
			}
			for _, p := range tt.proto {
				r.Header.Add("X-Forwarded-Proto", p)
			}
			r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, &caddyhttp.Server{})
			caddyhttp.SetVar(r.Context(), caddyhttp.TrustedProxyVarKey, tt.trusted)

			called := false
			err := h.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
				called = true
				return nil
			}))
			if tt.wantCode == "" {
				if err != nil || !called {
					t.Fatalf("err = %v, next called = %v; want the request passed on", err, called)
				}
				return
			}
			if called {
				t.Fatal("next handler ran for a refused request")
			}
			var he caddyhttp.HandlerError
			var ae *apierror.Error
			if !errors.As(err, &he) || he.StatusCode != http.StatusForbidden || !errors.As(err, &ae) || ae.Code != tt.wantCode {
				t.Fatalf("err = %v, want 403 %s", err, tt.wantCode)
			}
			if w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Location") != "" {
				t.Errorf("handler wrote a response itself (status %d, Location %q)", w.Code, w.Header().Get("Location"))
			}
		})
	}
}

func TestProvisionRejectsUnknownVersion(t *testing.T) {
	for _, v := range []string{"1.0", "1.1", "tls1.3", "2"} {
		if err := (&Handler{MinVersion: v}).Provision(caddy.Context{}); err == nil {
			t.Errorf("min_version %q: got no error", v)
		}
	}
}
