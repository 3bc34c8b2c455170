package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/testenv"
	"github.com/paygate/paygate/internal/webhookevent"
)

// The outcomes of a delivery, as paygate_webhook_events_total labels them.
const (
	outcomeProcessed        = "processed"
	outcomeDuplicate        = "duplicate"
	outcomeInFlight         = "in_flight"
	outcomeFailed           = "failed"
	outcomeStoreUnavailable = "store_unavailable"
	outcomeSignatureInvalid = "signature_invalid"
	outcomeAPIVersion       = "api_version_mismatch"
)

// tunedWebhook is stripe_webhook's block of the instance with every
// de-duplication option set: a short timeout (with a lease longer than
// it), a longer retention and the strict API-version policy.
const tunedWebhook = `secret {env.STRIPE_WEBHOOK_SECRET}
			timeout 1s
			lease 5s
			retention 96h
			api_version strict`

// defaultRetention and tunedRetention are the done records' lifetimes
// without a retention option and under tunedWebhook.
const (
	defaultRetention = 72 * time.Hour
	tunedRetention   = 96 * time.Hour
)

// TestWebhookDedup delivers Stripe events as Stripe does (again, at once,
// on several replicas, after failures and outages) and counts what reaches
// the application behind stripe_webhook: each event once, marked done only
// once the application took it.
func TestWebhookDedup(t *testing.T) {
	rs := testenv.Redis(t)
	e := &dedupEnv{down: startEventDownstream(t), rdb: rs.Client(t), seen: map[*testenv.Paygate]map[string]float64{}}
	cluster := testenv.StartCluster(t, webhookOptions(webhookConfig{upstream: e.down.Upstream, global: redisStoreGlobal(rs)}), 3)
	tuned := startWebhook(t, webhookConfig{upstream: e.down.Upstream, global: redisStoreGlobal(rs), webhook: tunedWebhook})

	t.Run("sequential duplicates", func(t *testing.T) {
		const id = "evt_dedup_sequential"
		body := dedupEvent(t, id, nil)
		first := time.Now().Add(-2 * time.Minute)
		sig := stripeSignature(body, first, webhookSecret)
		e.want(t, cluster[0], body, sig, outcomeProcessed)

		// The same signed body again, on another replica.
		resp, got := e.want(t, cluster[1], body, sig, outcomeDuplicate)
		wantReceived(t, resp, got)
		// Stripe's retry: the same event signed anew, at another time.
		resp, got = e.want(t, cluster[2], body, stripeSignature(body, time.Now(), webhookSecret), outcomeDuplicate)
		wantReceived(t, resp, got)

		if n := e.down.count(id); n != 1 {
			t.Errorf("deliveries at the application = %d, want 1", n)
		}
	})

	t.Run("concurrent deliveries across replicas", func(t *testing.T) {
		const id, n = "evt_dedup_concurrent", 20
		body := dedupEvent(t, id, nil)
		sig := stripeSignature(body, time.Now(), webhookSecret)
		_, release := e.down.hold(t, id)
		answers := make(chan deliveryResult, n)
		for i := range n {
			postEventAsync(cluster[i%len(cluster)], body, sig, answers)
		}

		// The application holds the delivery it got: every other one is
		// answered meanwhile, so they all overlapped with it.
		var conflicts []*testenv.Paygate
		for range n - 1 {
			a := receive(t, answers)
			if got := e.note(t, a.pg, a.resp, a.body); got != outcomeInFlight {
				t.Errorf("a delivery while the event was processed: status %d (%s), body %s; want 409 (in flight)", a.resp.StatusCode, got, bytes.TrimSpace(a.body))
			}
			conflicts = append(conflicts, a.pg)
		}
		if got := e.down.count(id); got != 1 {
			t.Errorf("deliveries at the application while one is held = %d, want 1", got)
		}
		release()
		if a := receive(t, answers); e.note(t, a.pg, a.resp, a.body) != outcomeProcessed {
			t.Errorf("the held delivery: status %d, body %s; want the application's 200", a.resp.StatusCode, bytes.TrimSpace(a.body))
		}

		// Stripe's retries of the 409s: duplicates now.
		for _, pg := range conflicts {
			resp, got := e.want(t, pg, body, sig, outcomeDuplicate)
			wantReceived(t, resp, got)
		}
		if got := e.down.count(id); got != 1 {
			t.Errorf("deliveries at the application = %d, want 1", got)
		}
	})

	t.Run("retry after the application failed", func(t *testing.T) {
		const id = "evt_dedup_app_failure"
		var attempts, successes atomic.Int32
		e.down.on(id, func(w http.ResponseWriter, r *http.Request) {
			if attempts.Add(1) == 1 {
				http.Error(w, `{"error":"the application failed"}`, http.StatusInternalServerError)
				return
			}
			successes.Add(1)
			answerOK(w, r)
		})
		body := dedupEvent(t, id, nil)
		sig := stripeSignature(body, time.Now(), webhookSecret)

		if resp, got := e.want(t, cluster[0], body, sig, outcomeFailed); resp.StatusCode < 300 {
			t.Errorf("the failed delivery: status %d, body %s; want non-2xx, for Stripe to retry", resp.StatusCode, bytes.TrimSpace(got))
		}
		// Stripe's retry reaches the application again, on any replica.
		e.want(t, cluster[1], body, stripeSignature(body, time.Now(), webhookSecret), outcomeProcessed)
		resp, got := e.want(t, cluster[2], body, sig, outcomeDuplicate)
		wantReceived(t, resp, got)

		if n, ok := e.down.count(id), successes.Load(); n != 2 || ok != 1 {
			t.Errorf("deliveries at the application = %d (%d answered 200), want 2 (1)", n, ok)
		}
	})

	t.Run("duplicate in flight", func(t *testing.T) {
		const id = "evt_dedup_in_flight"
		body := dedupEvent(t, id, nil)
		sig := stripeSignature(body, time.Now(), webhookSecret)
		arrived, release := e.down.hold(t, id)
		answers := make(chan deliveryResult, 1)
		postEventAsync(cluster[0], body, sig, answers)
		await(t, arrived, "the first delivery at the application")

		// On the replica processing it and on another one.
		for _, pg := range []*testenv.Paygate{cluster[0], cluster[1]} {
			resp, got := e.want(t, pg, body, stripeSignature(body, time.Now(), webhookSecret), outcomeInFlight)
			if resp.StatusCode != http.StatusConflict {
				t.Errorf("status %d, want 409", resp.StatusCode)
			}
			decodeAPIError(t, resp, got, "webhook_in_progress")
			wantRetryAfter(t, resp)
		}

		release()
		if a := receive(t, answers); e.note(t, a.pg, a.resp, a.body) != outcomeProcessed {
			t.Errorf("the held delivery: status %d, body %s; want the application's 200", a.resp.StatusCode, bytes.TrimSpace(a.body))
		}
		resp, got := e.want(t, cluster[1], body, sig, outcomeDuplicate)
		wantReceived(t, resp, got)
		if n := e.down.count(id); n != 1 {
			t.Errorf("deliveries at the application = %d, want 1", n)
		}
	})

	t.Run("application timeout", func(t *testing.T) {
		const id = "evt_dedup_timeout"
		var attempts atomic.Int32
		stuck := make(chan struct{})
		unstick := sync.OnceFunc(func() { close(stuck) })
		t.Cleanup(unstick)
		e.down.on(id, func(w http.ResponseWriter, r *http.Request) {
			if attempts.Add(1) == 1 {
				// Past paygate's timeout and its request's end.
				<-stuck
				return
			}
			answerOK(w, r)
		})
		body := dedupEvent(t, id, nil)
		sig := stripeSignature(body, time.Now(), webhookSecret)

		resp, got := e.want(t, tuned, body, sig, outcomeFailed)
		if resp.StatusCode != http.StatusBadGateway && resp.StatusCode != http.StatusGatewayTimeout {
			t.Errorf("a delivery past the timeout: status %d, body %s; want 502 or 504", resp.StatusCode, bytes.TrimSpace(got))
		}
		// The lease was released before the answer, not left to expire.
		if e.exists(t, id) {
			t.Errorf("%s exists after the failed delivery, want the lease released", eventKey(id))
		}
		unstick()

		e.want(t, tuned, body, stripeSignature(body, time.Now(), webhookSecret), outcomeProcessed)
		resp, got = e.want(t, tuned, body, sig, outcomeDuplicate)
		wantReceived(t, resp, got)
		if n := e.down.count(id); n != 2 {
			t.Errorf("deliveries at the application = %d, want 2", n)
		}
	})

	t.Run("store writes and retention", func(t *testing.T) {
		const id = "evt_dedup_store"
		body := dedupEvent(t, id, nil)
		before := e.dbSize(t)
		resp, got := e.want(t, cluster[0], body, stripeSignature(body, time.Now(), "whsec_notThisEndpointsSecret0123456789"), outcomeSignatureInvalid)
		decodeAPIError(t, resp, got, "webhook_signature_invalid")
		if after := e.dbSize(t); after != before {
			t.Errorf("DBSIZE %d after an unverified delivery, %d before; want unchanged", after, before)
		}
		if e.exists(t, id) {
			t.Errorf("%s exists after an unverified delivery", eventKey(id))
		}
		if n := e.down.count(id); n != 0 {
			t.Errorf("unverified deliveries at the application = %d, want 0", n)
		}

		e.want(t, cluster[0], body, stripeSignature(body, time.Now(), webhookSecret), outcomeProcessed)
		e.wantTTL(t, id, defaultRetention)

		const tunedID = "evt_dedup_retention"
		body = dedupEvent(t, tunedID, nil)
		e.want(t, tuned, body, stripeSignature(body, time.Now(), webhookSecret), outcomeProcessed)
		e.wantTTL(t, tunedID, tunedRetention)
	})

	t.Run("api version", func(t *testing.T) {
		const version = "2019-01-01"
		old := func(ev map[string]any) { ev["api_version"] = version }

		const id = "evt_dedup_api_version"
		body := dedupEvent(t, id, old)
		e.want(t, cluster[1], body, stripeSignature(body, time.Now(), webhookSecret), outcomeProcessed)
		if n := e.down.count(id); n != 1 {
			t.Errorf("deliveries at the application = %d, want 1", n)
		}
		cluster[1].WaitForLog(t, "a warning about API version "+version,
			testenv.LogFields(map[string]string{"level": "warn", "event_api_version": version}))

		const strictID = "evt_dedup_api_version_strict"
		body = dedupEvent(t, strictID, old)
		resp, got := e.want(t, tuned, body, stripeSignature(body, time.Now(), webhookSecret), outcomeAPIVersion)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d under api_version strict, want 400", resp.StatusCode)
		}
		decodeAPIError(t, resp, got, "webhook_api_version")
		if n := e.down.count(strictID); n != 0 {
			t.Errorf("deliveries at the application under api_version strict = %d, want 0", n)
		}
	})

	// Last but the metrics: the restarted Redis is empty.
	t.Run("store unavailable", func(t *testing.T) {
		const id = "evt_dedup_store_down"
		body := dedupEvent(t, id, nil)
		sig := stripeSignature(body, time.Now(), webhookSecret)
		rs.Stop()
		resp, got := e.want(t, cluster[2], body, sig, outcomeStoreUnavailable)
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("status %d with Redis stopped, want 503", resp.StatusCode)
		}
		decodeAPIError(t, resp, got, "store_unavailable")
		wantRetryAfter(t, resp)
		if n := e.down.count(id); n != 0 {
			t.Errorf("deliveries at the application with Redis stopped = %d, want 0", n)
		}

		rs.Restart()
		var last string
		testenv.Eventually(t, "a delivery not refused for the store after Redis restarted", func() bool {
			resp, got := postEvent(t, cluster[2], body, sig, nil)
			last = e.note(t, cluster[2], resp, got)
			return last != outcomeStoreUnavailable
		})
		if last != outcomeProcessed {
			t.Errorf("the delivery after the restart: %s, want processed", last)
		}
		if n := e.down.count(id); n != 1 {
			t.Errorf("deliveries at the application = %d, want 1", n)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		all := append(cluster[:len(cluster):len(cluster)], tuned)
		outcomes := []string{outcomeProcessed, outcomeDuplicate, outcomeInFlight, outcomeFailed,
			outcomeStoreUnavailable, outcomeSignatureInvalid, outcomeAPIVersion}
		for _, outcome := range outcomes {
			total := 0.0
			for _, pg := range all {
				total += e.seen[pg][outcome]
			}
			if total == 0 {
				t.Errorf("no delivery was answered as %s: the scenarios above did not run", outcome)
			}
		}
		for _, pg := range all {
			for _, outcome := range outcomes {
				pg.WaitForMetric(t, fmt.Sprintf("paygate_webhook_events_total{outcome=%q}", outcome), testenv.MetricIs(e.seen[pg][outcome]))
			}
		}
	})
}

// dedupEnv is what TestWebhookDedup's scenarios share: the application
// behind paygate, the store's Redis, and the outcome of every answer so
// far, per instance, which the instance's metrics must show.
type dedupEnv struct {
	down *eventDownstream
	rdb  *redis.Client
	seen map[*testenv.Paygate]map[string]float64
}

// want delivers body to pg, requires the answer to show outcome, and
// returns it.
func (e *dedupEnv) want(t *testing.T, pg *testenv.Paygate, body []byte, signature, outcome string) (*http.Response, []byte) {
	t.Helper()
	resp, got := postEvent(t, pg, body, signature, nil)
	if o := e.note(t, pg, resp, got); o != outcome {
		t.Errorf("status %d, body %s: %s; want %s", resp.StatusCode, bytes.TrimSpace(got), o, outcome)
	}
	return resp, got
}

// note counts the outcome pg's answer shows, and returns it: an
// acknowledgement is a duplicate (the scenarios send only event types that
// are processed) and any other 2xx the application's own answer.
func (e *dedupEnv) note(t *testing.T, pg *testenv.Paygate, resp *http.Response, body []byte) string {
	t.Helper()
	var outcome string
	switch {
	case resp.StatusCode == http.StatusOK && strings.TrimSpace(string(body)) == `{"received":true}`:
		outcome = outcomeDuplicate
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		outcome = outcomeProcessed
	case resp.StatusCode == http.StatusConflict:
		outcome = outcomeInFlight
	case resp.StatusCode == http.StatusServiceUnavailable:
		outcome = outcomeStoreUnavailable
	case resp.StatusCode == http.StatusBadRequest && bytes.Contains(body, []byte(`"webhook_signature_invalid"`)):
		outcome = outcomeSignatureInvalid
	case resp.StatusCode == http.StatusBadRequest && bytes.Contains(body, []byte(`"webhook_api_version"`)):
		outcome = outcomeAPIVersion
	default:
		// The application's error, or paygate's when it did not answer.
		outcome = outcomeFailed
	}
	if e.seen[pg] == nil {
		e.seen[pg] = map[string]float64{}
	}
	e.seen[pg][outcome]++
	return outcome
}

// eventKey is the Redis key of an event's lease and done record.
func eventKey(id string) string {
	return store.DefaultRedisPrefix + store.Key(id, "webhook")
}

// exists reports whether the event id has a lease or done record.
func (e *dedupEnv) exists(t *testing.T, id string) bool {
	t.Helper()
	n, err := e.rdb.Exists(context.Background(), eventKey(id)).Result()
	if err != nil {
		t.Fatalf("EXISTS %s: %v", eventKey(id), err)
	}
	return n == 1
}

// dbSize is the number of keys in the store's Redis database.
func (e *dedupEnv) dbSize(t *testing.T) int64 {
	t.Helper()
	n, err := e.rdb.DBSize(context.Background()).Result()
	if err != nil {
		t.Fatalf("DBSIZE: %v", err)
	}
	return n
}

// wantTTL requires the event id's done record to be kept for retention,
// give or take a minute for the time the test took.
func (e *dedupEnv) wantTTL(t *testing.T, id string, retention time.Duration) {
	t.Helper()
	ttl, err := e.rdb.TTL(context.Background(), eventKey(id)).Result()
	if err != nil {
		t.Fatalf("TTL %s: %v", eventKey(id), err)
	}
	if ttl < retention-time.Minute || ttl > retention {
		t.Errorf("TTL of %s = %v, want %v (less a minute at most)", eventKey(id), ttl, retention)
	}
}

// eventDownstream is the application behind stripe_webhook: it records
// every request and answers each event as its scenario arranged (by
// default 200 with a body of its own, told apart from paygate's
// acknowledgement).
type eventDownstream struct {
	*testenv.Upstream

	mu      sync.Mutex
	answers map[string]http.HandlerFunc
}

// startEventDownstream starts an eventDownstream for t.
func startEventDownstream(t *testing.T) *eventDownstream {
	t.Helper()
	d := &eventDownstream{answers: map[string]http.HandlerFunc{}}
	d.Upstream = testenv.StartUpstream(t, http.HandlerFunc(d.serve))
	return d
}

// serve answers one delivery as arranged for its event.
func (d *eventDownstream) serve(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	h := d.answers[r.Header.Get(webhookevent.HeaderID)]
	d.mu.Unlock()
	if h == nil {
		h = answerOK
	}
	h(w, r)
}

// answerOK is the application's answer to an event it processed.
func answerOK(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, "{\"processed\":%q}\n", r.Header.Get(webhookevent.HeaderID))
}

// on makes the application answer the deliveries of event id with h.
func (d *eventDownstream) on(id string, h http.HandlerFunc) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.answers[id] = h
}

// hold makes the application hold each delivery of event id until release
// is called (or paygate gives the delivery up), and then answer 200;
// arrived receives a value when the first delivery is held. The deliveries
// are released at the end of t at the latest.
func (d *eventDownstream) hold(t *testing.T, id string) (arrived <-chan struct{}, release func()) {
	t.Helper()
	held := make(chan struct{}, 1)
	gate := make(chan struct{})
	release = sync.OnceFunc(func() { close(gate) })
	t.Cleanup(release)
	d.on(id, func(w http.ResponseWriter, r *http.Request) {
		select {
		case held <- struct{}{}:
		default:
		}
		select {
		case <-gate:
			answerOK(w, r)
		case <-r.Context().Done():
		}
	})
	return held, release
}

// count is how many deliveries of event id reached the application.
func (d *eventDownstream) count(id string) int {
	n := 0
	for _, r := range d.Requests() {
		if r.Header.Get(webhookevent.HeaderID) == id {
			n++
		}
	}
	return n
}

// dedupEvent is a payment_intent.succeeded event id, edited by edit.
func dedupEvent(t *testing.T, id string, edit func(ev map[string]any)) []byte {
	t.Helper()
	intent := map[string]any{"id": "pi_" + strings.TrimPrefix(id, "evt_"), "object": "payment_intent", "status": "succeeded"}
	return stripeEventBody(t, id, webhookevent.TypePaymentSucceeded, intent, edit)
}

// deliveryResult is one delivery's response, its body read, or the error that
// kept it from arriving.
type deliveryResult struct {
	pg   *testenv.Paygate
	resp *http.Response
	body []byte
	err  error
}

// postEventAsync delivers body to pg's webhook route as postEvent does, on
// a goroutine of its own, and sends the answer on answers.
func postEventAsync(pg *testenv.Paygate, body []byte, signature string, answers chan<- deliveryResult) {
	go func() {
		a := deliveryResult{pg: pg}
		defer func() { answers <- a }()
		req, err := http.NewRequest(http.MethodPost, pg.HTTPSURL+"/webhooks/stripe", bytes.NewReader(body))
		if err != nil {
			a.err = err
			return
		}
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("Stripe-Signature", signature)
		if a.resp, a.err = pg.Client().Do(req); a.err != nil {
			return
		}
		defer a.resp.Body.Close()
		a.body, a.err = io.ReadAll(a.resp.Body)
	}()
}

// receive returns the next answer, failing the test when none comes within
// testenv.WaitTimeout or the delivery did not arrive.
func receive(t *testing.T, answers <-chan deliveryResult) deliveryResult {
	t.Helper()
	select {
	case a := <-answers:
		if a.err != nil {
			t.Fatalf("delivery to %s: %v", a.pg.HTTPSURL, a.err)
		}
		return a
	case <-time.After(testenv.WaitTimeout):
		t.Fatalf("no answer to a delivery within %v", testenv.WaitTimeout)
	}
	return deliveryResult{}
}

// await waits for a value on ch, failing the test, naming what, when none
// comes within testenv.WaitTimeout.
func await(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(testenv.WaitTimeout):
		t.Fatalf("timed out after %v waiting for %s", testenv.WaitTimeout, what)
	}
}

// wantRetryAfter requires a Retry-After of a whole number of seconds, at
// least one.
func wantRetryAfter(t *testing.T, resp *http.Response) {
	t.Helper()
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After = %q, want seconds >= 1", resp.Header.Get("Retry-After"))
	}
}
