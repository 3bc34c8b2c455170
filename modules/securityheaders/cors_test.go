package securityheaders

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/testenv"
)

func TestCORSOriginsValidated(t *testing.T) {
	for _, tt := range []struct {
		origin string
		ok     bool
	}{
		{"https://shop.example.com", true},
		{"HTTPS://Shop.Example.com:443", true},
		{"http://localhost:3000", true},
		{"http://shop.example.com", false},
		{"*", false},
		{"https://*.example.com", false},
		{"https://shop.example.com/path", false},
		{"null", false},
	} {
		h := &Handler{CORS: []string{tt.origin}}
		if err := h.Provision(caddy.Context{}); (err == nil) != tt.ok {
			t.Errorf("cors %q: err = %v, want ok = %v", tt.origin, err, tt.ok)
		}
	}
}

// corsServe runs the handler with cors https://shop.example.com on a
// request from origin (none when "") to an upstream that answers with its
// own CORS fields, reflecting any origin with credentials.
func corsServe(t *testing.T, method, origin string, header http.Header) (*httptest.ResponseRecorder, bool) {
	t.Helper()
	h := testenv.Provision(t, &Handler{Preset: "api", CORS: []string{"https://shop.example.com"}})
	w := httptest.NewRecorder()
	r := httptest.NewRequest(method, "https://pay.example.com/v1/payment_methods", nil)
	for k, v := range header {
		r.Header[k] = v
	}
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, &caddyhttp.Server{})
	reached := false
	err := h.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		reached = true
		w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		w.Header().Set("Access-Control-Allow-Methods", "*")
		w.Header().Set("Vary", "Accept-Encoding")
		w.WriteHeader(http.StatusOK)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	return w, reached
}

func TestCORS(t *testing.T) {
	preflight := http.Header{"Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"authorization, idempotency-key"}}
	t.Run("allowed origin", func(t *testing.T) {
		w, _ := corsServe(t, "GET", "https://shop.example.com", nil)
		hdr := w.Header()
		if got := hdr.Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != "https://shop.example.com" {
			t.Errorf("Access-Control-Allow-Origin = %q", got)
		}
		if hdr.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(hdr.Get("Access-Control-Expose-Headers"), "X-Request-Id") {
			t.Errorf("credentials %q, exposed %q", hdr.Get("Access-Control-Allow-Credentials"), hdr.Get("Access-Control-Expose-Headers"))
		}
		if hdr.Get("Access-Control-Allow-Methods") != "" {
			t.Error("the upstream's Access-Control-Allow-Methods reached the client")
		}
		if got := hdr.Values("Vary"); strings.Join(got, ",") != "Origin,Accept-Encoding" && strings.Join(got, ",") != "Accept-Encoding,Origin" {
			t.Errorf("Vary = %q, want Origin once beside the upstream's", got)
		}
	})
	for _, origin := range []string{"https://evil.example", "null", "http://shop.example.com", ""} {
		t.Run("other origin "+origin, func(t *testing.T) {
			w, _ := corsServe(t, "GET", origin, nil)
			for k := range w.Header() {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Errorf("%s: %q reached the client", k, w.Header()[k])
				}
			}
		})
	}
	t.Run("preflight, allowed origin", func(t *testing.T) {
		w, reached := corsServe(t, "OPTIONS", "https://shop.example.com", preflight)
		if reached || w.Code != http.StatusNoContent {
			t.Fatalf("status %d, reached the route %v; want 204 answered here", w.Code, reached)
		}
		hdr := w.Header()
		if hdr.Get("Access-Control-Allow-Origin") != "https://shop.example.com" || !strings.Contains(hdr.Get("Access-Control-Allow-Headers"), "Idempotency-Key") ||
			!strings.Contains(hdr.Get("Access-Control-Allow-Methods"), "POST") || hdr.Get("Content-Security-Policy") == "" || hdr.Get("X-Request-Id") == "" {
			t.Errorf("preflight answer headers %v", hdr)
		}
	})
	t.Run("preflight, other origin", func(t *testing.T) {
		w, reached := corsServe(t, "OPTIONS", "https://evil.example", preflight)
		if !reached || w.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("reached the route %v, Access-Control-Allow-Origin %q; want passed on, without CORS fields", reached, w.Header().Get("Access-Control-Allow-Origin"))
		}
	})
}
