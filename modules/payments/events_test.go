package payments

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/ownership"
)

// stripeEvent is a Stripe event body about object.
func stripeEvent(id, typ string, created int64, object map[string]any) string {
	b, _ := json.Marshal(map[string]any{
		"id": id, "object": "event", "type": typ, "created": created, "api_version": "2023-10-16",
		"data": map[string]any{"object": object},
	})
	return string(b)
}

func intentObject(id string) map[string]any {
	return map[string]any{"id": id, "object": "payment_intent", "amount": 8900, "currency": "usd", "client_secret": id + "_secret_x"}
}

func newEventsHandler(t *testing.T) *testHandler {
	th := newTestEventProcessor(t)
	for id, user := range map[string]string{"pi_1": "alice", "pi_2": "alice", "pi_3": "bob", "seti_1": "alice", "pm_1": "alice"} {
		if err := ownership.Record(context.Background(), th.store, id, user); err != nil {
			t.Fatal(err)
		}
	}
	return th
}

// post delivers an event and requires 200 {"received":true}.
func (th *testHandler) post(body string) {
	th.t.Helper()
	w, e := th.do("POST", "/webhooks/stripe", "", body, nil)
	wantOK(th.t, w, e, http.StatusOK)
	if got := strings.TrimSpace(w.Body.String()); got != `{"received":true}` {
		th.t.Errorf("body = %s", got)
	}
}

// status returns the status recorded for an intent, or "".
func (th *testHandler) status(id string) string {
	th.t.Helper()
	v, ok, err := th.store.Get(context.Background(), statusKey(id))
	if err != nil {
		th.t.Fatal(err)
	}
	if !ok {
		return ""
	}
	var rec statusRecord
	if err := json.Unmarshal(v, &rec); err != nil {
		th.t.Fatal(err)
	}
	return rec.Status
}

// TestEventsOutOfOrder delivers a payment's events in a scrambled order:
// the recorded status never moves backwards.
func TestEventsOutOfOrder(t *testing.T) {
	th := newEventsHandler(t)
	steps := []struct {
		typ     string
		created int64
		want    string
	}{
		{"payment_intent.processing", 105, "processing"},
		{"payment_intent.requires_action", 100, "processing"}, // older
		{"payment_intent.succeeded", 110, "succeeded"},
		{"payment_intent.processing", 106, "succeeded"},
		{"payment_intent.payment_failed", 120, "succeeded"}, // newer, yet never after success
		{"payment_intent.canceled", 130, "succeeded"},
	}
	for i, s := range steps {
		th.post(stripeEvent(fmt.Sprint("evt_", i), s.typ, s.created, intentObject("pi_1")))
		if got := th.status("pi_1"); got != s.want {
			t.Fatalf("after %s (created %d): status %q, want %q", s.typ, s.created, got, s.want)
		}
	}
	// canceled stays canceled; a failed payment can be retried.
	th.post(stripeEvent("evt_c1", "payment_intent.canceled", 200, intentObject("pi_2")))
	th.post(stripeEvent("evt_c2", "payment_intent.succeeded", 300, intentObject("pi_2")))
	if got := th.status("pi_2"); got != "canceled" {
		t.Errorf("pi_2: %q, want canceled", got)
	}
	th.post(stripeEvent("evt_f1", "payment_intent.payment_failed", 200, intentObject("pi_3")))
	th.post(stripeEvent("evt_f2", "payment_intent.requires_action", 201, intentObject("pi_3")))
	if got := th.status("pi_3"); got != "requires_action" {
		t.Errorf("pi_3: %q, want requires_action (a new attempt after the failure)", got)
	}
	stale := th.audit.FilterField(zap.String("reason", reasonStale)).Len()
	if stale != 5 {
		t.Errorf("%d events audited as out of order, want 5", stale)
	}
	if n := th.audit.FilterField(zap.String("action", "webhook.payment_intent.succeeded")).FilterField(zap.String("actor", "alice")).Len(); n != 2 {
		t.Errorf("%d succeeded events audited with actor alice, want 2", n)
	}
}

func TestEventsForOurObjects(t *testing.T) {
	th := newEventsHandler(t)
	ctx := context.Background()

	// A saved card becomes the user's.
	th.post(stripeEvent("evt_1", "setup_intent.succeeded", 100, map[string]any{"id": "seti_1", "object": "setup_intent", "payment_method": "pm_saved"}))
	if got := th.owner("pm_saved"); got != "alice" {
		t.Errorf("owner of the saved card = %q, want alice", got)
	}
	if got := th.status("seti_1"); got != "succeeded" {
		t.Errorf("setup intent status = %q", got)
	}
	// Also when Stripe expanded the payment method.
	if err := ownership.Record(ctx, th.store, "seti_2", "bob"); err != nil {
		t.Fatal(err)
	}
	th.post(stripeEvent("evt_2", "setup_intent.succeeded", 100, map[string]any{"id": "seti_2", "payment_method": map[string]any{"id": "pm_expanded", "object": "payment_method"}}))
	if got := th.owner("pm_expanded"); got != "bob" {
		t.Errorf("owner of the expanded card = %q, want bob", got)
	}

	// A detached card is no one's.
	th.post(stripeEvent("evt_3", "payment_method.detached", 100, map[string]any{"id": "pm_1", "object": "payment_method", "customer": nil}))
	if got := th.owner("pm_1"); got != "" {
		t.Errorf("owner of the detached card = %q", got)
	}

	// A dispute is recorded on its payment intent.
	th.post(stripeEvent("evt_4", "charge.dispute.created", 100, map[string]any{
		"id": "dp_1", "object": "dispute", "payment_intent": "pi_1", "charge": "ch_1", "reason": "fraudulent", "status": "needs_response",
	}))
	v, ok, err := th.store.Get(ctx, disputeKey("pi_1"))
	if err != nil || !ok {
		t.Fatalf("dispute record: %v, %v", ok, err)
	}
	var d disputeRecord
	if err := json.Unmarshal(v, &d); err != nil || d != (disputeRecord{Dispute: "dp_1", Reason: "fraudulent", Status: "needs_response", Event: "evt_4", Created: 100}) {
		t.Errorf("dispute record = %+v (%v)", d, err)
	}
}

// TestEventsIgnored: events about objects that are not ours, and types that
// are not processed, are acknowledged and change nothing.
func TestEventsIgnored(t *testing.T) {
	th := newEventsHandler(t)
	for _, body := range []string{
		stripeEvent("evt_1", "payment_intent.succeeded", 100, intentObject("pi_someone_elses")),
		stripeEvent("evt_2", "setup_intent.succeeded", 100, map[string]any{"id": "seti_unknown", "payment_method": "pm_steal"}),
		stripeEvent("evt_3", "charge.dispute.created", 100, map[string]any{"id": "dp_1", "payment_intent": nil}),
		stripeEvent("evt_4", "payment_method.detached", 100, map[string]any{"id": "pm_unknown"}),
		stripeEvent("evt_5", "customer.created", 100, map[string]any{"id": "cus_1"}),
	} {
		th.post(body)
	}
	if got := th.owner("pm_steal"); got != "" {
		t.Errorf("a card of an unknown setup intent was recorded for %q", got)
	}
	if got := th.status("pi_someone_elses"); got != "" {
		t.Errorf("status of an unknown intent recorded: %q", got)
	}
	if n := th.audit.FilterField(zap.String("reason", reasonNotOurs)).Len(); n != 4 {
		t.Errorf("%d events audited as not ours, want 4", n)
	}
	if n := th.audit.FilterField(zap.String("action", "webhook.other")).FilterField(zap.String("reason", reasonUnhandled)).Len(); n != 1 {
		t.Errorf("%d unhandled events audited, want 1", n)
	}
}

func TestEventsRefused(t *testing.T) {
	th := newEventsHandler(t)
	for _, tt := range []struct{ name, body string }{
		{"not JSON", "evt_1"},
		{"not an event", `{"id":"pi_1","object":"payment_intent"}`},
		{"no creation time", `{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1"}}}`},
		{"object without ID", stripeEvent("evt_1", "payment_intent.succeeded", 100, map[string]any{"object": "payment_intent"})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, e := th.do("POST", "/webhooks/stripe", "", tt.body, nil)
			wantError(t, e, http.StatusBadRequest, "bad_request")
		})
	}
	if got := th.status("pi_1"); got != "" {
		t.Errorf("a refused event recorded status %q", got)
	}
}

// TestEventsUnverifiedRefused: a request that did not pass stripe_webhook
// (the processor routed on its own) changes nothing, whatever it says, and
// the log names the configuration error.
func TestEventsUnverifiedRefused(t *testing.T) {
	th := newEventsHandler(t)
	th.verified = false
	forged := stripeEvent("evt_1", "setup_intent.succeeded", 100, map[string]any{"id": "seti_1", "payment_method": "pi_3"})
	_, e := th.do("POST", "/webhooks/stripe", "", forged, nil)
	wantError(t, e, http.StatusInternalServerError, "internal_error")
	if got := th.owner("pi_3"); got != "bob" {
		t.Errorf("owner of bob's intent = %q after an unverified event", got)
	}
	if th.logs.FilterMessageSnippet("did not pass stripe_webhook").Len() != 1 {
		t.Errorf("no configuration error logged: %v", th.logs.All())
	}
}

// TestEventsNeverMoveOwnership: verified events whose IDs do not have the
// prefix their field must have, or that would give one user's object to
// another, change no ownership record.
func TestEventsNeverMoveOwnership(t *testing.T) {
	th := newEventsHandler(t)
	for _, body := range []string{
		// The review's attack: a payment intent as the "card" of a setup
		// intent.
		stripeEvent("evt_1", "setup_intent.succeeded", 100, map[string]any{"id": "seti_1", "payment_method": "pi_3"}),
		// Bob's intent named as a payment method being detached.
		stripeEvent("evt_2", "payment_method.detached", 100, map[string]any{"id": "pi_3"}),
		// A payment intent event naming a setup intent.
		stripeEvent("evt_3", "payment_intent.canceled", 100, map[string]any{"id": "seti_1"}),
		// A dispute about a payment method.
		stripeEvent("evt_4", "charge.dispute.created", 100, map[string]any{"id": "dp_1", "payment_intent": "pm_1"}),
		// A dispute whose own ID is not a dispute's.
		stripeEvent("evt_5", "charge.dispute.created", 100, map[string]any{"id": "pi_1", "payment_intent": "pi_1"}),
	} {
		th.post(body)
	}
	if got := th.owner("pi_3"); got != "bob" {
		t.Errorf("owner of bob's intent = %q", got)
	}
	if got := th.status("seti_1"); got != "" {
		t.Errorf("status of a setup intent recorded from a payment intent event: %q", got)
	}
	if n := th.audit.FilterField(zap.String("reason", reasonBadID)).Len(); n != 5 {
		t.Errorf("%d events audited with %s, want 5", n, reasonBadID)
	}

	// Alice's setup intent names bob's saved card: it stays bob's.
	if err := ownership.Record(context.Background(), th.store, "pm_bobs", "bob"); err != nil {
		t.Fatal(err)
	}
	th.post(stripeEvent("evt_6", "setup_intent.succeeded", 100, map[string]any{"id": "seti_1", "payment_method": "pm_bobs"}))
	if got := th.owner("pm_bobs"); got != "bob" {
		t.Errorf("owner of bob's card = %q", got)
	}
	if n := th.audit.FilterField(zap.String("reason", reasonOwnedByOther)).Len(); n != 1 {
		t.Errorf("%d events audited with %s, want 1", n, reasonOwnedByOther)
	}
}

// TestEventsStoreOutage: a store failure is a 503, so that Stripe (through
// the webhook stage) delivers the event again.
func TestEventsStoreOutage(t *testing.T) {
	th := newEventsHandler(t)
	if err := th.store.Close(); err != nil {
		t.Fatal(err)
	}
	_, e := th.do("POST", "/webhooks/stripe", "", stripeEvent("evt_1", "payment_intent.succeeded", 100, intentObject("pi_1")), nil)
	wantError(t, e, http.StatusServiceUnavailable, "store_unavailable")
}
