package apierror

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func TestResolve(t *testing.T) {
	secret := errors.New("dial tcp 10.0.0.7:6379: connection refused (password hunter2)")
	tests := []struct {
		name       string
		err        error
		status     int
		wantStatus int
		wantCode   string
	}{
		{"paygate error", TLSRequired.WithCause(secret), 403, 403, "tls_required"},
		{"wrapped paygate error", fmt.Errorf("stage: %w", StoreUnavailable.WithCause(secret)), 500, 503, "store_unavailable"},
		{"caddy 413", secret, 413, 413, "body_too_large"},
		{"caddy 404", nil, 404, 404, "resource_missing"},
		{"caddy 401", nil, 401, 401, "unauthorized"},
		{"caddy 429", nil, 429, 429, "rate_limited"},
		{"proxy 502", secret, 502, 502, "upstream_unavailable"},
		{"other 4xx", nil, 418, 418, "bad_request"},
		{"other 5xx", secret, 500, 500, "internal_error"},
		{"no status", secret, 0, 500, "internal_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Resolve(tt.err, tt.status)
			if e.Status != tt.wantStatus || e.Code != tt.wantCode {
				t.Errorf("got %d %s, want %d %s", e.Status, e.Code, tt.wantStatus, tt.wantCode)
			}
			if strings.Contains(e.Message, "hunter2") || strings.Contains(e.Message, "10.0.0.7") {
				t.Errorf("message names the cause: %q", e.Message)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	w := httptest.NewRecorder()
	w.Header().Set("Content-Encoding", "gzip") // left behind by a failed upstream
	e := New(http.StatusConflict, TypeIdempotency, "idempotency_key_in_use", "Retry shortly.").
		WithHeader("Retry-After", "1").
		WithCause(errors.New("lease held by replica 2"))
	Write(w, e, "req_123")

	if w.Code != http.StatusConflict {
		t.Errorf("status = %d, want 409", w.Code)
	}
	for k, v := range map[string]string{
		"Content-Type":     "application/json; charset=utf-8",
		"Retry-After":      "1",
		"Cache-Control":    "no-store",
		"Content-Encoding": "",
	} {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	var got map[string]map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, w.Body)
	}
	want := map[string]string{"type": "idempotency_error", "code": "idempotency_key_in_use", "message": "Retry shortly.", "request_id": "req_123"}
	if fmt.Sprint(got["error"]) != fmt.Sprint(want) {
		t.Errorf("body = %v, want error %v", got, want)
	}
	if strings.Contains(w.Body.String(), "replica") {
		t.Errorf("body leaks the cause: %s", w.Body)
	}
	if n := w.Header().Get("Content-Length"); n != fmt.Sprint(w.Body.Len()) {
		t.Errorf("Content-Length = %s, body is %d bytes", n, w.Body.Len())
	}
}

func TestWithDoesNotMutateShared(t *testing.T) {
	_ = TLSRequired.WithHeader("X-A", "1").WithCause(errors.New("x"))
	if TLSRequired.Header != nil || TLSRequired.Cause != nil {
		t.Fatal("WithHeader/WithCause changed the shared error")
	}
}

// TestWriteRetryAfterOn503: every 503 tells clients (and Stripe's retries)
// when to come back; an error's own Retry-After wins; other statuses get none.
func TestWriteRetryAfterOn503(t *testing.T) {
	tests := []struct {
		name string
		e    *Error
		want string
	}{
		{"store unavailable", StoreUnavailable, RetryAfter},
		{"generic 503", forStatus(http.StatusServiceUnavailable), RetryAfter},
		{"own value", StoreUnavailable.WithHeader("Retry-After", "7"), "7"},
		{"404", ResourceMissing, ""},
		{"502", forStatus(http.StatusBadGateway), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			Write(w, tt.e, "req_1")
			if got := w.Header().Get("Retry-After"); got != tt.want {
				t.Errorf("Retry-After = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestAnswer checks the error a request is answered with for what its
// handlers returned: a HandlerError's status, its *Error when it holds
// one, the pending error a stage recorded for a bare HandlerError, and
// 500 for an error that is no HandlerError.
func TestAnswer(t *testing.T) {
	request := func(pending *Error) *http.Request {
		r := caddyhttp.PrepareRequest(httptest.NewRequest("GET", "https://pay.example.com/v1/x", nil), caddy.NewReplacer(), httptest.NewRecorder(), &caddyhttp.Server{})
		if pending != nil {
			SetPending(r, pending)
		}
		return r
	}
	bare401 := caddyhttp.Error(http.StatusUnauthorized, errors.New("not authenticated"))
	for _, tc := range []struct {
		name     string
		r        *http.Request
		err      error
		wantCode string
	}{
		{"bare 401", request(nil), bare401, "unauthorized"},
		{"bare 401, keys unavailable pending", request(AuthUnavailable), bare401, AuthUnavailable.Code},
		{"paygate error", request(AuthUnavailable), caddyhttp.Error(http.StatusForbidden, TLSRequired), TLSRequired.Code},
		{"no HandlerError", request(nil), errors.New("boom"), "internal_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if e := Answer(tc.r, tc.err); e.Code != tc.wantCode {
				t.Errorf("Answer = %d %s, want %s", e.Status, e.Code, tc.wantCode)
			}
		})
	}
}
