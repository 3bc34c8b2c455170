package requestguard

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/testenv"
)

// serve runs h on r and returns the request the next handler saw (nil if
// none), the response headers and the error.
func serve(t *testing.T, h *Handler, r *http.Request) (*http.Request, http.Header, error) {
	t.Helper()
	w := httptest.NewRecorder()
	r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, &caddyhttp.Server{})
	var seen *http.Request
	err := h.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) error {
		seen = r
		return nil
	}))
	return seen, w.Header(), err
}

func apiErr(t *testing.T, err error) *apierror.Error {
	t.Helper()
	var e *apierror.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want an API error", err)
	}
	return e
}

func TestStripsSpoofedHeaders(t *testing.T) {
	h := testenv.Provision(t, &Handler{})
	r := httptest.NewRequest(http.MethodGet, "https://pay.example.com/v1/payment_methods", nil)
	for _, name := range []string{"X-Forwarded-User", "x-auth-request-user", "X_Auth_Request_Email", "Remote-User", "X-Remote-User",
		"X-Original-URL", "X-Rewrite-URL", "X-Forwarded-Prefix", "X-Original-Method", "X-HTTP-Method-Override", "X_User_Id",
		"Forwarded", "X-Real-Ip", "x-client-ip", "True_Client_IP", "X-Forwarded-Uri", "X-Forwarded-Method", "X_Request_Id"} {
		r.Header[name] = []string{"attacker"}
	}
	r.Header.Set("Accept", "application/json")
	seen, _, err := serve(t, h, r)
	if err != nil || seen == nil {
		t.Fatalf("err = %v, passed on = %v", err, seen != nil)
	}
	for name, v := range seen.Header {
		switch {
		case name == "X-Request-Id":
			if len(v) != 1 || v[0] == "attacker" || v[0] == "" {
				t.Errorf("X-Request-Id = %q, want paygate's own", v)
			}
		case name != "Accept":
			t.Errorf("%s: %q reached the next handler", name, v)
		}
	}
}

func TestTrailersRefused(t *testing.T) {
	for _, tt := range []struct {
		preset, trailer string
		refused         bool
	}{
		{PresetAPI, "X-Checksum", true},
		{PresetAPI, "X-User-Id", true},
		{PresetPage, "X-User-Id", true},
		{PresetPage, "x_http_method_override", true},
		{PresetPage, "X-Request-Id", true},
		{PresetPage, "X-Checksum", false},
	} {
		h := testenv.Provision(t, &Handler{Preset: tt.preset})
		r := httptest.NewRequest(http.MethodGet, "https://pay.example.com/v1/payment_methods", nil)
		r.Trailer = http.Header{tt.trailer: nil}
		seen, _, err := serve(t, h, r)
		if !tt.refused {
			if err != nil || seen == nil {
				t.Errorf("%s, trailer %s: err = %v, passed on = %v; want passed on", tt.preset, tt.trailer, err, seen != nil)
			}
			continue
		}
		if seen != nil {
			t.Errorf("%s, trailer %s: passed on, want refused", tt.preset, tt.trailer)
			continue
		}
		if e := apiErr(t, err); e.Status != http.StatusBadRequest || e.Code != "trailers_not_accepted" {
			t.Errorf("%s, trailer %s: %d %s, want 400 trailers_not_accepted", tt.preset, tt.trailer, e.Status, e.Code)
		}
	}
}

func TestConfiguredStripList(t *testing.T) {
	h := testenv.Provision(t, &Handler{StripHeaders: []string{"X-Tenant"}})
	r := httptest.NewRequest(http.MethodGet, "https://pay.example.com/", nil)
	r.Header.Set("X-Tenant", "t1")
	r.Header.Set("X-Forwarded-User", "kept: not in the configured list")
	seen, _, _ := serve(t, h, r)
	if seen.Header.Get("X-Tenant") != "" || seen.Header.Get("X-Forwarded-User") == "" {
		t.Errorf("headers after the guard: %v", seen.Header)
	}
}

func TestConnectionCannotNameProtectedHeaders(t *testing.T) {
	h := testenv.Provision(t, &Handler{})
	r := httptest.NewRequest(http.MethodGet, "https://pay.example.com/v1/payment_methods", nil)
	r.Header.Add("Connection", "close, X-User-Id")
	r.Header.Add("Connection", "x_request_id, Keep-Alive")
	seen, _, _ := serve(t, h, r)
	if got := seen.Header.Values("Connection"); strings.Join(got, "|") != "close|Keep-Alive" {
		t.Errorf("Connection = %q, want the protected names gone", got)
	}
}

func TestHTTP10ClosesTheConnection(t *testing.T) {
	h := testenv.Provision(t, &Handler{})
	r := httptest.NewRequest(http.MethodGet, "https://pay.example.com/v1/payment_methods", nil)
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.0", 1, 0
	_, header, _ := serve(t, h, r)
	if header.Get("Connection") != "close" {
		t.Errorf("Connection = %q, want close", header.Get("Connection"))
	}
}

func TestRefusals(t *testing.T) {
	many := strings.Repeat("a=1&", 100) + "a=1"
	tests := []struct {
		name   string
		preset string
		build  func(r *http.Request)
		target string
		status int
		code   string
	}{
		{"header section too large", PresetPage, func(r *http.Request) { r.Header.Set("X-Pad", strings.Repeat("a", 17<<10)) }, "/", 431, "request_headers_too_large"},
		{"too many query parameters", PresetPage, nil, "/?" + many, 400, "too_many_query_parameters"},
		{"repeated parameter", PresetAPI, nil, "/v1/payment_methods?limit=1&limit=2", 400, "repeated_query_parameter"},
		{"malformed query", PresetAPI, nil, "/v1/payment_methods?a=%zz", 400, "invalid_query"},
		{"semicolon query", PresetAPI, nil, "/v1/payment_methods?a=1;b=2", 400, "invalid_query"},
		{"chunked body", PresetAPI, func(r *http.Request) { r.TransferEncoding = []string{"chunked"}; r.ContentLength = -1 }, "/v1/payment_intents", 411, "content_length_required"},
		{"utf-16 JSON", PresetAPI, jsonBody("application/json; charset=utf-16"), "/v1/payment_intents", 415, "unsupported_media_type"},
		{"text", PresetAPI, jsonBody("text/plain"), "/v1/payment_intents", 415, "unsupported_media_type"},
		{"JSON with another parameter", PresetAPI, jsonBody("application/json; boundary=x"), "/v1/payment_intents", 415, "unsupported_media_type"},
		{"no content type", PresetAPI, jsonBody(""), "/v1/payment_intents", 415, "unsupported_media_type"},
		{"two content types", PresetAPI, func(r *http.Request) {
			jsonBody("application/json")(r)
			r.Header.Add("Content-Type", "text/plain")
		}, "/v1/payment_intents", 415, "unsupported_media_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testenv.Provision(t, &Handler{Preset: tt.preset})
			r := httptest.NewRequest(http.MethodPost, "https://pay.example.com"+tt.target, nil)
			if tt.build != nil {
				tt.build(r)
			}
			seen, _, err := serve(t, h, r)
			if seen != nil {
				t.Fatal("the request was passed on")
			}
			if e := apiErr(t, err); e.Status != tt.status || e.Code != tt.code {
				t.Errorf("answer = %d %s, want %d %s", e.Status, e.Code, tt.status, tt.code)
			}
		})
	}
}

func TestAccepted(t *testing.T) {
	tests := []struct {
		name   string
		preset string
		build  func(r *http.Request)
		target string
	}{
		{"JSON", PresetAPI, jsonBody("application/json"), "/v1/payment_intents"},
		{"JSON, utf-8 in any case", PresetAPI, jsonBody("Application/JSON; Charset=UTF-8"), "/v1/payment_intents"},
		{"no body, no type", PresetAPI, nil, "/v1/payment_intents/pi_1/cancel"},
		{"100 parameters", PresetAPI, nil, "/v1/payment_methods?" + params(100)},
		{"page: repeated parameters", PresetPage, nil, "/search?q=1&q=2"},
		{"page: chunked form", PresetPage, func(r *http.Request) {
			r.TransferEncoding = []string{"chunked"}
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}, "/contact"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testenv.Provision(t, &Handler{Preset: tt.preset})
			r := httptest.NewRequest(http.MethodPost, "https://pay.example.com"+tt.target, nil)
			if tt.build != nil {
				tt.build(r)
			}
			if seen, _, err := serve(t, h, r); err != nil || seen == nil {
				t.Errorf("err = %v, passed on = %v", err, seen != nil)
			}
		})
	}
}

func jsonBody(contentType string) func(r *http.Request) {
	return func(r *http.Request) {
		r.ContentLength = 2
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
	}
}

func params(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString("p")
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString("=1")
	}
	return b.String()
}
