package apiresponse

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/testenv"
)

// BenchmarkHoldResponse is the stage's cost on a typical API answer: a
// 1 KB JSON body held and then written.
func BenchmarkHoldResponse(b *testing.B) {
	h := testenv.Provision(b, &Handler{})
	body := `{"data":[` + strings.Repeat(`{"id":"pm_1NvZQa2eZvKYlo2CnLtoMzIo","brand":"visa","last4":"4242"},`, 14) + `{}]}`
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
		w.Header().Set("Content-Type", "application/json")
		_, err := io.WriteString(w, body)
		return err
	})
	r := httptest.NewRequest(http.MethodGet, "https://pay.example.com/v1/payment_methods", nil)
	r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), httptest.NewRecorder(), &caddyhttp.Server{})
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := h.ServeHTTP(discard{}, r, next); err != nil {
			b.Fatal(err)
		}
	}
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) WriteHeader(int)             {}
