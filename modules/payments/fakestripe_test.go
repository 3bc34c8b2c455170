package payments

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/ownership"
)

// stripe-mock answers every call with success, so Stripe's failures are
// played by fakeStripe, an httptest server answering what Stripe answers.

// leakSecret and leakMessage are in every fake error: the client secret of
// the payment intent Stripe embeds in a card error, and a raw message that
// names internals. Neither may reach the client or the log.
const (
	leakSecret  = "pi_fake_secret_LEAKED"
	leakMessage = "Internal: account acct_1LEAKED is restricted"
)

// fakeStripe answers each request with the next response queued for its
// path, or 404; it records what it received.
type fakeStripe struct {
	mu        sync.Mutex
	responses map[string][]fakeResponse
	requests  []*http.Request
	forms     []string
}

type fakeResponse struct {
	status int
	body   string
	// hang keeps the request open until the client gives up.
	hang bool
}

func newFakeStripe(t *testing.T) (*fakeStripe, *httptest.Server) {
	f := &fakeStripe{responses: map[string][]fakeResponse{}}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeStripe) queue(path string, rs ...fakeResponse) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.responses[path] = append(f.responses[path], rs...)
}

func (f *fakeStripe) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, r.Clone(context.Background()))
	f.forms = append(f.forms, string(body))
	var res fakeResponse
	if q := f.responses[r.URL.Path]; len(q) > 0 {
		res, f.responses[r.URL.Path] = q[0], q[1:]
	} else {
		res = fakeResponse{status: 404, body: stripeErrorBody("invalid_request_error", "resource_missing", "")}
	}
	f.mu.Unlock()
	if res.hang {
		<-r.Context().Done()
		return
	}
	w.Header().Set("Request-Id", "req_fake123")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(res.status)
	_, _ = io.WriteString(w, res.body)
}

// stripeErrorBody is an error as Stripe writes it, with a payment intent
// (client secret included) and a message that must not leak.
func stripeErrorBody(typ, code, decline string) string {
	e := map[string]any{
		"type":    typ,
		"code":    code,
		"message": leakMessage,
		"payment_intent": map[string]any{
			"id": "pi_1", "object": "payment_intent", "client_secret": leakSecret, "status": "requires_payment_method",
		},
	}
	if decline != "" {
		e["decline_code"] = decline
	}
	b, _ := json.Marshal(map[string]any{"error": e})
	return string(b)
}

func intentBody(status string, nextAction string) string {
	pi := map[string]any{"id": "pi_1", "object": "payment_intent", "status": status, "amount": 8900, "currency": "usd", "client_secret": "pi_1_secret_abc"}
	if nextAction != "" {
		pi["next_action"] = map[string]any{"type": nextAction, nextAction: map[string]any{"type": "three_d_secure_redirect", "stripe_js": "https://hooks.stripe.com/3d_secure_2/hosted"}}
	}
	b, _ := json.Marshal(pi)
	return string(b)
}

// TestStripeErrorMapping drives a confirm into each failure Stripe can
// answer with, and checks what the client gets and what is logged.
func TestStripeErrorMapping(t *testing.T) {
	const confirm = "/v1/payment_intents/pi_1/confirm"
	tests := []struct {
		name        string
		res         fakeResponse
		status      int
		code        string
		declineCode string
		retryAfter  string
		alert       bool
	}{
		{name: "card declined", res: fakeResponse{402, stripeErrorBody("card_error", "card_declined", "insufficient_funds"), false},
			status: 402, code: "card_declined", declineCode: "insufficient_funds"},
		{name: "fraudulent decline is generic", res: fakeResponse{402, stripeErrorBody("card_error", "card_declined", "fraudulent"), false},
			status: 402, code: "card_declined", declineCode: "generic_decline"},
		{name: "stolen card decline is generic", res: fakeResponse{402, stripeErrorBody("card_error", "card_declined", "stolen_card"), false},
			status: 402, code: "card_declined", declineCode: "generic_decline"},
		{name: "decline code that is not a code", res: fakeResponse{402, stripeErrorBody("card_error", "card_declined", "<b>x</b>"), false},
			status: 402, code: "card_declined", declineCode: "generic_decline"},
		{name: "expired card", res: fakeResponse{402, stripeErrorBody("card_error", "expired_card", ""), false},
			status: 402, code: "expired_card"},
		{name: "incorrect cvc", res: fakeResponse{402, stripeErrorBody("card_error", "incorrect_cvc", ""), false},
			status: 402, code: "incorrect_cvc"},
		{name: "unlisted card code", res: fakeResponse{402, stripeErrorBody("card_error", "card_velocity_exceeded_new", ""), false},
			status: 402, code: "card_error"},
		{name: "3-D Secure failed", res: fakeResponse{400, stripeErrorBody("invalid_request_error", "payment_intent_authentication_failure", ""), false},
			status: 402, code: "payment_intent_authentication_failure"},
		{name: "bad key", res: fakeResponse{401, stripeErrorBody("invalid_request_error", "", ""), false},
			status: 500, code: "internal_error", alert: true},
		{name: "restricted key lacks permission", res: fakeResponse{403, stripeErrorBody("invalid_request_error", "", ""), false},
			status: 500, code: "internal_error", alert: true},
		{name: "rate limited by Stripe", res: fakeResponse{429, stripeErrorBody("invalid_request_error", "rate_limit", ""), false},
			status: 503, code: "upstream_unavailable", retryAfter: "1"},
		{name: "invalid request", res: fakeResponse{400, stripeErrorBody("invalid_request_error", "parameter_invalid_integer", ""), false},
			status: 400, code: "bad_request"},
		{name: "gone at Stripe", res: fakeResponse{404, stripeErrorBody("invalid_request_error", "resource_missing", ""), false},
			status: 404, code: "resource_missing"},
		{name: "unexpected state", res: fakeResponse{400, stripeErrorBody("invalid_request_error", "payment_intent_unexpected_state", ""), false},
			status: 409, code: "payment_intent_unexpected_state"},
		{name: "idempotency key reused", res: fakeResponse{400, stripeErrorBody("idempotency_error", "", ""), false},
			status: 422, code: "idempotency_key_reused"},
		{name: "idempotency key in use", res: fakeResponse{409, stripeErrorBody("invalid_request_error", "idempotency_key_in_use", ""), false},
			status: 409, code: "idempotency_key_in_use", retryAfter: "1"},
		{name: "Stripe fails", res: fakeResponse{500, stripeErrorBody("api_error", "", ""), false},
			status: 502, code: "upstream_unavailable"},
		{name: "Stripe does not answer", res: fakeResponse{hang: true},
			status: 503, code: "upstream_unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := newFakeStripe(t)
			th := newTestHandler(t, srv.URL, nil)
			if tt.res.hang {
				th.h.Timeout = caddy.Duration(200 * time.Millisecond)
			}
			if err := ownership.Record(context.Background(), th.store, "pi_1", "alice"); err != nil {
				t.Fatal(err)
			}
			f.queue(confirm, tt.res)
			failed := paymentMetrics.stripeCalls.WithLabelValues("payment_intent.confirm", stripeResultError)
			before := testutil.ToFloat64(failed)
			_, e := th.do("POST", confirm, "alice", `{"payment_method":"pm_card_visa"}`, nil)
			wantError(t, e, tt.status, tt.code)
			if got := testutil.ToFloat64(failed) - before; got != 1 {
				t.Errorf("paygate_stripe_calls_total{op=payment_intent.confirm,result=error} grew by %v, want 1", got)
			}
			if e.DeclineCode != tt.declineCode {
				t.Errorf("decline_code = %q, want %q", e.DeclineCode, tt.declineCode)
			}
			if got := e.Header.Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			logs := th.allLogs()
			for _, leak := range []string{leakSecret, "acct_1LEAKED", "restricted"} {
				if strings.Contains(e.Message, leak) || strings.Contains(e.Error(), leak) || strings.Contains(logs, leak) {
					t.Errorf("%q reached the client's message, the error's cause or the log", leak)
				}
			}
			if !tt.res.hang && !strings.Contains(e.Error(), "req_fake123") {
				t.Errorf("cause %q lacks Stripe's request ID", e.Error())
			}
			alerts := th.logs.FilterField(zap.Bool("alert", true)).Len()
			if (alerts > 0) != tt.alert {
				t.Errorf("%d alert log lines, want alert %v:\n%s", alerts, tt.alert, logs)
			}
			outcome := "failed"
			if tt.status == http.StatusNotFound {
				outcome = "denied" // indistinguishable from a foreign ID
			}
			if n := th.audit.FilterField(zap.String("action", "payment_intent.confirm")).FilterField(zap.String("outcome", outcome)).FilterField(zap.String("reason", tt.code)).Len(); n != 1 {
				t.Errorf("%d %s confirm audit events with reason %s, want 1:\n%s", n, outcome, tt.code, logs)
			}
		})
	}
}

// TestThreeDSecure: a card that needs authentication comes back as
// requires_action, with the next action and the client secret Stripe.js
// needs; nothing else of the intent.
func TestThreeDSecure(t *testing.T) {
	f, srv := newFakeStripe(t)
	th := newTestHandler(t, srv.URL, nil)
	if err := ownership.Record(context.Background(), th.store, "pi_1", "alice"); err != nil {
		t.Fatal(err)
	}
	f.queue("/v1/payment_intents/pi_1/confirm", fakeResponse{status: 200, body: intentBody("requires_action", "use_stripe_sdk")})
	ok := paymentMetrics.stripeCalls.WithLabelValues("payment_intent.confirm", stripeResultOK)
	before := testutil.ToFloat64(ok)
	w, e := th.do("POST", "/v1/payment_intents/pi_1/confirm", "alice", `{"payment_method":"pm_card_threeDSecure2Required"}`, nil)
	wantOK(t, w, e, http.StatusOK)
	if got := testutil.ToFloat64(ok) - before; got != 1 {
		t.Errorf("paygate_stripe_calls_total{op=payment_intent.confirm,result=ok} grew by %v, want 1", got)
	}
	if n := th.logs.FilterMessage("stripe call").FilterField(zap.String("op", "payment_intent.confirm")).FilterField(zap.String("stripe_request_id", "req_fake123")).Len(); n != 1 {
		t.Errorf("%d stripe call log lines with Stripe's request ID, want 1:\n%s", n, th.allLogs())
	}
	want := `{"id":"pi_1","status":"requires_action","amount":8900,"currency":"usd","client_secret":"pi_1_secret_abc","next_action":{"type":"use_stripe_sdk"}}`
	if got := strings.TrimSpace(w.Body.String()); got != want {
		t.Errorf("body = %s\nwant %s", got, want)
	}
	if !strings.Contains(f.forms[0], "use_stripe_sdk=true") {
		t.Errorf("confirm sent %q, want use_stripe_sdk=true", f.forms[0])
	}
}

// TestNetworkRetryReusesIdempotencyKey: stripe-go's retry of a call that
// failed in a retryable way carries the same Idempotency-Key, so Stripe runs
// it once.
func TestNetworkRetryReusesIdempotencyKey(t *testing.T) {
	f, srv := newFakeStripe(t)
	th := newTestHandler(t, srv.URL, func(h *Handler) {
		one := 1
		h.MaxNetworkRetries = &one
	})
	if err := th.store.Set(context.Background(), customerKey("alice"), []byte("cus_1"), 0); err != nil {
		t.Fatal(err)
	}
	f.queue("/v1/payment_intents",
		fakeResponse{status: 503, body: stripeErrorBody("api_error", "", "")},
		fakeResponse{status: 200, body: intentBody("requires_payment_method", "")})
	w, e := th.do("POST", "/v1/payment_intents", "alice", aliceOrder, idem("order-9"))
	wantOK(t, w, e, http.StatusCreated)
	if len(f.requests) != 2 {
		t.Fatalf("%d requests reached Stripe, want the call and its retry", len(f.requests))
	}
	want := stripeIdempotencyKey("alice", "payment_intent.create", "order-9")
	for i, r := range f.requests {
		if got := r.Header.Get("Idempotency-Key"); got != want {
			t.Errorf("attempt %d: Idempotency-Key %q, want %q", i, got, want)
		}
	}
	if f.forms[0] != f.forms[1] {
		t.Errorf("the retry sent other parameters:\n%s\n%s", f.forms[0], f.forms[1])
	}
}

// TestStoreOutage: with the store down, a payment fails closed (503
// store_unavailable) before Stripe is asked.
func TestStoreOutage(t *testing.T) {
	f, srv := newFakeStripe(t)
	th := newTestHandler(t, srv.URL, nil)
	if err := th.store.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ method, path, body string }{
		{"POST", "/v1/payment_intents", aliceOrder},
		{"GET", "/v1/payment_intents/pi_1", ""},
		{"GET", "/v1/payment_methods", ""},
		{"DELETE", "/v1/customers/me", ""},
	} {
		_, e := th.do(tt.method, tt.path, "alice", tt.body, idem("k"))
		wantError(t, e, http.StatusServiceUnavailable, "store_unavailable")
	}
	if len(f.requests) != 0 {
		t.Errorf("%d requests reached Stripe with the store down", len(f.requests))
	}
}

// TestFailedCustomerCreationTakesANewKey: Stripe replays a failed result
// for its idempotency key, so after a 5xx the next first payment must not
// send the same key again, or the user could not pay for a day.
func TestFailedCustomerCreationTakesANewKey(t *testing.T) {
	f, srv := newFakeStripe(t)
	th := newTestHandler(t, srv.URL, nil)
	f.queue("/v1/customers",
		fakeResponse{status: 500, body: stripeErrorBody("api_error", "", "")},
		fakeResponse{status: 200, body: `{"id":"cus_2","object":"customer"}`})
	f.queue("/v1/payment_intents", fakeResponse{status: 200, body: intentBody("requires_payment_method", "")})
	_, e := th.do("POST", "/v1/payment_intents", "alice", aliceOrder, idem("k1"))
	wantError(t, e, http.StatusBadGateway, "upstream_unavailable")
	w, e := th.do("POST", "/v1/payment_intents", "alice", aliceOrder, idem("k1"))
	wantOK(t, w, e, http.StatusCreated)
	if len(f.requests) != 3 {
		t.Fatalf("%d Stripe requests, want 3", len(f.requests))
	}
	first, second := f.requests[0].Header.Get("Idempotency-Key"), f.requests[1].Header.Get("Idempotency-Key")
	if first != customerIdempotencyKey("alice", "") || second == first {
		t.Errorf("customer creation keys %q then %q; want a new key after the failure", first, second)
	}
	if got := th.customerOf("alice"); got != "cus_2" {
		t.Errorf("customer mapping = %q, want cus_2", got)
	}
}

// TestCancelSetupIntent: a setup intent is canceled as abandoned; one
// Stripe will not cancel any more (it succeeded, or was canceled,
// meanwhile) is left as it is; Stripe's other failures are errors, so that
// the event that asked is retried.
func TestCancelSetupIntent(t *testing.T) {
	f, srv := newFakeStripe(t)
	th := newTestHandler(t, srv.URL, nil)
	f.queue("/v1/setup_intents/seti_1/cancel",
		fakeResponse{status: 200, body: `{"id":"seti_1","object":"setup_intent","status":"canceled"}`},
		fakeResponse{status: 400, body: stripeErrorBody("invalid_request_error", "setup_intent_unexpected_state", "")},
		fakeResponse{status: 500, body: stripeErrorBody("api_error", "", "")})
	r := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", nil)
	if err := th.h.cancelSetupIntent(r, "seti_1"); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if !strings.Contains(f.forms[0], "cancellation_reason=abandoned") {
		t.Errorf("cancel sent %q, want cancellation_reason=abandoned", f.forms[0])
	}
	if err := th.h.cancelSetupIntent(r, "seti_1"); err != nil {
		t.Fatalf("cancel of a setup intent Stripe will not cancel any more: %v, want nil", err)
	}
	if err := th.h.cancelSetupIntent(r, "seti_1"); err == nil {
		t.Fatal("cancel that Stripe failed: nil error, want one")
	}
}
