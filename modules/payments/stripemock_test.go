package payments

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/ownership"
	"github.com/paygate/paygate/internal/testenv"
)

// These tests drive the handler in-process against stripe-mock behind the
// recording proxy, and assert exactly which Stripe calls were made with
// which parameters. stripe-mock is stateless: it answers from fixtures
// (list endpoints always return the same fixture objects), so ownership is
// asserted on the store's records and the recorded calls, never on what
// Stripe would remember.

const aliceOrder = `{"items":[{"sku":"standard_clean","quantity":2},{"sku":"oven_addon","quantity":1}],"currency":"usd","reference":"booking-42"}`

// recorder tracks the calls made since the last look.
type recorder struct {
	t    *testing.T
	sm   *testenv.StripeMock
	seen int
}

// next returns the calls made since the last call of next.
func (rc *recorder) next() []testenv.StripeCall {
	calls := rc.sm.Calls()
	out := calls[rc.seen:]
	rc.seen = len(calls)
	return out
}

// want requires the calls since the last look to be exactly these
// "METHOD /path" lines, and returns them.
func (rc *recorder) want(lines ...string) []testenv.StripeCall {
	rc.t.Helper()
	calls := rc.next()
	got := make([]string, len(calls))
	for i, c := range calls {
		got[i] = c.Method + " " + c.Path
	}
	if !slices.Equal(got, lines) {
		rc.t.Fatalf("Stripe calls = %q, want %q", got, lines)
	}
	return calls
}

// form flattens a call's form body (every parameter is sent once).
func form(c testenv.StripeCall) map[string]string {
	m := make(map[string]string, len(c.Form))
	for k, v := range c.Form {
		m[k] = strings.Join(v, ",")
	}
	return m
}

// decode unmarshals a response body into a map.
func decode(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("response %q: %v", body, err)
	}
	return m
}

// wantKeys requires m to have exactly keys.
func wantKeys(t *testing.T, m map[string]any, keys ...string) {
	t.Helper()
	got := slices.Sorted(maps.Keys(m))
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Errorf("response members %q, want %q", got, keys)
	}
}

func (th *testHandler) owner(id string) string {
	th.t.Helper()
	owner, _, err := ownership.Owner(context.Background(), th.store, id)
	if err != nil {
		th.t.Fatal(err)
	}
	return owner
}

func (th *testHandler) customerOf(user string) string {
	th.t.Helper()
	id, _, err := th.h.customer(context.Background(), user)
	if err != nil {
		th.t.Fatal(err)
	}
	return id
}

func TestCreatePaymentIntentCalls(t *testing.T) {
	sm := testenv.StartStripeMock(t)
	th := newTestHandler(t, sm.URL, nil)
	rc := &recorder{t: t, sm: sm}

	// First payment: the customer is created, then the intent, with the
	// amount from the catalog (2 x 8900 + 2500).
	w, e := th.do("POST", "/v1/payment_intents", "alice", aliceOrder, idem("order-1"))
	wantOK(t, w, e, http.StatusCreated)
	pi := decode(t, w.Body.Bytes())
	wantKeys(t, pi, "id", "status", "amount", "currency", "client_secret")
	if pi["amount"] != float64(20300) || pi["currency"] != "usd" || pi["client_secret"] == "" {
		t.Errorf("intent = %v", pi)
	}
	calls := rc.want("POST /v1/customers", "POST /v1/payment_intents")
	if got, want := form(calls[0]), map[string]string{"metadata[paygate_user]": "alice"}; !maps.Equal(got, want) {
		t.Errorf("customer parameters = %v, want %v", got, want)
	}
	if got, want := calls[0].IdempotencyKey, customerIdempotencyKey("alice", ""); got != want {
		t.Errorf("customer Idempotency-Key = %q, want %q", got, want)
	}
	cus := th.customerOf("alice")
	if !strings.HasPrefix(cus, "cus_") {
		t.Fatalf("customer mapping = %q", cus)
	}
	wantIntent := map[string]string{
		"amount":                      "20300",
		"currency":                    "usd",
		"customer":                    cus,
		"description":                 "2 x Standard cleaning, 2 hours, 1 x Oven cleaning add-on",
		"metadata[paygate_user]":      "alice",
		"metadata[paygate_reference]": "booking-42",
		"payment_method_types[0]":     "card",
	}
	if got := form(calls[1]); !maps.Equal(got, wantIntent) {
		t.Errorf("intent parameters = %v, want exactly %v", got, wantIntent)
	}
	if got, want := calls[1].IdempotencyKey, stripeIdempotencyKey("alice", "payment_intent.create", "order-1"); got != want {
		t.Errorf("intent Idempotency-Key = %q, want %q", got, want)
	}
	if got := th.owner(pi["id"].(string)); got != "alice" {
		t.Errorf("owner of %s = %q, want alice", pi["id"], got)
	}

	// The next payment reuses the customer; a payment method is passed on
	// (expanded in the answer, for its card's fingerprint) and recorded as
	// alice's.
	withPM := `{"items":[{"sku":"deep_clean","quantity":1}],"currency":"usd","reference":"booking-43","payment_method":"pm_card_visa"}`
	w, e = th.do("POST", "/v1/payment_intents", "alice", withPM, idem(`"order-2"`))
	wantOK(t, w, e, http.StatusCreated)
	calls = rc.want("POST /v1/payment_intents")
	if f := form(calls[0]); f["amount"] != "18900" || f["customer"] != cus || f["payment_method"] != "pm_card_visa" || f["expand[0]"] != "payment_method" || len(f) != len(wantIntent)+2 {
		t.Errorf("second intent parameters = %v", f)
	}
	if got := th.owner("pm_card_visa"); got != "alice" {
		t.Errorf("owner of pm_card_visa = %q, want alice", got)
	}
	// The same key, bare or quoted, is the same Stripe key: a retry is the
	// same request to Stripe.
	w, e = th.do("POST", "/v1/payment_intents", "alice", withPM, idem("order-2"))
	wantOK(t, w, e, http.StatusCreated)
	if retry := rc.want("POST /v1/payment_intents"); retry[0].IdempotencyKey != calls[0].IdempotencyKey {
		t.Errorf("retry Idempotency-Key %q, first %q", retry[0].IdempotencyKey, calls[0].IdempotencyKey)
	}

	// Another user with the same client key gets another Stripe key.
	w, e = th.do("POST", "/v1/payment_intents", "bob", aliceOrder, idem("order-1"))
	wantOK(t, w, e, http.StatusCreated)
	calls = rc.want("POST /v1/customers", "POST /v1/payment_intents")
	if calls[1].IdempotencyKey == stripeIdempotencyKey("alice", "payment_intent.create", "order-1") {
		t.Error("bob's payment reached Stripe with alice's idempotency key")
	}
	if form(calls[1])["metadata[paygate_user]"] != "bob" || form(calls[1])["customer"] != th.customerOf("bob") {
		t.Errorf("bob's intent parameters = %v", form(calls[1]))
	}

	// Refusals reach no one.
	if err := ownership.Record(context.Background(), th.store, "pm_bobs", "bob"); err != nil {
		t.Fatal(err)
	}
	refusals := []struct {
		name, body string
		header     http.Header
		status     int
		code       string
	}{
		{"no Idempotency-Key", aliceOrder, nil, 400, "idempotency_key_missing"},
		{"empty Idempotency-Key", aliceOrder, idem(""), 400, "idempotency_key_invalid"},
		{"two Idempotency-Keys", aliceOrder, http.Header{"Idempotency-Key": {"a", "b"}}, 400, "idempotency_key_invalid"},
		{"client amount", strings.Replace(aliceOrder, `"currency"`, `"amount":1,"currency"`, 1), idem("k"), 400, "parameter_unknown"},
		{"client customer", strings.Replace(aliceOrder, `"currency"`, `"customer":"cus_victim","currency"`, 1), idem("k"), 400, "parameter_unknown"},
		{"client fee", strings.Replace(aliceOrder, `"currency"`, `"application_fee_amount":100,"currency"`, 1), idem("k"), 400, "parameter_unknown"},
		{"client transfer", strings.Replace(aliceOrder, `"currency"`, `"transfer_data":{"destination":"acct_1"},"currency"`, 1), idem("k"), 400, "parameter_unknown"},
		{"client on_behalf_of", strings.Replace(aliceOrder, `"currency"`, `"on_behalf_of":"acct_1","currency"`, 1), idem("k"), 400, "parameter_unknown"},
		{"client metadata", strings.Replace(aliceOrder, `"currency"`, `"metadata":{"paygate_user":"bob"},"currency"`, 1), idem("k"), 400, "parameter_unknown"},
		{"duplicate member", strings.Replace(aliceOrder, `"currency":"usd"`, `"currency":"usd","currency":"eur"`, 1), idem("k"), 400, "parameter_duplicate"},
		{"fractional quantity", strings.Replace(aliceOrder, `"quantity":2`, `"quantity":1.5`, 1), idem("k"), 400, "parameter_invalid"},
		{"unknown sku", strings.Replace(aliceOrder, `standard_clean`, `gold_plating`, 1), idem("k"), 400, "parameter_invalid"},
		{"currency mismatch", strings.Replace(aliceOrder, `"usd"`, `"eur"`, 1), idem("k"), 400, "parameter_invalid"},
		{"total too large", strings.Replace(aliceOrder, `"quantity":2`, `"quantity":99999999`, 1), idem("k"), 400, "amount_too_large"},
		{"another user's payment method", strings.Replace(aliceOrder, `"currency"`, `"payment_method":"pm_bobs","currency"`, 1), idem("k"), 404, "resource_missing"},
		{"not JSON", `amount=1`, idem("k"), 400, "body_invalid"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			_, e := th.do("POST", "/v1/payment_intents", "alice", tt.body, tt.header)
			wantError(t, e, tt.status, tt.code)
			if strings.Contains(e.Message, "victim") || strings.Contains(e.Message, "acct_1") || strings.Contains(e.Message, "gold") {
				t.Errorf("message %q echoes the client's value", e.Message)
			}
			rc.want()
		})
	}
}

// TestConcurrentFirstPayments: concurrent first payments of one user end
// with one customer. stripe-mock ignores idempotency keys (each creation
// returns a new ID), so the test checks what makes Stripe create one: every
// creation carries the same Idempotency-Key with the same parameters, one
// mapping is stored, and every payment uses it.
func TestConcurrentFirstPayments(t *testing.T) {
	sm := testenv.StartStripeMock(t)
	th := newTestHandler(t, sm.URL, nil)
	const n = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			w, e := th.do("POST", "/v1/payment_intents", "carol", aliceOrder, idem(fmt.Sprint("key-", i)))
			if e != nil || w.Code != http.StatusCreated {
				t.Errorf("payment %d: %v %v", i, w.Code, e)
			}
		})
	}
	close(start)
	wg.Wait()
	cus := th.customerOf("carol")
	var customers, intents int
	for _, c := range sm.Calls() {
		switch c.Path {
		case "/v1/customers":
			customers++
			if c.IdempotencyKey != customerIdempotencyKey("carol", "") || !maps.Equal(form(c), map[string]string{"metadata[paygate_user]": "carol"}) {
				t.Errorf("customer creation with key %q and parameters %v", c.IdempotencyKey, form(c))
			}
		case "/v1/payment_intents":
			intents++
			if got := form(c)["customer"]; got != cus {
				t.Errorf("payment for customer %q, want the mapped %q", got, cus)
			}
		}
	}
	if customers < 1 || intents != n {
		t.Errorf("%d customer creations and %d payments, want at least 1 and %d", customers, intents, n)
	}
}

func TestPaymentIntentLifecycle(t *testing.T) {
	sm := testenv.StartStripeMock(t)
	th := newTestHandler(t, sm.URL, nil)
	rc := &recorder{t: t, sm: sm}
	w, e := th.do("POST", "/v1/payment_intents", "alice", aliceOrder, idem("k1"))
	wantOK(t, w, e, http.StatusCreated)
	id := decode(t, w.Body.Bytes())["id"].(string)
	rc.next()

	// The owner reads it, without the client secret.
	w, e = th.do("GET", "/v1/payment_intents/"+id, "alice", "", nil)
	wantOK(t, w, e, http.StatusOK)
	wantKeys(t, decode(t, w.Body.Bytes()), "id", "status", "amount", "currency")
	rc.want("GET /v1/payment_intents/" + id)

	// Another user, an unknown ID and a malformed one are the same 404,
	// and Stripe is never asked.
	for _, tt := range []struct{ method, path, user, body string }{
		{"GET", "/v1/payment_intents/" + id, "bob", ""},
		{"GET", "/v1/payment_intents/pi_unknown", "alice", ""},
		{"GET", "/v1/payment_intents/seti_123", "alice", ""},
		{"GET", "/v1/payment_intents/pi_a.b", "alice", ""},
		{"GET", "/v1/payment_intents/pi_a%2Fb", "alice", ""},
		{"POST", "/v1/payment_intents/" + id + "/confirm", "bob", `{"payment_method":"pm_card_visa"}`},
		{"POST", "/v1/payment_intents/" + id + "/cancel", "bob", ""},
		{"GET", "/v1/nothing", "alice", ""},
	} {
		_, e := th.do(tt.method, tt.path, tt.user, tt.body, nil)
		wantError(t, e, http.StatusNotFound, "resource_missing")
		if e.Message != "No such resource." {
			t.Errorf("%s %s as %s: message %q", tt.method, tt.path, tt.user, e.Message)
		}
		rc.want()
	}

	// Confirm: the payment method goes to Stripe with use_stripe_sdk, so
	// that 3-D Secure comes back as a next action for Stripe.js, and comes
	// back expanded, for its card's fingerprint.
	w, e = th.do("POST", "/v1/payment_intents/"+id+"/confirm", "alice", `{"payment_method":"pm_card_visa"}`, idem("c1"))
	wantOK(t, w, e, http.StatusOK)
	if v := decode(t, w.Body.Bytes()); v["client_secret"] == nil || v["id"] != id {
		t.Errorf("confirm response = %v", v)
	}
	calls := rc.want("POST /v1/payment_intents/" + id + "/confirm")
	if got, want := form(calls[0]), map[string]string{"payment_method": "pm_card_visa", "use_stripe_sdk": "true", "expand[0]": "payment_method"}; !maps.Equal(got, want) {
		t.Errorf("confirm parameters = %v, want %v", got, want)
	}
	if calls[0].IdempotencyKey != stripeIdempotencyKey("alice", "payment_intent.confirm "+id, "c1") {
		t.Errorf("confirm Idempotency-Key = %q", calls[0].IdempotencyKey)
	}
	_, e = th.do("POST", "/v1/payment_intents/"+id+"/confirm", "alice", `{"payment_method":"pm_card_visa","amount":1}`, nil)
	wantError(t, e, http.StatusBadRequest, "parameter_unknown")
	rc.want()

	// Cancel: no parameters, no client secret.
	_, e = th.do("POST", "/v1/payment_intents/"+id+"/cancel", "alice", `{"cancellation_reason":"duplicate"}`, nil)
	wantError(t, e, http.StatusBadRequest, "parameter_unknown")
	w, e = th.do("POST", "/v1/payment_intents/"+id+"/cancel", "alice", "", nil)
	wantOK(t, w, e, http.StatusOK)
	wantKeys(t, decode(t, w.Body.Bytes()), "id", "status", "amount", "currency")
	if calls := rc.want("POST /v1/payment_intents/" + id + "/cancel"); len(calls[0].Form) != 0 {
		t.Errorf("cancel parameters = %v, want none", calls[0].Form)
	}

	// Dispatch refusals.
	_, e = th.do("DELETE", "/v1/payment_intents/"+id, "alice", "", nil)
	wantError(t, e, http.StatusMethodNotAllowed, "method_not_allowed")
	if got := e.Header.Get("Allow"); got != "GET" {
		t.Errorf("Allow = %q, want GET", got)
	}
	_, e = th.do("GET", "/v1/payment_intents/"+id, "", "", nil)
	wantError(t, e, http.StatusUnauthorized, "unauthorized")
	_, e = th.do("GET", "/v1/payment_intents/"+id, "alice\x00admin", "", nil)
	wantError(t, e, http.StatusUnauthorized, "unauthorized")
	_, e = th.do("POST", "/v1/payment_intents", "alice", strings.Repeat(" ", maxBody+1), idem("k"))
	wantError(t, e, http.StatusRequestEntityTooLarge, "body_too_large")
	for _, ct := range []string{"application/x-www-form-urlencoded", "application/json; charset=utf-16"} {
		_, e = th.do("POST", "/v1/payment_intents", "alice", aliceOrder, http.Header{"Idempotency-Key": {"k"}, "Content-Type": {ct}})
		wantError(t, e, http.StatusUnsupportedMediaType, "unsupported_media_type")
	}
	rc.want()
}

func TestSetupIntentsAndCards(t *testing.T) {
	sm := testenv.StartStripeMock(t)
	th := newTestHandler(t, sm.URL, nil)
	rc := &recorder{t: t, sm: sm}

	// A user without a customer has no cards, and listing creates none.
	w, e := th.do("GET", "/v1/payment_methods", "dave", "", nil)
	wantOK(t, w, e, http.StatusOK)
	if got := strings.TrimSpace(w.Body.String()); got != `{"data":[]}` {
		t.Errorf("cards of a new user = %s", got)
	}
	rc.want()

	w, e = th.do("POST", "/v1/setup_intents", "alice", "{}", nil)
	wantOK(t, w, e, http.StatusCreated)
	si := decode(t, w.Body.Bytes())
	wantKeys(t, si, "id", "status", "client_secret")
	calls := rc.want("POST /v1/customers", "POST /v1/setup_intents")
	cus := th.customerOf("alice")
	want := map[string]string{"customer": cus, "metadata[paygate_user]": "alice", "payment_method_types[0]": "card", "usage": "off_session"}
	if got := form(calls[1]); !maps.Equal(got, want) {
		t.Errorf("setup intent parameters = %v, want %v", got, want)
	}
	if got := th.owner(si["id"].(string)); got != "alice" {
		t.Errorf("owner of %s = %q", si["id"], got)
	}
	_, e = th.do("POST", "/v1/setup_intents", "alice", `{"customer":"cus_other"}`, nil)
	wantError(t, e, http.StatusBadRequest, "parameter_unknown")
	rc.want()

	// The owner reads the setup intent, without its client secret; anyone
	// else, or a payment intent's ID on this route, gets the same 404, and
	// Stripe is never asked.
	w, e = th.do("GET", "/v1/setup_intents/"+si["id"].(string), "alice", "", nil)
	wantOK(t, w, e, http.StatusOK)
	wantKeys(t, decode(t, w.Body.Bytes()), "id", "status")
	rc.want("GET /v1/setup_intents/" + si["id"].(string))
	for _, tt := range []struct{ path, user string }{
		{"/v1/setup_intents/" + si["id"].(string), "bob"},
		{"/v1/setup_intents/seti_unknown", "alice"},
		{"/v1/setup_intents/pi_123", "alice"},
	} {
		_, e = th.do("GET", tt.path, tt.user, "", nil)
		wantError(t, e, http.StatusNotFound, "resource_missing")
		rc.want()
	}

	// Listing shows id, brand, last4 and expiry only, and records the
	// cards as alice's.
	w, e = th.do("GET", "/v1/payment_methods", "alice", "", nil)
	wantOK(t, w, e, http.StatusOK)
	var list struct{ Data []map[string]any }
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || len(list.Data) == 0 {
		t.Fatalf("list = %s (%v)", w.Body, err)
	}
	for _, pm := range list.Data {
		wantKeys(t, pm, "id", "brand", "last4", "exp_month", "exp_year")
	}
	pm := list.Data[0]["id"].(string)
	calls = rc.want("GET /v1/customers/" + cus + "/payment_methods")
	if q := calls[0].Query; q.Get("type") != "card" || q.Get("limit") != "100" {
		t.Errorf("list query = %v", q)
	}
	if got := th.owner(pm); got != "alice" {
		t.Errorf("owner of listed %s = %q", pm, got)
	}

	// Only the owner detaches, once.
	_, e = th.do("DELETE", "/v1/payment_methods/"+pm, "bob", "", nil)
	wantError(t, e, http.StatusNotFound, "resource_missing")
	rc.want()
	w, e = th.do("DELETE", "/v1/payment_methods/"+pm, "alice", "", nil)
	wantOK(t, w, e, http.StatusNoContent)
	rc.want("POST /v1/payment_methods/" + pm + "/detach")
	if got := th.owner(pm); got != "" {
		t.Errorf("owner of a detached card = %q", got)
	}
	_, e = th.do("DELETE", "/v1/payment_methods/"+pm, "alice", "", nil)
	wantError(t, e, http.StatusNotFound, "resource_missing")
	rc.want()
}

func TestEraseCustomer(t *testing.T) {
	sm := testenv.StartStripeMock(t)
	th := newTestHandler(t, sm.URL, nil)
	rc := &recorder{t: t, sm: sm}
	ctx := context.Background()

	w, e := th.do("POST", "/v1/payment_intents", "alice", aliceOrder, idem("k1"))
	wantOK(t, w, e, http.StatusCreated)
	w, e = th.do("GET", "/v1/payment_methods", "alice", "", nil)
	wantOK(t, w, e, http.StatusOK)
	cus := th.customerOf("alice")
	firstKey := customerIdempotencyKey("alice", "")

	// What stripe-mock's lists return stands for alice's objects at
	// Stripe; one of them is recorded as bob's, whose record must stay.
	fixtures := listedIDs(t, sm.URL)
	for _, id := range fixtures[1:] {
		if err := ownership.Record(ctx, th.store, id, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	if err := ownership.Record(ctx, th.store, fixtures[0], "bob"); err != nil {
		t.Fatal(err)
	}
	rc.next()

	w, e = th.do("DELETE", "/v1/customers/me", "alice", "", nil)
	wantOK(t, w, e, http.StatusNoContent)
	pms := rc.want(
		"GET /v1/customers/"+cus+"/payment_methods",
		"POST /v1/payment_methods/"+fixtures[0]+"/detach",
		"GET /v1/payment_intents",
		"GET /v1/setup_intents",
		"DELETE /v1/customers/"+cus,
	)
	if q := pms[2].Query; q.Get("customer") != cus {
		t.Errorf("intents listed with %v", q)
	}
	if got := th.customerOf("alice"); got != "" {
		t.Errorf("customer mapping after erasure = %q", got)
	}
	for _, id := range fixtures[1:] {
		if got := th.owner(id); got != "" {
			t.Errorf("owner of %s after erasure = %q", id, got)
		}
	}
	if got := th.owner(fixtures[0]); got != "bob" {
		t.Errorf("bob's record of %s = %q after alice's erasure", fixtures[0], got)
	}
	if n := th.audit.FilterField(zap.String("action", "customer.erase")).FilterField(zap.String("outcome", "succeeded")).Len(); n != 1 {
		t.Errorf("%d customer.erase audit events, want 1", n)
	}

	// Again: nothing to do, nothing asked of Stripe.
	w, e = th.do("DELETE", "/v1/customers/me", "alice", "", nil)
	wantOK(t, w, e, http.StatusNoContent)
	rc.want()

	// A later payment creates a new customer, with a new idempotency key
	// (Stripe would otherwise replay the deleted one for a day).
	w, e = th.do("POST", "/v1/payment_intents", "alice", aliceOrder, idem("k2"))
	wantOK(t, w, e, http.StatusCreated)
	calls := rc.want("POST /v1/customers", "POST /v1/payment_intents")
	if calls[0].IdempotencyKey == firstKey {
		t.Error("the new customer was created with the deleted one's idempotency key")
	}
}

// listedIDs returns the IDs stripe-mock's lists return: a card payment
// method, then a payment intent and a setup intent.
func listedIDs(t *testing.T, base string) []string {
	t.Helper()
	var ids []string
	for _, path := range []string{"/v1/customers/cus_x/payment_methods?type=card", "/v1/payment_intents", "/v1/setup_intents"} {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+testKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var list struct {
			Data []struct{ ID string }
		}
		err = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		if err != nil || len(list.Data) == 0 {
			t.Fatalf("%s: %v, %d objects", path, err, len(list.Data))
		}
		ids = append(ids, list.Data[0].ID)
	}
	return ids
}
