package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/testenv"
)

// TestSupportReadThroughThePaymentPipeline: the shipped policy lets a
// caller with the support role read any existing intent; the payment
// handler honours that decision (issue #10 item 3) instead of answering 404
// because the caller is not the owner. A write by support stays refused,
// and reaches Stripe not at all, and support still sees no intent that does
// not exist.
func TestSupportReadThroughThePaymentPipeline(t *testing.T) {
	e := startPayments(t)
	e.auth.tokens["agent"] = testenv.DevToken(t, "agent", map[string]any{"role": "support"})

	resp, body := e.do("POST", "/v1/payment_intents", "alice", paymentOrder, http.Header{"Idempotency-Key": {"support-1"}})
	wantPaymentStatus(t, resp, body, http.StatusCreated)
	intent := paymentJSON(t, body)["id"].(string)
	e.stripeCalls() // what alice caused is not under test

	// The read: 200 with the intent, without its client secret.
	resp, body = e.do("GET", "/v1/payment_intents/"+intent, "agent", "", nil)
	wantPaymentStatus(t, resp, body, http.StatusOK)
	if got := paymentJSON(t, body)["id"]; got != intent {
		t.Errorf("support read id = %v, want %s", got, intent)
	}
	if strings.Contains(string(body), "_secret_") {
		t.Errorf("support read carries a client secret: %s", body)
	}
	if calls := e.stripeCalls(); len(calls) != 1 || calls[0].Method != http.MethodGet {
		t.Errorf("support read: %d Stripe calls, want the one retrieve", len(calls))
	}

	// Writes are refused before Stripe, whatever the role.
	for _, a := range []struct{ method, path, body string }{
		{"POST", "/v1/payment_intents/" + intent + "/cancel", ""},
		{"POST", "/v1/payment_intents/" + intent + "/confirm", `{"payment_method":"pm_card_visa"}`},
	} {
		resp, body := e.do(a.method, a.path, "agent", a.body, nil)
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusForbidden {
			t.Errorf("support %s %s: status %d, want 403 or 404 (body %s)", a.method, a.path, resp.StatusCode, body)
		}
	}
	// An intent nobody owns is missing for support too.
	resp, body = e.do("GET", "/v1/payment_intents/pi_neverexisted", "agent", "", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("support read of a missing intent: status %d, want 404 (body %s)", resp.StatusCode, body)
	}
	// A customer without the role is still refused.
	resp, body = e.do("GET", "/v1/payment_intents/"+intent, "bob", "", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("bob's read of alice's intent: status %d, want 404 (body %s)", resp.StatusCode, body)
	}
	// The missing intent is looked up once on Stripe as a store that lost
	// its owner would need (store_loss_test.go); nothing else is called.
	if calls := withoutOwnerLookups(e.stripeCalls()); len(calls) != 0 {
		t.Errorf("refused requests made %d Stripe calls, want 0: first %s %s", len(calls), calls[0].Method, calls[0].Path)
	}
}
