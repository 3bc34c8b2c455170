package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/ownership"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/testenv"
)

// Nothing is lost with the store (issue #15 item 6): paygate writes each
// object's user in the metadata of the Stripe objects it creates, finds an
// owner or a customer the store lost there (bounded), records it again,
// and `paygate reindex` rebuilds the whole index. stripe-mock is made
// stateful for that metadata by its recording proxy (RememberObjects).

// startStoreLoss is the payment pipeline on a private Redis, with
// stripe-mock remembering what paygate creates.
func startStoreLoss(t *testing.T) *paymentsEnv {
	t.Helper()
	e := startPayments(t)
	e.sm.RememberObjects()
	return e
}

// flush empties the private Redis, as a restarted Redis without
// persistence would be.
func (e *paymentsEnv) flush() {
	e.t.Helper()
	if err := e.rdb.FlushAll(context.Background()).Err(); err != nil {
		e.t.Fatal(err)
	}
}

// isOwnerLookup reports whether c is a heal's lookup of an owner: a read
// of a payment intent, setup intent or payment method with its customer
// expanded (the handler's own reads expand nothing, or the payment method).
func isOwnerLookup(c testenv.StripeCall) bool {
	if c.Method != http.MethodGet || !strings.Contains(c.Query.Encode(), "customer") {
		return false
	}
	for _, p := range []string{"/v1/payment_intents/", "/v1/setup_intents/", "/v1/payment_methods/"} {
		if rest, ok := strings.CutPrefix(c.Path, p); ok && rest != "" && !strings.Contains(rest, "/") {
			return true
		}
	}
	return false
}

// withoutOwnerLookups is calls without the heal's lookups of owners: what
// the tests of other behaviour count. Each lookup is bounded (one per
// object, per replica, per ownership.NegativeTTL).
func withoutOwnerLookups(calls []testenv.StripeCall) []testenv.StripeCall {
	var out []testenv.StripeCall
	for _, c := range calls {
		if !isOwnerLookup(c) {
			out = append(out, c)
		}
	}
	return out
}

// healLookups are the heal's lookups among calls of the object at path.
func healLookups(calls []testenv.StripeCall, path string) int {
	n := 0
	for _, c := range calls {
		if c.Path == path && isOwnerLookup(c) {
			n++
		}
	}
	return n
}

// createIntent creates a payment intent as user and returns its ID.
func (e *paymentsEnv) createIntent(user, key string) string {
	e.t.Helper()
	resp, body := e.do("POST", "/v1/payment_intents", user, paymentOrder, http.Header{"Idempotency-Key": {key}})
	wantPaymentStatus(e.t, resp, body, http.StatusCreated)
	return paymentJSON(e.t, body)["id"].(string)
}

// stripeDirect calls Stripe (the recording proxy) as the operator's
// backend or a browser would, not through paygate.
func (e *paymentsEnv) stripeDirect(path string, form url.Values) map[string]any {
	e.t.Helper()
	resp, body := send(e.t, http.DefaultClient, "POST", e.sm.URL+path, form.Encode(), http.Header{
		"Authorization": {"Bearer " + e2eStripeKey}, "Content-Type": {"application/x-www-form-urlencoded"}})
	wantPaymentStatus(e.t, resp, body, http.StatusOK)
	return paymentJSON(e.t, body)
}

// A flushed store heals on use: alice's intent is found again with one
// Stripe lookup and recorded, so that the next read needs none; bob's
// attempts heal it too, but as alice's; a payment method's owner is its
// customer's user, not what its own metadata says.
func TestStoreLossOwnerHealsOnUse(t *testing.T) {
	e := startStoreLoss(t)
	intent := e.createIntent("alice", "heal-1")
	cus := e.redisValue(store.Key("alice", "customer"))
	// A card saved on alice's customer by Stripe.js, whose own metadata a
	// browser set to bob.
	pm := e.stripeDirect("/v1/payment_methods", url.Values{"type": {"card"}, "card[token]": {"tok_visa"},
		"metadata[paygate_user]": {"bob"}})["id"].(string)
	e.stripeDirect("/v1/payment_methods/"+pm+"/attach", url.Values{"customer": {cus}})

	e.flush()
	e.stripeCalls()
	// The replica remembers owners for ownership.CacheTTL; the heal comes
	// once it has forgotten, and alice is answered all along.
	testenv.EventuallyTelling(t, func() string { return "alice's intent recorded again after the flush" }, func() bool {
		resp, body := e.do("GET", "/v1/payment_intents/"+intent, "alice", "", nil)
		wantPaymentStatus(t, resp, body, http.StatusOK)
		return e.redisValue(ownership.Key(intent)) == "alice"
	})
	if n := healLookups(e.stripeCalls(), "/v1/payment_intents/"+intent); n != 1 {
		t.Errorf("%d Stripe lookups of the intent's owner, want 1", n)
	}
	resp, body := e.do("GET", "/v1/payment_intents/"+intent, "alice", "", nil)
	wantPaymentStatus(t, resp, body, http.StatusOK)
	if n := healLookups(e.stripeCalls(), "/v1/payment_intents/"+intent); n != 0 {
		t.Errorf("the read after the heal looked the owner up %d times, want 0 (recorded again)", n)
	}
	e.pg.WaitForMetric(t, `paygate_ownership_heal_total{kind="payment_intent",outcome="healed"}`, func(v float64) bool { return v >= 1 })

	// bob, after another flush: 404 every time, and what his requests heal
	// is alice's.
	e.flush()
	testenv.EventuallyTelling(t, func() string { return "bob's attempts heal alice's records" }, func() bool {
		resp, body := e.do("GET", "/v1/payment_intents/"+intent, "bob", "", nil)
		wantPaymentStatus(t, resp, body, http.StatusNotFound)
		resp, body = e.do("DELETE", "/v1/payment_methods/"+pm, "bob", "", nil)
		wantPaymentStatus(t, resp, body, http.StatusNotFound)
		return e.redisValue(ownership.Key(intent)) != "" && e.redisValue(ownership.Key(pm)) != ""
	})
	if got := e.redisValue(ownership.Key(intent)); got != "alice" {
		t.Errorf("intent recorded as %q's after bob's attempts, want alice's", got)
	}
	if got := e.redisValue(ownership.Key(pm)); got != "alice" {
		t.Errorf("card recorded as %q's, want its customer's user alice (its own metadata says bob)", got)
	}
	resp, body = e.do("DELETE", "/v1/payment_methods/"+pm, "alice", "", nil)
	wantPaymentStatus(t, resp, body, http.StatusNoContent)
}

// Asking again about an object Stripe says is not paygate's costs no
// Stripe call for ownership.NegativeTTL.
func TestStoreLossNegativeCache(t *testing.T) {
	e := startStoreLoss(t)
	const foreign = "pi_NotPaygates1"
	e.stripeCalls()
	for range 5 {
		resp, body := e.do("GET", "/v1/payment_intents/"+foreign, "alice", "", nil)
		wantPaymentStatus(t, resp, body, http.StatusNotFound)
	}
	if n := healLookups(e.stripeCalls(), "/v1/payment_intents/"+foreign); n != 1 {
		t.Errorf("5 reads of a foreign intent made %d Stripe lookups, want 1", n)
	}
	e.pg.WaitForMetric(t, `paygate_ownership_heal_total{kind="payment_intent",outcome="cached_not_found"}`, func(v float64) bool { return v >= 4 })
}

// A burst of random IDs from an authenticated client spends the replica's
// lookup budget, never more.
func TestStoreLossLookupBudget(t *testing.T) {
	e := startStoreLoss(t)
	const n = 3 * ownership.HealBurst
	e.stripeCalls()
	start := time.Now()
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", e.pg.HTTPSURL+fmt.Sprintf("/v1/payment_intents/pi_Random%04d", i), nil)
			req.Header = e.auth.credentials("alice")
			resp, err := e.pg.Client().Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(statuses)
	for s := range statuses {
		if s != http.StatusNotFound {
			t.Errorf("a random ID answered %d, want 404", s)
		}
	}
	lookups := 0
	for _, c := range e.stripeCalls() {
		if c.Method == http.MethodGet && strings.HasPrefix(c.Path, "/v1/payment_intents/pi_Random") {
			lookups++
		}
	}
	limit := ownership.HealBurst + int(ownership.HealRate*elapsed.Seconds()) + 1
	if lookups > limit {
		t.Errorf("%d random IDs made %d Stripe lookups in %v, want at most %d", n, lookups, elapsed, limit)
	}
	e.pg.WaitForMetric(t, `paygate_ownership_heal_total{kind="payment_intent",outcome="over_budget"}`, func(v float64) bool { return v >= 1 })
}

// The customer mapping heals too: after a flush, alice's next payment
// finds her customer by Stripe's search and creates no second one.
func TestStoreLossCustomerMappingHeals(t *testing.T) {
	e := startStoreLoss(t)
	e.createIntent("alice", "cus-heal-1")
	cus := e.redisValue(store.Key("alice", "customer"))
	if cus == "" {
		t.Fatal("no customer mapping after the first payment")
	}
	e.flush()
	e.stripeCalls()
	e.createIntent("alice", "cus-heal-2")
	searched := false
	for _, c := range e.stripeCalls() {
		switch {
		case c.Method == "POST" && c.Path == "/v1/customers":
			t.Errorf("a second customer was created after the flush")
		case c.Method == "GET" && c.Path == "/v1/customers/search":
			searched = true
		case c.Method == "POST" && c.Path == "/v1/payment_intents":
			if got := c.Form.Get("customer"); got != cus {
				t.Errorf("the payment after the flush is on customer %q, want alice's %q", got, cus)
			}
		}
	}
	if !searched {
		t.Error("no customer search after the flush")
	}
	if got := e.redisValue(store.Key("alice", "customer")); got != cus {
		t.Errorf("mapping after the heal = %q, want %q", got, cus)
	}
}

// `paygate reindex` rebuilds the mapping and the index from Stripe after a
// flush, trusting a card's customer and not its own metadata; reads then
// need no lookup; a second run records nothing; a dry run writes nothing.
func TestStoreLossReindex(t *testing.T) {
	e := startStoreLoss(t)
	intent := e.createIntent("alice", "reindex-1")
	resp, body := e.do("POST", "/v1/setup_intents", "alice", "", http.Header{"Idempotency-Key": {"reindex-2"}})
	wantPaymentStatus(t, resp, body, http.StatusCreated)
	setup := paymentJSON(t, body)["id"].(string)
	bobIntent := e.createIntent("bob", "reindex-3")
	aliceCus := e.redisValue(store.Key("alice", "customer"))
	bobCus := e.redisValue(store.Key("bob", "customer"))
	pm := e.stripeDirect("/v1/payment_methods", url.Values{"type": {"card"}, "card[token]": {"tok_visa"},
		"metadata[paygate_user]": {"bob"}})["id"].(string)
	e.stripeDirect("/v1/payment_methods/"+pm+"/attach", url.Values{"customer": {aliceCus}})
	want := map[string]string{
		store.Key("alice", "customer"): aliceCus,
		store.Key("bob", "customer"):   bobCus,
		ownership.Key(intent):          "alice",
		ownership.Key(setup):           "alice",
		ownership.Key(pm):              "alice",
		ownership.Key(bobIntent):       "bob",
	}

	reindex := func(args ...string) string {
		t.Helper()
		out, err := e.pg.Command(append([]string{"reindex"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("paygate reindex %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	e.flush()
	out := reindex("--dry-run")
	if !strings.Contains(out, "customers: 2\n") || !strings.Contains(out, fmt.Sprintf("to record (dry run): %d\n", len(want))) {
		t.Errorf("dry run's summary:\n%s\nwant 2 customers and %d to record", out, len(want))
	}
	if n, err := e.rdb.DBSize(context.Background()).Result(); err != nil || n != 0 {
		t.Errorf("the dry run wrote %d keys (%v), want none", n, err)
	}

	out = reindex()
	if !strings.Contains(out, fmt.Sprintf("recorded: %d\n", len(want))) || !strings.Contains(out, "conflicts: 0\n") {
		t.Errorf("summary:\n%s\nwant %d recorded, no conflicts", out, len(want))
	}
	for k, v := range want {
		if got := e.redisValue(k); got != v {
			t.Errorf("%s = %q after reindex, want %q", k, got, v)
		}
	}
	e.stripeCalls()
	resp, body = e.do("GET", "/v1/payment_intents/"+intent, "alice", "", nil)
	wantPaymentStatus(t, resp, body, http.StatusOK)
	if n := healLookups(e.stripeCalls(), "/v1/payment_intents/"+intent); n != 0 {
		t.Errorf("a read after reindex looked the owner up %d times, want 0", n)
	}

	out = reindex()
	if !strings.Contains(out, "recorded: 0\n") || !strings.Contains(out, fmt.Sprintf("already present: %d\n", len(want))) {
		t.Errorf("second run's summary:\n%s\nwant nothing recorded, %d present", out, len(want))
	}
}
