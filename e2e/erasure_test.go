package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/store"
)

// userRecords lists what the private Redis holds about user after the
// right to deletion: keys whose name holds the user ID, and ownership
// records naming the user.
func (e *paymentsEnv) userRecords(user string) []string {
	e.t.Helper()
	ctx := context.Background()
	var found []string
	iter := e.rdb.Scan(ctx, 0, store.DefaultRedisPrefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		if strings.Contains(key, user) {
			found = append(found, key)
			continue
		}
		if strings.HasSuffix(key, ":owner") {
			if v := e.redisValue(strings.TrimPrefix(key, store.DefaultRedisPrefix)); v == user {
				found = append(found, key+" = "+v)
			}
		}
	}
	if err := iter.Err(); err != nil {
		e.t.Fatal(err)
	}
	return found
}

// DELETE /v1/customers/me (DESIGN §3, the right to deletion) leaves no
// ownership record naming the user, also of a payment method recorded when
// an intent was created and replaced when it was confirmed (which Stripe
// no longer links to the customer), and no key holding the user ID. The
// replica that erased forgets the owners at once: the user's intent is 404
// right after the 204, not once the owner cache expires. The cards are
// free for their next owner.
func TestErasureLeavesNoOwnershipRecords(t *testing.T) {
	e := startStoreLoss(t)
	const card1, card2 = "pm_alice_card_1", "pm_alice_card_2"
	order := strings.Replace(paymentOrder, `"reference"`, `"payment_method":"`+card1+`","reference"`, 1)
	resp, body := e.do("POST", "/v1/payment_intents", "alice", order, http.Header{"Idempotency-Key": {"erase-1"}})
	wantPaymentStatus(t, resp, body, http.StatusCreated)
	intent := paymentJSON(t, body)["id"].(string)
	resp, body = e.do("POST", "/v1/payment_intents/"+intent+"/confirm", "alice", `{"payment_method":"`+card2+`"}`, http.Header{"Idempotency-Key": {"erase-2"}})
	wantPaymentStatus(t, resp, body, http.StatusOK)
	resp, body = e.do("POST", "/v1/setup_intents", "alice", "", http.Header{"Idempotency-Key": {"erase-3"}})
	wantPaymentStatus(t, resp, body, http.StatusCreated)
	if len(e.userRecords("alice")) == 0 {
		t.Fatal("no record names alice before the erasure")
	}

	resp, body = e.do("DELETE", "/v1/customers/me", "alice", "", nil)
	wantPaymentStatus(t, resp, body, http.StatusNoContent)
	if resp, body = e.do("GET", "/v1/payment_intents/"+intent, "alice", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("alice's intent right after the erasure: status %d (body %s), want 404", resp.StatusCode, body)
	}

	if left := e.userRecords("alice"); len(left) != 0 {
		t.Errorf("after the erasure the store still holds about alice: %q", left)
	}
	// alice is the only user so far: no index of a user's objects is left.
	if keys := e.rdb.Keys(context.Background(), store.DefaultRedisPrefix+"*:owned").Val(); len(keys) != 0 {
		t.Errorf("after the erasure the store still holds the index %q", keys)
	}
	for _, pm := range []string{card1, card2} {
		body := strings.Replace(paymentOrder, `"reference"`, `"payment_method":"`+pm+`","reference"`, 1)
		resp, got := e.do("POST", "/v1/payment_intents", "bob", body, http.Header{"Idempotency-Key": {"erase-bob-" + pm}})
		wantPaymentStatus(t, resp, got, http.StatusCreated)
	}
}
