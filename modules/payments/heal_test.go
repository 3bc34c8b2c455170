package payments

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/ownership"
	"github.com/paygate/paygate/internal/store"
)

// customerJSON is a customer made for user (deleted when set).
func customerJSON(id, user string, deleted bool) string {
	if deleted {
		// Stripe's deleted customer has no metadata; this one keeps it,
		// so that only the deleted flag refuses it.
		return fmt.Sprintf(`{"id":%q,"object":"customer","deleted":true,"metadata":{"paygate_user":%q}}`, id, user)
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
		{"intent of a deleted customer", "pi_1", `{"id":"pi_1","object":"payment_intent","metadata":{"paygate_user":"alice"},"customer":` + customerJSON("cus_A", "alice", true) + `}`, 200, "", false, false},
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
	f.queue("/v1/customers/cus_B", fakeResponse{status: http.StatusOK, body: customerJSON("cus_B", "bob", false)})
	id, outcome, err := th.h.searchCustomer(context.Background(), "alice")
	if err != nil || id != "" {
		t.Fatalf("searchCustomer = %q, %q, %v; want nothing", id, outcome, err)
	}
	if n := len(f.requests); n != 1 {
		t.Errorf("%d Stripe calls, want the search alone: bob's customer is not even read", n)
	}
	f.queue("/v1/customers/search", fakeResponse{status: http.StatusOK,
		body: `{"object":"search_result","data":[` + customerJSON("cus_A2", "alice", false) + `,` + customerJSON("cus_A1", "alice", false) + `],"has_more":false}`})
	f.queue("/v1/customers/cus_A2", fakeResponse{status: 200, body: customerJSON("cus_A2", "alice", true)})
	f.queue("/v1/customers/cus_A1", fakeResponse{status: 200, body: customerJSON("cus_A1", "alice", false)})
	if id, _, err := th.h.searchCustomer(context.Background(), "alice"); err != nil || id != "cus_A1" {
		t.Errorf("searchCustomer = %q, %v; want the live cus_A1 (cus_A2 is deleted)", id, err)
	}
}

// healingStore is the test handler's memory store with a healer, as the
// paygate app's store carries one.
type healingStore struct {
	store.Store
	healer *ownership.Healer
}

func (s healingStore) OwnerHealer() *ownership.Healer { return s.healer }

// newHealingTestHandler is newTestHandler on a store that heals, with a
// healer whose clock stands still (its budget never refills).
func newHealingTestHandler(t *testing.T, base string) (*testHandler, *ownership.Healer) {
	t.Helper()
	th := newTestHandler(t, base, nil)
	frozen := time.Unix(1_700_000_000, 0)
	hl := ownership.NewHealer(func() time.Time { return frozen }, zap.NewNop())
	th.h.store = healingStore{Store: th.h.store, healer: hl}
	th.store = th.h.store
	return th, hl
}

// Over the budget of lookups, a user without a mapping lists no cards and
// pays (a customer is created, as before heals), but is not erased: the
// right to deletion answers 503 rather than "nothing to delete". A failed
// search is 503 everywhere.
func TestCustomerHealOverBudget(t *testing.T) {
	f, srv := newFakeStripe(t)
	th, hl := newHealingTestHandler(t, srv.URL)
	ctx := context.Background()
	for i := range ownership.HealBurst {
		_, _, _ = hl.Lookup(ctx, "test", strconv.Itoa(i), func(context.Context) (string, string, error) {
			return "", ownership.HealNotFound, nil
		})
	}
	w, e := th.do("GET", "/v1/payment_methods", "alice", "", nil)
	wantOK(t, w, e, http.StatusOK)
	if !strings.Contains(w.Body.String(), `"data":[]`) || len(f.requests) != 0 {
		t.Errorf("list over budget: %s, %d Stripe calls; want no cards, no call", w.Body, len(f.requests))
	}
	_, e = th.do("DELETE", "/v1/customers/me", "alice", "", nil)
	wantError(t, e, http.StatusServiceUnavailable, "store_unavailable")
	f.queue("/v1/customers", fakeResponse{status: 200, body: `{"id":"cus_1","object":"customer"}`})
	f.queue("/v1/payment_intents", fakeResponse{status: 200, body: intentBody("requires_payment_method", "")})
	w, e = th.do("POST", "/v1/payment_intents", "alice", aliceOrder, idem("k1"))
	wantOK(t, w, e, http.StatusCreated)
}

func TestCustomerHealStripeDown(t *testing.T) {
	f, srv := newFakeStripe(t)
	th, _ := newHealingTestHandler(t, srv.URL)
	f.queue("/v1/customers/search", fakeResponse{status: 500, body: stripeErrorBody("api_error", "", "")})
	_, e := th.do("GET", "/v1/payment_methods", "alice", "", nil)
	wantError(t, e, http.StatusServiceUnavailable, "store_unavailable")
	if logs := th.allLogs(); strings.Contains(logs, leakMessage) {
		t.Errorf("Stripe's message was logged: %s", logs)
	}
}
