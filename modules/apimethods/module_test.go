package apimethods

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/apierror"
)

func TestServeHTTP(t *testing.T) {
	var h Handler
	if err := h.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		method, target string
		status         int // 0: passed on
		code, allow    string
	}{
		{"POST", "/v1/payment_intents", 0, "", ""},
		{"GET", "/v1/payment_intents/pi_1", 0, "", ""},
		{"GET", "/v1/setup_intents/seti_1", 0, "", ""},
		{"DELETE", "/v1/customers/me", 0, "", ""},
		// Not the API's paths: for later stages to answer.
		{"GET", "/v1/refunds", 0, "", ""},
		{"DELETE", "/v1/payment_intents/pi_1/refund", 0, "", ""},
		{"GET", "/v1/payment_intents%2Fpi_1", 0, "", ""},
		// Known methods a route does not take.
		{"GET", "/v1/payment_intents", 405, "method_not_allowed", "POST"},
		{"DELETE", "/v1/payment_intents/pi_1", 405, "method_not_allowed", "GET"},
		{"GET", "/v1/payment_intents/pi_1/confirm", 405, "method_not_allowed", "POST"},
		{"POST", "/v1/payment_methods", 405, "method_not_allowed", "GET"},
		{"GET", "/v1/customers/me", 405, "method_not_allowed", "DELETE"},
		{"HEAD", "/v1/payment_methods", 405, "method_not_allowed", "GET"},
		{"OPTIONS", "/v1/setup_intents", 405, "method_not_allowed", "POST"},
		// Methods the API does not implement, on any path.
		{"PUT", "/v1/payment_intents", 501, "method_not_implemented", ""},
		{"PATCH", "/v1/payment_methods/pm_1", 501, "method_not_implemented", ""},
		{"TRACE", "/v1/payment_intents", 501, "method_not_implemented", ""},
		{"post", "/v1/payment_intents", 501, "method_not_implemented", ""},
		{"Get", "/v1/payment_methods", 501, "method_not_implemented", ""},
		{"FOO", "/v1/refunds", 501, "method_not_implemented", ""},
	} {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			r := httptest.NewRequest("GET", "https://pay.example.com"+tt.target, nil)
			r.Method = tt.method
			passed := false
			next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { passed = true; return nil })
			err := h.ServeHTTP(httptest.NewRecorder(), r, next)
			if tt.status == 0 {
				if err != nil || !passed {
					t.Fatalf("got %v, passed on %v; want it passed on", err, passed)
				}
				return
			}
			if passed {
				t.Fatal("passed on, want refused")
			}
			var he caddyhttp.HandlerError
			var e *apierror.Error
			if !errors.As(err, &he) || !errors.As(err, &e) || he.StatusCode != tt.status {
				t.Fatalf("got %v, want a %d API error", err, tt.status)
			}
			if e.Status != tt.status || e.Code != tt.code || e.Header.Get("Allow") != tt.allow {
				t.Errorf("got %d %s Allow %q, want %d %s Allow %q", e.Status, e.Code, e.Header.Get("Allow"), tt.status, tt.code, tt.allow)
			}
		})
	}
}

func TestUnmarshalCaddyfile(t *testing.T) {
	for _, tt := range []struct {
		input, wantErr string
	}{
		{"api_methods", ""},
		{"api_methods GET", "api_methods takes no arguments and no block"},
		{"api_methods {\nallow PUT\n}", "api_methods takes no arguments and no block"},
	} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%q: err = %v, want %q", tt.input, err, tt.wantErr)
		}
	}
}
