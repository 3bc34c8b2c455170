package carddataguard

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/testenv"
)

const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiI0MjQyNDI0MjQyNDI0MjQyIn0.a4242424242424242b-4242424242424242_4242424242424242"

// provisioned provisions and validates h; its audit events go to the
// returned observer.
func provisioned(t *testing.T, h *Handler) (*Handler, *observer.ObservedLogs) {
	t.Helper()
	testenv.Provision(t, h)
	core, audited := observer.New(zap.InfoLevel)
	h.audit = zap.New(core)
	return h, audited
}

// request describes a test request.
type request struct {
	target string
	header http.Header
	body   io.Reader
	length int64 // Content-Length; -1 for unknown
}

// serve runs h on req; next records the body it read.
func serve(t *testing.T, h *Handler, req request) (err error, nextRan bool, nextBody []byte) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "https://pay.example.com"+req.target, req.body)
	if req.body == nil {
		r.Body, r.ContentLength = http.NoBody, 0
	} else {
		r.ContentLength = req.length
	}
	for k, v := range req.header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, &caddyhttp.Server{})
	err = h.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) error {
		nextRan = true
		var readErr error
		nextBody, readErr = io.ReadAll(r.Body)
		return readErr
	}))
	if w.Body.Len() != 0 || w.Code != http.StatusOK {
		t.Errorf("the guard wrote a response itself (status %d)", w.Code)
	}
	return err, nextRan, nextBody
}

func bodyOf(s string) request {
	return request{target: "/v1/payment_intents", body: strings.NewReader(s), length: int64(len(s)), header: http.Header{"Content-Type": {"application/json"}}}
}

func TestRefusesCardNumbers(t *testing.T) {
	h, audited := provisioned(t, &Handler{SkipHeaders: []string{"X-Session-Token"}})
	tests := []struct {
		name    string
		req     request
		wantLoc string
	}{
		{"path", request{target: "/v1/cards/4242424242424242"}, locPath},
		{"path, URL-encoded spaces", request{target: "/v1/cards/4242%204242%204242%204242"}, locPath},
		{"query", request{target: "/v1/x?number=5555555555554444"}, locQuery},
		{"query, URL-encoded spaces", request{target: "/v1/x?number=5555%205555%205555%204444"}, locQuery},
		{"query, plus for spaces", request{target: "/v1/x?number=5555+5555+5555+4444"}, locQuery},
		{"query, dashed", request{target: "/v1/x?n=3782-822463-10005"}, locQuery},
		{"custom header", request{target: "/v1/x", header: http.Header{"X-Card": {"4242 4242 4242 4242"}}}, locHeader},
		{"second value of a header", request{target: "/v1/x", header: http.Header{"X-Note": {"hi", "6011111111111117"}}}, locHeader},
		{"header named like a card number", request{target: "/v1/x", header: http.Header{"4242-4242-4242-4242": {"5555555555554444"}}}, locHeader},
		{"header name alone", request{target: "/v1/x", header: http.Header{"4242424242424242": {"1"}}}, locHeader},
		{"cookie value", request{target: "/v1/x", header: http.Header{"Cookie": {"theme=dark; n=4242 4242 4242 4242"}}}, locHeader},
		{"cookie name", request{target: "/v1/x", header: http.Header{"Cookie": {"4242424242424242=1"}}}, locHeader},
		{"cookie Go's parser drops", request{target: "/v1/x", header: http.Header{"Cookie": {"a b=4242424242424242"}}}, locHeader},
		{"referer", request{target: "/v1/x", header: http.Header{"Referer": {"https://shop.example/pay?card=4242%204242%204242%204242"}}}, locHeader},
		{"JSON string", bodyOf(`{"card":{"number":"4242424242424242","cvc":"123"}}`), locBody},
		{"JSON number", bodyOf(`{"number": 4242424242424242}`), locBody},
		{"JSON, spaced", bodyOf(`{"number":"3566 0020 2036 0505"}`), locBody},
		{"JSON, dashed", bodyOf(`{"number":"3566-0020-2036-0505"}`), locBody},
		{"JSON escape", bodyOf(`{"note":"card:\n36227206271667"}`), locBody},
		{"form", request{target: "/v1/x", body: strings.NewReader("card%5Bnumber%5D=2223+0031+2200+3222&cvc=123"), length: -1,
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}}, locBody},
		{"multipart", request{target: "/v1/x", body: strings.NewReader("--b\r\nContent-Disposition: form-data; name=\"n\"\r\n\r\n6200000000000005\r\n--b--\r\n"), length: -1,
			header: http.Header{"Content-Type": {"multipart/form-data; boundary=b"}}}, locBody},
		{"text, one byte per read", request{target: "/v1/x", body: iotest.OneByteReader(strings.NewReader("my card is 3056 9300 0902 0004 thanks")), length: -1}, locBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := testutil.ToFloat64(refusedTotal.WithLabelValues(tt.wantLoc))
			err, nextRan, _ := serve(t, h, tt.req)
			if nextRan {
				t.Fatal("the next handler ran")
			}
			var he caddyhttp.HandlerError
			var ae *apierror.Error
			if !errors.As(err, &he) || he.StatusCode != http.StatusBadRequest || !errors.As(err, &ae) || ae.Code != "card_data_not_accepted" {
				t.Fatalf("err = %v, want 400 card_data_not_accepted", err)
			}
			if ae.Type != apierror.TypeInvalidRequest || !strings.Contains(ae.Message, "Stripe") {
				t.Errorf("type %q, message %q", ae.Type, ae.Message)
			}
			cause := ae.Cause.Error()
			if !strings.HasPrefix(cause, "card number in ") || strings.ContainsAny(cause, "0123456789") {
				t.Errorf("cause %q: want where, never the number", cause)
			}
			if got := testutil.ToFloat64(refusedTotal.WithLabelValues(tt.wantLoc)); got != before+1 {
				t.Errorf("paygate_card_data_refused_total{location=%q} = %v, want %v", tt.wantLoc, got, before+1)
			}
			events := audited.TakeAll()
			if len(events) != 1 {
				t.Fatalf("%d audit events, want 1", len(events))
			}
			fields := events[0].ContextMap()
			if fields["action"] != "card_data_refused" || fields["outcome"] != "denied" || fields["reason"] != "card_number_in_"+tt.wantLoc {
				t.Errorf("audit event %v", fields)
			}
		})
	}
}

func TestPassesOtherRequestsUnchanged(t *testing.T) {
	h, _ := provisioned(t, &Handler{SkipHeaders: []string{"x-session-token"}, SkipCookies: []string{"__Host-session"}})
	body := `{"items":[{"sku":"clean-2h","quantity":2}],"currency":"usd","reference":"ORD-2024-000123",` +
		`"payment_method":"pm_1NvZQa2eZvKYlo2CnLtoMzIo","created":1700000000000,"phone":"+1 415 555 2671",` +
		`"id":"123e4567-e89b-12d3-a456-426614174000","client_secret":"pi_3MtwBwLkdIwHu7ix28a3tqPa_secret_YrKJUKribcBjcG8HVhfZluoGH"}`
	tests := []struct {
		name string
		req  request
	}{
		{"no body", request{target: "/v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa?expand[]=customer&ts=1700000000000"}},
		{"JSON body", bodyOf(body)},
		{"unknown length", request{target: "/v1/x", body: strings.NewReader(body), length: -1}},
		{"one byte per read", request{target: "/v1/x", body: iotest.OneByteReader(strings.NewReader(body)), length: int64(len(body))}},
		{"body of exactly max_body", request{target: "/v1/x", body: strings.NewReader(strings.Repeat("a", DefaultMaxBody)), length: -1}},
		{"credential headers", request{target: "/v1/x", header: http.Header{
			"Authorization":       {"Bearer " + jwt},
			"Proxy-Authorization": {"Basic NDI0MjQyNDI0MjQyNDI0Mjo0MjQyIDQyNDIgNDI0MiA0MjQy"},
			"Cookie":              {"__Host-session=4242 4242 4242 4242; theme=dark"},
			"Stripe-Signature":    {"t=1700000000,v1=4242424242424242"},
			"X-Session-Token":     {"4242424242424242"},
			"X-Datadog-Trace-Id":  {"4242424242424242"},
		}}},
		{"identifiers in headers", request{target: "/v1/x", header: http.Header{
			"Idempotency-Key": {"123e4567-e89b-12d3-a456-426614174000"},
			"X-Phone":         {"+44 20 7946 0958"},
			"If-None-Match":   {`W/"4242424242424242abc"`},
		}}},
		{"identity encoding", request{target: "/v1/x", body: strings.NewReader(body), length: int64(len(body)), header: http.Header{"Content-Encoding": {"identity"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []byte
			if tt.req.body != nil {
				want, _ = io.ReadAll(tt.req.body)
				tt.req.body = iotest.OneByteReader(bytes.NewReader(want))
			}
			err, nextRan, got := serve(t, h, tt.req)
			if err != nil || !nextRan {
				t.Fatalf("err = %v, next ran = %v; want the request passed on", err, nextRan)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("the next handler read %d bytes, want the %d sent, unchanged", len(got), len(want))
			}
		})
	}
}

func TestBodyLimits(t *testing.T) {
	h, _ := provisioned(t, &Handler{MaxBody: 100})
	for _, tt := range []struct {
		name   string
		req    request
		status int
		code   string
	}{
		{"announced too large", request{target: "/v1/x", body: strings.NewReader(strings.Repeat("a", 101)), length: 101}, 413, "body_too_large"},
		{"unannounced too large", request{target: "/v1/x", body: strings.NewReader(strings.Repeat("a", 101)), length: -1}, 413, "body_too_large"},
		{"too large, one byte per read", request{target: "/v1/x", body: iotest.OneByteReader(strings.NewReader(strings.Repeat("a", 500))), length: -1}, 413, "body_too_large"},
		{"card before the limit", request{target: "/v1/x", body: strings.NewReader("4242424242424242 " + strings.Repeat("a", 500)), length: -1}, 400, "card_data_not_accepted"},
		{"compressed", request{target: "/v1/x", body: strings.NewReader("\x1f\x8b"), length: 2, header: http.Header{"Content-Encoding": {"gzip"}}}, 415, "unsupported_content_encoding"},
		{"compressed after identity", request{target: "/v1/x", body: strings.NewReader("x"), length: 1, header: http.Header{"Content-Encoding": {"identity, br"}}}, 415, "unsupported_content_encoding"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err, nextRan, _ := serve(t, h, tt.req)
			var he caddyhttp.HandlerError
			var ae *apierror.Error
			if nextRan || !errors.As(err, &he) || he.StatusCode != tt.status || !errors.As(err, &ae) || ae.Code != tt.code {
				t.Fatalf("err = %v (next ran: %v), want %d %s", err, nextRan, tt.status, tt.code)
			}
		})
	}
}

// errReader fails after its data.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestBodyReadErrors(t *testing.T) {
	h, _ := provisioned(t, &Handler{})
	for _, tt := range []struct {
		name   string
		err    error
		status int
	}{
		{"client went away", io.ErrUnexpectedEOF, http.StatusBadRequest},
		{"request_body's limit", caddyhttp.Error(http.StatusRequestEntityTooLarge, &http.MaxBytesError{Limit: 10}), http.StatusRequestEntityTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err, nextRan, _ := serve(t, h, request{target: "/v1/x", body: io.MultiReader(strings.NewReader("{}"), errReader{tt.err}), length: -1})
			var he caddyhttp.HandlerError
			if nextRan || !errors.As(err, &he) || he.StatusCode != tt.status {
				t.Fatalf("err = %v (next ran: %v), want status %d", err, nextRan, tt.status)
			}
		})
	}
}

func TestProvisionAndValidate(t *testing.T) {
	h, _ := provisioned(t, &Handler{})
	if h.MaxBody != DefaultMaxBody {
		t.Errorf("MaxBody = %d, want %d", h.MaxBody, DefaultMaxBody)
	}
	for name, h := range map[string]*Handler{
		"negative max_body":   {MaxBody: -1},
		"huge max_body":       {MaxBody: 2 << 30},
		"bad header name":     {SkipHeaders: []string{"X Token"}},
		"empty header name":   {SkipHeaders: []string{""}},
		"header with a colon": {SkipHeaders: []string{"X-A:"}},
	} {
		t.Run(name, func(t *testing.T) {
			if err := h.Validate(); err == nil {
				t.Fatal("got no error")
			}
		})
	}
}

// The X-Request-Id that request_guard sets for the upstream is paygate's
// own UUID, whose digit groups form a card number now and then (this one
// holds 4242 4242 4242 4242): the guard leaves it alone, but scans a
// client's X-Request-Id, or a copy of paygate's ID in another header.
func TestOwnRequestIDNotScanned(t *testing.T) {
	const id = "42424242-4242-4242-8242-4242abcdef12"
	h, _ := provisioned(t, &Handler{})
	for _, tt := range []struct {
		name    string
		header  http.Header
		refused bool
	}{
		{"paygate's own ID", http.Header{"X-Request-Id": {id}}, false},
		{"a client's ID", http.Header{"X-Request-Id": {"42424242-4242-4242-8242-4242abcdef13"}}, true},
		{"paygate's ID and another", http.Header{"X-Request-Id": {id, id}}, true},
		{"paygate's ID in another header", http.Header{"X-Trace": {id}}, true},
	} {
		r := httptest.NewRequest(http.MethodGet, "https://pay.example.com/v1/payment_methods", nil)
		r.Header = tt.header
		w := httptest.NewRecorder()
		repl := caddy.NewReplacer()
		repl.Set("http.request.uuid", id)
		r = caddyhttp.PrepareRequest(r, repl, w, &caddyhttp.Server{})
		nextRan := false
		err := h.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
			nextRan = true
			return nil
		}))
		if refused := err != nil && !nextRan; refused != tt.refused {
			t.Errorf("%s: err = %v, passed on = %v; want refused = %v", tt.name, err, nextRan, tt.refused)
		}
	}
}
