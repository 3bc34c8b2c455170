package apiresponse

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/testenv"
)

// serve runs h in front of upstream and returns what the client got and
// the error for handle_errors.
func serve(t *testing.T, h *Handler, upstream func(w http.ResponseWriter)) (*httptest.ResponseRecorder, error) {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "https://pay.example.com/v1/payment_methods", nil)
	r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, &caddyhttp.Server{})
	err := h.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
		upstream(w)
		return nil
	}))
	return w, err
}

func TestCompleteResponsePassesUnchanged(t *testing.T) {
	h := testenv.Provision(t, &Handler{})
	w, err := serve(t, h, func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusEarlyHints) // interim: not passed on
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":`)
		http.NewResponseController(w).Flush() // held until the end
		_, _ = io.WriteString(w, `"pi_1"}`)
	})
	if err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusCreated || w.Body.String() != `{"id":"pi_1"}` || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("got %d %q %v, want 201 and the body and header as sent", w.Code, w.Body, w.Header())
	}
}

func TestReplacedResponses(t *testing.T) {
	bigHeader := strings.Repeat("a", 40<<10)
	tests := []struct {
		name     string
		upstream func(w http.ResponseWriter)
		status   int
		code     string
	}{
		{"500 with a stack trace", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, "panic: runtime error at 10.0.3.7:5432\ngoroutine 1 [running]")
		}, http.StatusInternalServerError, "internal_error"},
		{"502 from the application's own proxy", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, "<html>nginx/1.25 upstream 10.0.3.7</html>")
		}, http.StatusBadGateway, "upstream_unavailable"},
		{"503", func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) }, http.StatusServiceUnavailable, "upstream_unavailable"},
		{"body over the limit", func(w http.ResponseWriter) {
			for range 3 {
				if _, err := w.Write(make([]byte, 600<<10)); err != nil {
					return
				}
			}
		}, http.StatusBadGateway, "upstream_response_invalid"},
		{"header over the limit", func(w http.ResponseWriter) {
			w.Header().Set("X-Big", bigHeader)
			_, _ = io.WriteString(w, "{}")
		}, http.StatusBadGateway, "upstream_response_invalid"},
		{"body broken off", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, `{"data":[{"id":"pm_1"`)
			panic(http.ErrAbortHandler) // what reverse_proxy does
		}, http.StatusBadGateway, "upstream_unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testenv.Provision(t, &Handler{})
			w, err := serve(t, h, tt.upstream)
			if w.Body.Len() != 0 || w.Code != http.StatusOK || len(w.Header()) != 0 {
				t.Errorf("something reached the client: %d %v %q", w.Code, w.Header(), w.Body)
			}
			var he caddyhttp.HandlerError
			var e *apierror.Error
			if !errors.As(err, &he) || !errors.As(err, &e) {
				t.Fatalf("err = %v, want a handler error with an API error", err)
			}
			if he.StatusCode != tt.status || e.Status != tt.status || e.Code != tt.code {
				t.Errorf("answer = %d %d %s, want %d %s", he.StatusCode, e.Status, e.Code, tt.status, tt.code)
			}
			for _, leak := range []string{"10.0.3.7", "panic", "nginx"} {
				if strings.Contains(e.Message, leak) {
					t.Errorf("message %q names the upstream's %q", e.Message, leak)
				}
			}
		})
	}
}

func TestOtherPanicsPropagate(t *testing.T) {
	h := testenv.Provision(t, &Handler{})
	defer func() {
		if v := recover(); v != "boom" {
			t.Errorf("recovered %v, want the handler's own panic", v)
		}
	}()
	_, _ = serve(t, h, func(http.ResponseWriter) { panic("boom") })
}

func TestLimitsConfigurable(t *testing.T) {
	h := testenv.Provision(t, &Handler{MaxBody: 4})
	if _, err := serve(t, h, func(w http.ResponseWriter) { _, _ = io.WriteString(w, "12345") }); err == nil {
		t.Error("a 5-byte body passed a 4-byte limit")
	}
	if w, err := serve(t, h, func(w http.ResponseWriter) { _, _ = io.WriteString(w, "1234") }); err != nil || w.Body.String() != "1234" {
		t.Errorf("a 4-byte body: %v %q", err, w.Body)
	}
}
