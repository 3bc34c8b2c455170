package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paygate/paygate/internal/testenv"
)

// End-to-end tests of the idempotency stage under races: several replicas
// on one Redis, retries that overlap the original, an execution that
// outlives its lease, a replica killed mid-request, a store that loses its
// data, and what the store holds afterwards.

// raceReplicas is how many paygate instances share the Redis in each test.
const raceReplicas = 3

// raceGlobal points the replicas at one Redis. The store call budget is
// raised from its default (250ms) because these tests are about races, not
// latency: on a busy 2-core machine, 50 requests at once on 3 replicas may
// take longer than that for a store call, and a 503 store_unavailable
// would hide what the tests look at.
const raceGlobal = `paygate {
		store redis {
			url {{.Data.redis}}
			timeout 2s
		}
	}`

// raceAnswer is one response with its body read, or the error that came
// instead.
type raceAnswer struct {
	resp *http.Response
	body []byte
	err  error
}

// racePost sends POST /v1/payment_intents to base over c with credentials,
// key as its Idempotency-Key and body as JSON. Unlike send it never fails
// the test, so that it may run outside the test's goroutine.
func racePost(c *http.Client, base string, credentials http.Header, key, body string) raceAnswer {
	req, err := http.NewRequest(http.MethodPost, base+"/v1/payment_intents", strings.NewReader(body))
	if err != nil {
		return raceAnswer{err: err}
	}
	maps.Copy(req.Header, credentials)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := c.Do(req)
	if err != nil {
		return raceAnswer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return raceAnswer{resp: resp, body: b, err: err}
}

// raceWant requires a to be a response with status, and a replay (or not),
// showing the body otherwise.
func raceWant(t *testing.T, a raceAnswer, status int, replayed bool) {
	t.Helper()
	if a.err != nil {
		t.Fatalf("request failed: %v", a.err)
	}
	if a.resp.StatusCode != status {
		t.Fatalf("status = %d, want %d (body %s)", a.resp.StatusCode, status, a.body)
	}
	if got := a.resp.Header.Get("Idempotent-Replayed") == "true"; got != replayed {
		t.Fatalf("Idempotent-Replayed = %q, want a replay: %v (body %s)", a.resp.Header.Get("Idempotent-Replayed"), replayed, a.body)
	}
}

// raceWantInUse requires a to be 409 idempotency_key_in_use with a
// Retry-After.
func raceWantInUse(t *testing.T, a raceAnswer) {
	t.Helper()
	raceWant(t, a, http.StatusConflict, false)
	decodeAPIError(t, a.resp, a.body, "idempotency_key_in_use")
	wantRetryAfter(t, a.resp)
}

// raceReplayOf requires a to be a byte-identical replay of original.
func raceReplayOf(t *testing.T, a, original raceAnswer) {
	t.Helper()
	raceWant(t, a, original.resp.StatusCode, true)
	if !bytes.Equal(a.body, original.body) {
		t.Errorf("replayed body %s, want the original's %s", a.body, original.body)
	}
	if got, want := a.resp.Header.Get("Content-Type"), original.resp.Header.Get("Content-Type"); got != want {
		t.Errorf("replayed Content-Type %q, want the original's %q", got, want)
	}
}

// raceGate stands in front of the recording Stripe proxy: it forwards every
// call, and holds the answer to the first payment intent creation (which
// Stripe has then executed) until the test opens it or the caller goes away
// (a killed instance), so that a request is demonstrably in flight while
// the others arrive.
type raceGate struct {
	// URL is the gate's base URL, the Stripe api_base.
	URL string
	// held is closed once the first creation has reached Stripe and its
	// answer is held.
	held     chan struct{}
	opened   chan struct{}
	first    atomic.Bool
	openOnce sync.Once
}

// raceStartGate starts a raceGate in front of sm; it is closed when the test
// ends.
func raceStartGate(t *testing.T, sm *testenv.StripeMock) *raceGate {
	t.Helper()
	target, err := url.Parse(sm.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	g := &raceGate{held: make(chan struct{}), opened: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/payment_intents" || !g.first.CompareAndSwap(false, true) {
			proxy.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		proxy.ServeHTTP(rec, r)
		close(g.held)
		select {
		case <-g.opened:
		case <-r.Context().Done():
			return
		}
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(srv.Close)
	// Runs before srv.Close, which waits for the held handler.
	t.Cleanup(g.open)
	g.URL = srv.URL
	return g
}

// open lets the held answer go, and every later one pass.
func (g *raceGate) open() {
	g.openOnce.Do(func() { close(g.opened) })
}

// raceEnv is raceReplicas paygates with the payment API as shipped, on one
// private Redis, in front of the gate and stripe-mock.
type raceEnv struct {
	pgs []*testenv.Paygate
	// h1 are the replicas' clients restricted to HTTP/1.1 (each replica's
	// own Client speaks HTTP/2).
	h1   []*http.Client
	sm   *testenv.StripeMock
	gate *raceGate
	rs   *testenv.RedisServer
	rdb  *redis.Client
	auth paymentsAuth
}

// raceStartPayments starts a raceEnv; settings, when not empty, are more
// lines of the idempotency stage (a lease, a limits block).
func raceStartPayments(t *testing.T, settings string) *raceEnv {
	t.Helper()
	site := paymentsSite
	if settings != "" {
		const sealKey = "seal_key {env.PAYGATE_IDEMPOTENCY_KEY}\n"
		site = strings.Replace(paymentsSite, sealKey, sealKey+settings+"\n", 1)
		if site == paymentsSite {
			t.Fatal("paymentsSite has no idempotency seal_key line to add the settings after")
		}
	}
	catalog, err := filepath.Abs("../testdata/catalog/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	e := &raceEnv{sm: testenv.StartStripeMock(t), rs: testenv.Redis(t), auth: newPaymentsAuth(t, "alice", "bob")}
	e.gate = raceStartGate(t, e.sm)
	e.pgs = testenv.StartCluster(t, testenv.PaygateOptions{
		StripeMock: e.sm,
		Global:     raceGlobal,
		Site:       site,
		Data: map[string]any{"auth": e.auth.directive(t), "stripe": e.gate.URL, "catalog": catalog,
			"redis": e.rs.URL(), "log": "", "policies": opaPolicies(t)},
		Env: paymentsSiteEnv(),
	}, raceReplicas)
	// Registered after the replicas, so it runs before they are stopped:
	// a held request would hold up a graceful shutdown.
	t.Cleanup(e.gate.open)
	for _, pg := range e.pgs {
		e.h1 = append(e.h1, h1Client(t, pg))
	}
	e.rdb = e.rs.Client(t)
	return e
}

// post creates a payment intent as user on replica i over HTTP/2.
func (e *raceEnv) post(i int, user, key string) raceAnswer {
	return racePost(e.pgs[i].Client(), e.pgs[i].HTTPSURL, e.auth.credentials(user), key, paymentOrder)
}

// creates are the payment intent creations that reached stripe-mock.
func (e *raceEnv) creates() []testenv.StripeCall {
	var out []testenv.StripeCall
	for _, c := range e.sm.Calls() {
		if c.Method == http.MethodPost && c.Path == "/v1/payment_intents" {
			out = append(out, c)
		}
	}
	return out
}

// raceWantCreates requires calls to be n creations, each with the
// Idempotency-Key that paygate derives from user and key.
func raceWantCreates(t *testing.T, calls []testenv.StripeCall, n int, user, key string) {
	t.Helper()
	if len(calls) != n {
		t.Fatalf("%d payment intent creations at Stripe, want %d", len(calls), n)
	}
	want := idempotencyKeyAtStripe(user, "payment_intent.create", key)
	for i, c := range calls {
		if c.IdempotencyKey != want {
			t.Errorf("creation %d: Idempotency-Key at Stripe = %q, want %q", i+1, c.IdempotencyKey, want)
		}
	}
}

// TestIdempotencyRaceConcurrentRetries: 50 identical requests at once,
// spread over the replicas and over HTTP/2 and HTTP/1.1, create one payment
// intent; each is answered with the original, a byte-identical replay or
// 409 idempotency_key_in_use, and each 409 retried later is the replay.
// So it is with per-user zones in the stage's limits, whether a zone
// applies (the lease is taken in the zones' store call) or none does (the
// lease is taken on its own).
func TestIdempotencyRaceConcurrentRetries(t *testing.T) {
	for _, tc := range []struct{ name, settings string }{
		{"no limits", ""},
		{"limits", raceLimits("")},
		{"limits no zone applies", raceLimits("match GET /v1/payment_intents/{id}")},
	} {
		t.Run(tc.name, func(t *testing.T) { raceConcurrentRetries(t, raceStartPayments(t, tc.settings)) })
	}
}

// raceLimits is an idempotency limits block with one per-user zone that
// never refuses this test's requests, restricted by match when not empty.
func raceLimits(match string) string {
	return `limits {
				zone user {
					key {paygate.user}
					` + match + `
					rate 1000 1m
					burst 1000
				}
			}`
}

func raceConcurrentRetries(t *testing.T, e *raceEnv) {
	const n, key = 50, "race-concurrent-1"
	// Request i goes to replica i%3, over HTTP/2 when i is even.
	client := func(i int) (*http.Client, string) {
		if i%2 == 0 {
			return e.pgs[i%raceReplicas].Client(), "HTTP/2.0"
		}
		return e.h1[i%raceReplicas], "HTTP/1.1"
	}
	post := func(i int) raceAnswer {
		c, _ := client(i)
		return racePost(c, e.pgs[i%raceReplicas].HTTPSURL, e.auth.credentials("alice"), key, paymentOrder)
	}
	type numbered struct {
		i int
		a raceAnswer
	}
	results := make(chan numbered, n)
	for i := range n {
		go func() { results <- numbered{i, post(i)} }()
	}
	answers := make([]raceAnswer, n)
	for got := 1; got <= n; got++ {
		select {
		case r := <-results:
			answers[r.i] = r.a
			// One request holds the lease while Stripe's answer is held:
			// the others overlap it until one of them has seen the 409.
			if r.a.err == nil && r.a.resp.StatusCode == http.StatusConflict || got == n-1 {
				e.gate.open()
			}
		case <-time.After(testenv.WaitTimeout):
			t.Fatalf("%d of %d answers within %v", got-1, n, testenv.WaitTimeout)
		}
	}

	var original raceAnswer
	var conflicts []int
	for i, a := range answers {
		if a.err != nil {
			t.Fatalf("request %d: %v", i, a.err)
		}
		if _, want := client(i); a.resp.Proto != want {
			t.Errorf("request %d went over %s, want %s", i, a.resp.Proto, want)
		}
		switch {
		case a.resp.StatusCode == http.StatusConflict:
			raceWantInUse(t, a)
			conflicts = append(conflicts, i)
		case a.resp.StatusCode == http.StatusCreated && a.resp.Header.Get("Idempotent-Replayed") == "":
			if original.resp != nil {
				t.Fatalf("two originals: %s and %s", original.body, a.body)
			}
			original = a
		case a.resp.StatusCode != http.StatusCreated:
			t.Fatalf("request %d: status %d (body %s), want 201 or 409", i, a.resp.StatusCode, a.body)
		}
	}
	if original.resp == nil {
		t.Fatal("no request was answered with the original 201")
	}
	if len(conflicts) == 0 {
		t.Fatal("no request overlapped the original (no 409)")
	}
	for _, a := range answers {
		if a.resp.StatusCode == http.StatusCreated && a.resp.Header.Get("Idempotent-Replayed") != "" {
			raceReplayOf(t, a, original)
		}
	}
	raceWantCreates(t, e.creates(), 1, "alice", key)
	t.Logf("first wave: the original, %d replays, %d conflicts", n-1-len(conflicts), len(conflicts))

	for _, i := range conflicts {
		raceReplayOf(t, post(i), original)
	}
	raceWantCreates(t, e.creates(), 1, "alice", key)
}

// raceProxySite puts the idempotency stage, with a lease of 2 s (renewed
// every 667 ms, so a stall of more than a second on a busy machine would
// be needed to lose it), between authentication and an upstream.
const raceProxySite = `
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	route /v1/* {
		{{.Data.auth}}
		idempotency {
			seal_key {env.PAYGATE_IDEMPOTENCY_KEY}
			lease 2s
		}
		reverse_proxy {{.Upstream}}
	}
	handle_errors {
		paygate_error
	}
}
`

// raceHeldUpstream answers each request with its execution number, holding
// the first one until it is released or its caller goes away.
type raceHeldUpstream struct {
	executions  atomic.Int32
	released    chan struct{}
	releaseOnce sync.Once
}

// ServeHTTP answers {"execution":n} for the n-th request.
func (u *raceHeldUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := u.executions.Add(1)
	if n == 1 {
		select {
		case <-u.released:
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"execution":%d}`, n)
}

// release lets the first request's answer go.
func (u *raceHeldUpstream) release() {
	u.releaseOnce.Do(func() { close(u.released) })
}

// raceProxy is raceReplicas paygates with raceProxySite on one private
// Redis, in front of a raceHeldUpstream.
type raceProxy struct {
	pgs  []*testenv.Paygate
	up   *testenv.Upstream
	held *raceHeldUpstream
	cred http.Header
}

func raceStartProxy(t *testing.T) *raceProxy {
	t.Helper()
	p := &raceProxy{held: &raceHeldUpstream{released: make(chan struct{})}}
	p.up = testenv.StartUpstream(t, p.held)
	rs := testenv.Redis(t)
	auth := newPaymentsAuth(t, "alice")
	p.cred = auth.credentials("alice")
	p.pgs = testenv.StartCluster(t, testenv.PaygateOptions{
		Upstream: p.up,
		Global:   raceGlobal,
		Site:     raceProxySite,
		Data:     map[string]any{"auth": auth.directive(t), "redis": rs.URL()},
		Env:      map[string]string{"PAYGATE_IDEMPOTENCY_KEY": e2eSealKey},
	}, raceReplicas)
	// Before the replicas stop: a held request would hold up a graceful
	// shutdown.
	t.Cleanup(p.held.release)
	return p
}

// post sends the request under key to replica i.
func (p *raceProxy) post(i int, key string) raceAnswer {
	return racePost(p.pgs[i].Client(), p.pgs[i].HTTPSURL, p.cred, key, paymentOrder)
}

// postAsync sends the request under key to replica i from another
// goroutine; its answer comes on the channel.
func (p *raceProxy) postAsync(i int, key string) <-chan raceAnswer {
	ch := make(chan raceAnswer, 1)
	go func() { ch <- p.post(i, key) }()
	return ch
}

// raceReceive waits for an answer on ch, failing the test when none comes
// within testenv.WaitTimeout.
func raceReceive(t *testing.T, ch <-chan raceAnswer) raceAnswer {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(testenv.WaitTimeout):
		t.Fatalf("no answer within %v", testenv.WaitTimeout)
	}
	return raceAnswer{}
}

// TestIdempotencyRaceSlowExecution: a request that runs for more than two
// lease TTLs keeps its lease (it is renewed), so a retry on another replica
// is 409 meanwhile, the upstream runs once, and the retry after completion
// is the replay.
func TestIdempotencyRaceSlowExecution(t *testing.T) {
	p := raceStartProxy(t)
	const key = "race-slow-1"
	started := time.Now()
	first := p.postAsync(0, key)
	testenv.Eventually(t, "the first request at the upstream", func() bool { return p.up.Count() == 1 })

	// Lease 2 s: without renewal it would have expired twice over.
	const outlived = 5 * time.Second
	var retry raceAnswer
	var elapsed time.Duration
	testenv.Eventually(t, fmt.Sprintf("%v since the first request started", outlived), func() bool {
		if elapsed = time.Since(started); elapsed <= outlived {
			return false
		}
		retry = p.post(1, key)
		return true
	})
	raceWantInUse(t, retry)
	t.Logf("retry on replica 1 after %v: 409", elapsed.Round(time.Millisecond))
	if n := p.up.Count(); n != 1 {
		t.Fatalf("the upstream ran %d times while the first request was in flight", n)
	}

	p.held.release()
	original := raceReceive(t, first)
	raceWant(t, original, http.StatusOK, false)
	if got := string(original.body); got != `{"execution":1}` {
		t.Errorf("original body %s, want the first execution's", got)
	}
	raceReplayOf(t, p.post(2, key), original)
	if n := p.up.Count(); n != 1 {
		t.Errorf("the upstream ran %d times, want once", n)
	}
	p.pgs[0].WaitForMetric(t, `paygate_idempotency_lease_renewals_total{result="ok"}`, testenv.MetricAbove(0))
}

// TestIdempotencyRaceInstanceKilled: a replica killed while it runs a
// request leaves its lease to expire (2 s); then a retry on another replica
// runs the request once more, and at Stripe it carries the same
// Idempotency-Key as the first attempt, so Stripe de-duplicates it.
func TestIdempotencyRaceInstanceKilled(t *testing.T) {
	t.Run("upstream", func(t *testing.T) {
		p := raceStartProxy(t)
		const key = "race-killed-1"
		first := p.postAsync(0, key)
		testenv.Eventually(t, "the first request at the upstream", func() bool { return p.up.Count() == 1 })
		raceWantInUse(t, p.post(1, key))

		p.pgs[0].Kill()
		killed := time.Now()
		if a := raceReceive(t, first); a.err == nil {
			t.Fatalf("the killed replica answered: %d %s", a.resp.StatusCode, a.body)
		}
		var retry raceAnswer
		testenv.Eventually(t, "a retry that is not 409 after the lease expired", func() bool {
			retry = p.post(1, key)
			return retry.err != nil || retry.resp.StatusCode != http.StatusConflict
		})
		t.Logf("the retry ran %v after the kill", time.Since(killed).Round(time.Millisecond))
		raceWant(t, retry, http.StatusOK, false)
		if got := string(retry.body); got != `{"execution":2}` {
			t.Errorf("retry body %s, want the second execution's", got)
		}
		raceReplayOf(t, p.post(2, key), retry)
		if n := p.up.Count(); n != 2 {
			t.Errorf("the upstream ran %d times, want 2 (the killed attempt and one more)", n)
		}
	})

	t.Run("Stripe", func(t *testing.T) {
		e := raceStartPayments(t, "lease 2s")
		const key = "race-killed-2"
		first := make(chan raceAnswer, 1)
		go func() { first <- e.post(0, "alice", key) }()
		await(t, e.gate.held, "the first creation at Stripe")
		raceWantInUse(t, e.post(1, "alice", key))

		e.pgs[0].Kill()
		if a := raceReceive(t, first); a.err == nil {
			t.Fatalf("the killed replica answered: %d %s", a.resp.StatusCode, a.body)
		}
		var retry raceAnswer
		testenv.Eventually(t, "a retry that is not 409 after the lease expired", func() bool {
			retry = e.post(1, "alice", key)
			return retry.err != nil || retry.resp.StatusCode != http.StatusConflict
		})
		raceWant(t, retry, http.StatusCreated, false)
		raceReplayOf(t, e.post(2, "alice", key), retry)
		raceWantCreates(t, e.creates(), 2, "alice", key)
	})
}

// TestIdempotencyRaceStoreLoss: when the store loses a completed record
// (FLUSHALL, or a restart without persistence), the retry runs the request
// again, with the same Idempotency-Key at Stripe; while the store is down,
// the request is 503 store_unavailable and runs nowhere.
func TestIdempotencyRaceStoreLoss(t *testing.T) {
	e := raceStartPayments(t, "")
	e.gate.open()
	ctx := context.Background()

	const flushed = "race-flushed-1"
	raceWant(t, e.post(0, "alice", flushed), http.StatusCreated, false)
	raceWant(t, e.post(1, "alice", flushed), http.StatusCreated, true)
	if err := e.rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	raceWant(t, e.post(2, "alice", flushed), http.StatusCreated, false)
	raceWantCreates(t, e.creates(), 2, "alice", flushed)

	const restarted = "race-restarted-1"
	before := len(e.creates())
	raceWant(t, e.post(0, "bob", restarted), http.StatusCreated, false)
	e.rs.Stop()
	down := e.post(1, "bob", restarted)
	raceWant(t, down, http.StatusServiceUnavailable, false)
	decodeAPIError(t, down.resp, down.body, "store_unavailable")
	if n := len(e.creates()) - before; n != 1 {
		t.Fatalf("%d creations at Stripe while the store was down, want only the first request's", n)
	}
	e.rs.Restart()
	var retry raceAnswer
	testenv.Eventually(t, "a retry that is not 503 after the store restarted", func() bool {
		retry = e.post(2, "bob", restarted)
		return retry.err != nil || retry.resp.StatusCode != http.StatusServiceUnavailable
	})
	// The private Redis keeps nothing on disk: the record is gone, and the
	// request runs again.
	raceWant(t, retry, http.StatusCreated, false)
	raceWantCreates(t, e.creates()[before:], 2, "bob", restarted)
}

// raceCardNumber is a test card number, which must never reach the store.
const raceCardNumber = "4242424242424242"

// TestIdempotencyRaceStoreDump: after creations and replays, every key in
// Redis expires (but the ownership records, each user's index of them and
// the customer mapping, which are kept until erasure), idempotency records within the retention of
// 24 h; no value holds a client secret, a card number or an answer in the
// clear (records are sealed); and an idempotency record's key name holds
// neither the client's key nor the user.
func TestIdempotencyRaceStoreDump(t *testing.T) {
	e := raceStartPayments(t, "")
	e.gate.open()
	ctx := context.Background()

	requests := []struct{ user, key string }{
		{"alice", "race-dump-key-1"}, {"bob", "race-dump-key-2"}, {"alice", "race-dump-key-3"},
	}
	// What no value may hold: a client secret, a card number, and an
	// answer as it was sent or as JSON encodes bytes (an unsealed record).
	leaks := []string{"_secret_", raceCardNumber}
	for i, r := range requests {
		original := e.post(i%raceReplicas, r.user, r.key)
		raceWant(t, original, http.StatusCreated, false)
		if !strings.Contains(string(original.body), "_secret_") {
			t.Fatalf("the answer has no client secret to look for: %s", original.body)
		}
		raceReplayOf(t, e.post((i+1)%raceReplicas, r.user, r.key), original)
		leaks = append(leaks, string(original.body), base64.StdEncoding.EncodeToString(original.body))
	}
	card := racePost(e.pgs[0].Client(), e.pgs[0].HTTPSURL, e.auth.credentials("alice"), "race-dump-card",
		strings.Replace(paymentOrder, "booking-42", raceCardNumber, 1))
	if card.err != nil || card.resp.StatusCode < 400 {
		t.Fatalf("a request with a card number was not refused: %v %v", card.err, card.body)
	}

	idem := 0
	iter := e.rdb.Scan(ctx, 0, "*", 100).Iterator()
	for iter.Next(ctx) {
		name := iter.Val()
		ttl, err := e.rdb.PTTL(ctx, name).Result()
		if err != nil {
			t.Fatal(err)
		}
		value := raceValue(t, e.rdb, name)
		t.Logf("%s: ttl %v, %d bytes", name, ttl, len(value))
		persistentByDesign := strings.HasSuffix(name, ":owner") || strings.HasSuffix(name, ":owned") || strings.HasSuffix(name, ":customer")
		switch {
		case strings.HasSuffix(name, ":idem"):
			idem++
			if ttl <= 0 || ttl > 24*time.Hour {
				t.Errorf("%s: ttl %v, want at most the retention, 24h", name, ttl)
			}
			for _, r := range requests {
				for _, raw := range []string{r.user, r.key} {
					if strings.Contains(name, raw) {
						t.Errorf("the record key %s holds %q", name, raw)
					}
				}
				if strings.Contains(value, r.key) {
					t.Errorf("the record %s holds the client's key %q", name, r.key)
				}
			}
		case ttl <= 0 && !persistentByDesign:
			t.Errorf("%s: ttl %v, want an expiry", name, ttl)
		}
		for _, leak := range leaks {
			if strings.Contains(value, leak) {
				t.Errorf("%s holds %.80q", name, leak)
			}
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if idem != len(requests) {
		t.Errorf("%d idempotency records, want one per request (%d)", idem, len(requests))
	}
}

// raceValue is everything key holds in rdb, whatever its type, as text.
func raceValue(t *testing.T, rdb *redis.Client, key string) string {
	t.Helper()
	ctx := context.Background()
	typ, err := rdb.Type(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	switch typ {
	case "string":
		var v string
		v, err = rdb.Get(ctx, key).Result()
		parts = []string{v}
	case "hash":
		var m map[string]string
		m, err = rdb.HGetAll(ctx, key).Result()
		for k, v := range m {
			parts = append(parts, k, v)
		}
	case "list":
		parts, err = rdb.LRange(ctx, key, 0, -1).Result()
	default:
		t.Errorf("%s: unexpected type %s", key, typ)
	}
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return strings.Join(parts, "\x00")
}
