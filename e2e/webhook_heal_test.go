package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/ownership"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/testenv"
	"github.com/paygate/paygate/internal/webhookevent"
)

// redisExists reports whether the private Redis holds a store key.
func (e *paymentsEnv) redisExists(key string) bool {
	e.t.Helper()
	n, err := e.rdb.Exists(context.Background(), store.DefaultRedisPrefix+key).Result()
	if err != nil {
		e.t.Fatalf("EXISTS %s: %v", key, err)
	}
	return n == 1
}

// succeededEvent is a signed payment_intent.succeeded event id about intent.
func succeededEvent(t *testing.T, id, intent string) (body []byte, signature string) {
	t.Helper()
	body = stripeEventBody(t, id, webhookevent.TypePaymentSucceeded,
		map[string]any{"id": intent, "object": "payment_intent", "status": "succeeded"}, nil)
	return body, stripeSignature(body, time.Now(), webhookSecret)
}

// After a store loss, an event about an object whose owner the replica
// cannot look up on Stripe now (over its budget of lookups) is not taken
// for an object that is not paygate's: it is answered 503, not marked
// done, and Stripe's retry of the same event ID, once the budget has
// refilled, is processed. No event is acknowledged without being recorded.
func TestWebhookOwnerOverBudgetRetried(t *testing.T) {
	e := startStoreLoss(t)
	// More events at once than the budget's burst (plus what refills while
	// they are answered) can look up.
	const n = 3 * ownership.HealBurst
	intents := make([]string, n)
	for i := range intents {
		intents[i] = e.createIntent("alice", fmt.Sprintf("over-budget-%d", i))
	}
	e.flush()
	// The replica remembers owners for ownership.CacheTTL: once it has
	// forgotten the intent created last, it has forgotten them all. That
	// read heals the intent (one lookup); its event is not sent.
	last := intents[n-1]
	testenv.Eventually(t, "the replica to forget the owners it recorded", func() bool {
		resp, body := e.do("GET", "/v1/payment_intents/"+last, "alice", "", nil)
		wantPaymentStatus(t, resp, body, http.StatusOK)
		return e.redisValue(ownership.Key(last)) == "alice"
	})
	intents = intents[:n-1]

	type answer struct {
		intent, event string
		status        int
		body          []byte
	}
	answers := make([]answer, len(intents))
	var wg sync.WaitGroup
	for i, intent := range intents {
		wg.Go(func() {
			id := "evt_overbudget" + strings.TrimPrefix(intent, "pi_")
			body, sig := succeededEvent(t, id, intent)
			req, err := http.NewRequest(http.MethodPost, e.pg.HTTPSURL+"/webhooks/stripe", strings.NewReader(string(body)))
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Stripe-Signature", sig)
			a := answer{intent: intent, event: id}
			resp, err := e.pg.Client().Do(req)
			if err != nil {
				t.Errorf("delivering %s: %v", id, err)
				return
			}
			defer resp.Body.Close()
			if a.body, err = io.ReadAll(resp.Body); err != nil {
				t.Errorf("delivering %s: reading the answer: %v", id, err)
				return
			}
			a.status = resp.StatusCode
			answers[i] = a
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	e.pg.WaitForMetric(t, `paygate_ownership_heal_total{kind="payment_intent",outcome="over_budget"}`, func(v float64) bool { return v >= 1 })

	var retry []answer
	for _, a := range answers {
		switch a.status {
		case http.StatusOK:
			if !e.redisExists(store.Key(a.intent, "status")) {
				t.Errorf("event %s answered 200 (%s) but its intent's status was not recorded: the event is lost", a.event, a.body)
			}
		case http.StatusServiceUnavailable:
			var refusal apiError
			if err := json.Unmarshal(a.body, &refusal); err != nil || refusal.Error.Code != "store_unavailable" || refusal.Error.RequestID == "" {
				t.Errorf("event %s: 503 body %s, want paygate's store_unavailable error", a.event, a.body)
			}
			if e.rdb.Exists(context.Background(), eventKey(a.event)).Val() != 0 {
				t.Errorf("event %s answered 503 but left a webhook record: Stripe's retry would not be processed", a.event)
			}
			retry = append(retry, a)
		default:
			t.Errorf("event %s: status %d (%s), want 200 or 503", a.event, a.status, a.body)
		}
	}
	if len(retry) == 0 && !t.Failed() {
		t.Fatal("no event was answered 503, though the lookups went over budget")
	}

	// Stripe's retries, same event IDs: each is processed once the budget
	// allows a lookup.
	testenv.EventuallyTelling(t, func() string { return fmt.Sprintf("%d retried events processed", len(retry)) }, func() bool {
		var pending []answer
		for _, a := range retry {
			body, sig := succeededEvent(t, a.event, a.intent)
			resp, got := postEvent(t, e.pg, body, sig, nil)
			switch resp.StatusCode {
			case http.StatusOK:
				if !e.redisExists(store.Key(a.intent, "status")) {
					t.Fatalf("retry of %s answered 200 (%s) but its intent's status was not recorded", a.event, got)
				}
			case http.StatusServiceUnavailable:
				pending = append(pending, a)
			default:
				t.Fatalf("retry of %s: status %d (%s), want 200 or 503", a.event, resp.StatusCode, got)
			}
		}
		retry = pending
		return len(retry) == 0
	})
}
