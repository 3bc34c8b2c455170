package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestBOLAThroughThePaymentPipeline is the shipped pipeline with the real
// payment handler and stripe-mock behind the recording proxy: bob tries
// alice's payment intent and card every way the API allows. Each attempt
// gets the same 404 as an object that does not exist, the policy stage
// records the denial, and Stripe sees not a single call about alice's
// objects.
func TestBOLAThroughThePaymentPipeline(t *testing.T) {
	e := startPayments(t)

	// alice's objects: a payment intent, and the cards the list records as hers.
	resp, body := e.do("POST", "/v1/payment_intents", "alice", paymentOrder, http.Header{"Idempotency-Key": {"bola-1"}})
	wantPaymentStatus(t, resp, body, http.StatusCreated)
	intent := paymentJSON(t, body)["id"].(string)
	resp, body = e.do("GET", "/v1/payment_methods", "alice", "", nil)
	wantPaymentStatus(t, resp, body, http.StatusOK)
	var cards struct {
		Data []struct{ ID string } `json:"data"`
	}
	if err := json.Unmarshal(body, &cards); err != nil || len(cards.Data) == 0 {
		t.Fatalf("alice's cards: %s (%v)", body, err)
	}
	card := cards.Data[0].ID

	// The policy stage and the handler both check the owner; one store read
	// at most serves both (none while the replica that recorded the owner
	// still remembers it, see ownership.CacheTTL).
	before := redisGets(t, e)
	resp, body = e.do("GET", "/v1/payment_intents/"+intent, "alice", "", nil)
	wantPaymentStatus(t, resp, body, http.StatusOK)
	if n := redisGets(t, e) - before; n > 1 {
		t.Errorf("alice's GET of her intent read the store %d times, want at most 1", n)
	}
	e.stripeCalls() // what alice caused is not under test

	// The answer for an object that does not exist.
	_, missing := e.do("GET", "/v1/payment_intents/pi_doesnotexist", "bob", "", nil)
	want := withoutRequestID(t, missing)

	for _, a := range []struct{ method, path, body string }{
		{"GET", "/v1/payment_intents/" + intent, ""},
		{"POST", "/v1/payment_intents/" + intent + "/confirm", `{"payment_method":"pm_card_visa"}`},
		{"POST", "/v1/payment_intents/" + intent + "/cancel", ""},
		{"DELETE", "/v1/payment_methods/" + card, ""},
		{"GET", "/v1/payment_intents/pi_neverexisted", ""},
		{"DELETE", "/v1/payment_methods/pm_neverexisted", ""},
	} {
		t.Run(a.method+" "+a.path, func(t *testing.T) {
			resp, body := e.do(a.method, a.path, "bob", a.body, nil)
			if resp.StatusCode != http.StatusNotFound {
				t.Fatalf("status = %d, want 404 (body %s)", resp.StatusCode, body)
			}
			if got := withoutRequestID(t, body); !bytes.Equal(got, want) {
				t.Errorf("body %s differs from a missing object's %s", got, want)
			}
		})
	}
	// None for alice's objects; for the IDs that never existed, the one
	// lookup of an owner the store may have lost (store_loss_test.go)
	// each, at most.
	calls := e.stripeCalls()
	if rest := withoutOwnerLookups(calls); len(rest) != 0 {
		t.Errorf("bob's attempts made %d Stripe calls, want 0: first %s %s", len(rest), rest[0].Method, rest[0].Path)
	}
	for _, c := range calls {
		if strings.Contains(c.Path, intent) || strings.Contains(c.Path, card) {
			t.Errorf("bob's attempts looked up alice's %s on Stripe", c.Path)
		}
	}
	if n := len(calls); n > 3 {
		t.Errorf("%d lookups for the 3 IDs that never existed, want at most 3", n)
	}
	// The refusals came from the policy stage, not only from the handler's own check.
	e.pg.Stop()
	denied := 0
	for _, entry := range e.pg.LogEntries(t) {
		if entry.Str("action") == "policy_denied" && entry.Str("actor") == "bob" && entry.Str("decision_id") != "" {
			denied++
		}
	}
	if denied < 6 {
		t.Errorf("%d policy_denied audit events for bob with a decision ID, want at least 6", denied)
	}
}

// withoutRequestID is an error body with its request_id removed, the one
// member that differs between two refusals.
func withoutRequestID(t *testing.T, body []byte) []byte {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("not a JSON error: %s", body)
	}
	e.Error.RequestID = ""
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// redisGets is how many GET commands the private Redis has served.
func redisGets(t *testing.T, e *paymentsEnv) int {
	t.Helper()
	info, err := e.rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_get:calls="); ok {
			n, err := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	return 0
}
