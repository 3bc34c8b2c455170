package payments

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// customerJSON is a customer made for user (deleted when set).
func customerJSON(id, user string, deleted bool) string {
	if deleted {
		return fmt.Sprintf(`{"id":%q,"object":"customer","deleted":true}`, id)
	}
	return fmt.Sprintf(`{"id":%q,"object":"customer","metadata":{"paygate_user":%q}}`, id, user)
}

// The resolver trusts only what a secret-key holder writes: an intent's
// metadata when its customer is the same user's and alive; a payment
// method's customer, never its own metadata.
func TestResolveOwner(t *testing.T) {
	alice := customerJSON("cus_A", "alice", false)
	for _, tc := range []struct {
		name, id, body string
		status         int
		owner          string
		found, err     bool
	}{
		{"intent of alice", "pi_1", `{"id":"pi_1","object":"payment_intent","metadata":{"paygate_user":"alice"},"customer":` + alice + `}`, 200, "alice", true, false},
		{"intent naming bob on alice's customer", "pi_1", `{"id":"pi_1","object":"payment_intent","metadata":{"paygate_user":"bob"},"customer":` + alice + `}`, 200, "", false, false},
		{"intent without a customer", "pi_1", `{"id":"pi_1","object":"payment_intent","metadata":{"paygate_user":"alice"},"customer":null}`, 200, "", false, false},
		{"intent of a deleted customer", "pi_1", `{"id":"pi_1","object":"payment_intent","metadata":{"paygate_user":"alice"},"customer":` + customerJSON("cus_A", "", true) + `}`, 200, "", false, false},
		{"setup intent of alice", "seti_1", `{"id":"seti_1","object":"setup_intent","metadata":{"paygate_user":"alice"},"customer":` + alice + `}`, 200, "alice", true, false},
		{"card whose metadata says bob, on alice's customer", "pm_1", `{"id":"pm_1","object":"payment_method","metadata":{"paygate_user":"bob"},"customer":` + alice + `}`, 200, "alice", true, false},
		{"card without a customer, metadata alice", "pm_1", `{"id":"pm_1","object":"payment_method","metadata":{"paygate_user":"alice"},"customer":null}`, 200, "", false, false},
		{"no such object", "pi_1", stripeErrorBody("invalid_request_error", "resource_missing", ""), 404, "", false, false},
		{"Stripe down", "pi_1", stripeErrorBody("api_error", "", ""), 500, "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := newFakeStripe(t)
			th := newTestHandler(t, srv.URL, nil)
			collection := map[string]string{"pi": "payment_intents", "se": "setup_intents", "pm": "payment_methods"}[tc.id[:2]]
			f.queue("/v1/"+collection+"/"+tc.id, fakeResponse{status: tc.status, body: tc.body})
			owner, found, err := th.h.ResolveOwner(context.Background(), tc.id)
			if owner != tc.owner || found != tc.found || (err != nil) != tc.err {
				t.Fatalf("ResolveOwner = %q, %v, %v; want %q, %v, error %v", owner, found, err, tc.owner, tc.found, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), leakMessage) {
				t.Errorf("the error carries Stripe's message: %v", err)
			}
			if q := f.requests[0].URL.Query(); !strings.Contains(q.Encode(), "customer") {
				t.Errorf("the lookup did not expand the customer: %s", f.requests[0].URL)
			}
		})
	}
}

// Only IDs of the API's forms are looked up.
func TestOwnerKind(t *testing.T) {
	th := newTestHandler(t, "http://127.0.0.1:1", nil)
	for id, want := range map[string]string{
		"pi_123": "payment_intent", "seti_1": "setup_intent", "pm_card": "payment_method",
		"cus_1": "", "pi_": "", "pi_a/b": "", "pi_" + strings.Repeat("a", 300): "", "evt_1": "",
	} {
		if got := th.h.OwnerKind(id); got != want {
			t.Errorf("OwnerKind(%.20q) = %q, want %q", id, got, want)
		}
	}
}

// A user ID cannot leave the search's string: every quote and backslash
// is escaped.
func TestSearchString(t *testing.T) {
	for in, want := range map[string]string{
		"alice":                        `'alice'`,
		`a' OR metadata['x']:'y`:       `'a\' OR metadata[\'x\']:\'y'`,
		`back\slash`:                   `'back\\slash'`,
		`end\`:                         `'end\\'`,
		`"double"`:                     `'\"double\"'`,
		"unicode é ü":                  `'unicode é ü'`,
		`\' OR created>0 OR status:'a`: `'\\\' OR created>0 OR status:\'a'`,
	} {
		if got := searchString(in); got != want {
			t.Errorf("searchString(%q) = %s, want %s", in, got, want)
		}
	}
}

// The customer search's results are checked again: a customer whose
// metadata names another user (what a broken escape would let through) is
// not taken.
func TestHealCustomerChecksResults(t *testing.T) {
	f, srv := newFakeStripe(t)
	th := newTestHandler(t, srv.URL, nil)
	f.queue("/v1/customers/search", fakeResponse{status: http.StatusOK,
		body: `{"object":"search_result","data":[` + customerJSON("cus_B", "bob", false) + `],"has_more":false}`})
	id, outcome, err := th.h.searchCustomer(context.Background(), "alice")
	if err != nil || id != "" {
		t.Fatalf("searchCustomer = %q, %q, %v; want nothing", id, outcome, err)
	}
	f.queue("/v1/customers/search", fakeResponse{status: http.StatusOK,
		body: `{"object":"search_result","data":[` + customerJSON("cus_A2", "alice", false) + `,` + customerJSON("cus_A1", "alice", false) + `],"has_more":false}`})
	f.queue("/v1/customers/cus_A2", fakeResponse{status: 200, body: customerJSON("cus_A2", "", true)})
	f.queue("/v1/customers/cus_A1", fakeResponse{status: 200, body: customerJSON("cus_A1", "alice", false)})
	if id, _, err := th.h.searchCustomer(context.Background(), "alice"); err != nil || id != "cus_A1" {
		t.Errorf("searchCustomer = %q, %v; want the live cus_A1 (cus_A2 is deleted)", id, err)
	}
}
