package securityheaders

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/testenv"
)

// serve runs h in front of next over TLS (unless plain) and returns the
// recorded response.
func serve(t *testing.T, h *Handler, plain bool, next caddyhttp.HandlerFunc) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "https://pay.example.com/v1/x", nil)
	if plain {
		r.TLS = nil
	} else {
		r.TLS = &tls.ConnectionState{Version: tls.VersionTLS13}
	}
	r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, &caddyhttp.Server{})
	if err := h.ServeHTTP(w, r, next); err != nil {
		t.Fatalf("ServeHTTP: %v", err)
	}
	return w
}

func TestPresetHeadersOnEveryPath(t *testing.T) {
	h := testenv.Provision(t, &Handler{})
	writers := map[string]caddyhttp.HandlerFunc{
		"write header": func(w http.ResponseWriter, _ *http.Request) error {
			w.WriteHeader(http.StatusCreated)
			return nil
		},
		"implicit write": func(w http.ResponseWriter, _ *http.Request) error {
			_, err := w.Write([]byte("ok"))
			return err
		},
		"read from": func(w http.ResponseWriter, _ *http.Request) error {
			_, err := w.(io.ReaderFrom).ReadFrom(strings.NewReader("ok"))
			return err
		},
		"flush": func(w http.ResponseWriter, _ *http.Request) error {
			w.(http.Flusher).Flush()
			return nil
		},
		"error from a later stage": func(http.ResponseWriter, *http.Request) error {
			return caddyhttp.Error(http.StatusUnauthorized, nil)
		},
	}
	for name, next := range writers {
		t.Run(name, func(t *testing.T) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "https://pay.example.com/", nil)
			r.TLS = &tls.ConnectionState{Version: tls.VersionTLS13}
			r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, &caddyhttp.Server{})
			_ = h.ServeHTTP(w, r, next) // a later stage's error is rendered elsewhere
			for k, v := range presets["stripe"] {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if w.Header().Get("X-Request-Id") == "" {
				t.Error("X-Request-Id missing")
			}
		})
	}
}

func TestUpstreamCannotWeaken(t *testing.T) {
	h := testenv.Provision(t, &Handler{Preset: "api"})
	w := serve(t, h, false, func(w http.ResponseWriter, _ *http.Request) error {
		hdr := w.Header()
		hdr.Set("Strict-Transport-Security", "max-age=0")
		hdr.Add("Content-Security-Policy", "default-src *")
		hdr.Set("Cache-Control", "public, max-age=3600")
		hdr.Set("X-Powered-By", "Express")
		hdr.Set("Server", "nginx/1.18.0")
		hdr.Set("X-AspNet-Version", "4.0.30319")
		hdr.Set("X-AspNetMvc-Version", "5.2")
		hdr.Set("X-Request-Id", "forged")
		w.WriteHeader(http.StatusOK)
		return nil
	})
	want := map[string]string{
		"Strict-Transport-Security": "max-age=63072000; includeSubDomains",
		"Content-Security-Policy":   apiCSP,
		"Cache-Control":             "no-store",
		"X-Powered-By":              "",
		"Server":                    "",
		"X-AspNet-Version":          "",
		"X-AspNetMvc-Version":       "",
	}
	for k, v := range want {
		if got := w.Header().Values(k); v == "" && len(got) != 0 || v != "" && (len(got) != 1 || got[0] != v) {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if got := w.Header().Get("X-Request-Id"); got == "forged" || got == "" {
		t.Errorf("X-Request-Id = %q, want paygate's own", got)
	}
}

func TestHSTSOnlyOverTLS(t *testing.T) {
	h := testenv.Provision(t, &Handler{})
	w := serve(t, h, true, func(w http.ResponseWriter, _ *http.Request) error {
		w.Header().Set("Strict-Transport-Security", "max-age=0")
		w.WriteHeader(http.StatusForbidden)
		return nil
	})
	if got := w.Header().Values("Strict-Transport-Security"); len(got) != 0 {
		t.Errorf("Strict-Transport-Security over plain HTTP = %q, want none", got)
	}
	if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
	}
}

func TestOverrides(t *testing.T) {
	h := testenv.Provision(t, &Handler{
		Set: map[string]string{
			"Referrer-Policy":            "no-referrer",
			"Cross-Origin-Opener-Policy": "",
			"X-Extra":                    "1",
		},
		Remove: []string{"X-Runtime"},
	})
	w := serve(t, h, false, func(w http.ResponseWriter, _ *http.Request) error {
		w.Header().Set("X-Runtime", "0.1")
		w.Header().Set("Cross-Origin-Opener-Policy", "unsafe-none")
		w.WriteHeader(http.StatusOK)
		return nil
	})
	for k, v := range map[string]string{
		"Referrer-Policy":            "no-referrer",
		"X-Extra":                    "1",
		"X-Runtime":                  "",
		"Cross-Origin-Opener-Policy": "unsafe-none", // omitted from the set: no longer enforced
	} {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestStripeCSP(t *testing.T) {
	csp := presets["stripe"]["Content-Security-Policy"]
	for _, must := range []string{
		"script-src 'self' https://js.stripe.com",
		"https://hooks.stripe.com",
		"connect-src 'self' https://api.stripe.com",
		"object-src 'none'",
		"base-uri",
		"frame-ancestors 'none'",
	} {
		if !strings.Contains(csp, must) {
			t.Errorf("CSP lacks %q: %s", must, csp)
		}
	}
	for _, mustNot := range []string{"unsafe-inline", "unsafe-eval", "*;", " * "} {
		if strings.Contains(csp, mustNot) {
			t.Errorf("CSP contains %q: %s", mustNot, csp)
		}
	}
	for _, p := range presets {
		if !strings.Contains(p["Strict-Transport-Security"], "includeSubDomains") {
			t.Error("HSTS lacks includeSubDomains")
		}
	}
}

func TestProvisionAndValidateErrors(t *testing.T) {
	for name, h := range map[string]*Handler{
		"unknown preset":       {Preset: "lax"},
		"bad header name":      {Set: map[string]string{"Bad Header": "x"}},
		"header injection":     {Set: map[string]string{"X-A": "a\r\nSet-Cookie: x"}},
		"bad header to remove": {Remove: []string{"a:b"}},
	} {
		t.Run(name, func(t *testing.T) {
			err := h.Provision(caddy.Context{})
			if err == nil {
				err = h.Validate()
			}
			if err == nil {
				t.Fatal("got no error")
			}
		})
	}
}
