package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/testenv"
)

// End-to-end tests of the per-user rate-limit stage (redis_rate_limit in
// the idempotency stage's limits block, as the shipped Caddyfile has it, or
// after the stage), through the binary: one user's budget across tokens and
// client IPs, payment-creation velocity under a concurrent burst, replays
// that never charge, the store round trips of an idempotent POST, declines
// and distinct cards as outcome zones (one after another and all at once),
// and limits shared by replicas on one Redis and on a Redis Cluster.
//
// Not covered: two identity providers with equal subs ({paygate.user} is
// issuer and sub), since jwt_auth accepts one issuer and a route has one
// jwt_auth; the module's own tests cover the issuer qualification.

// rluSite is paymentsSite with the two rate-limit stages where the shipped
// Caddyfile has them: {{.Data.ipLimit}} after request_guard, before
// authentication, and {{.Data.userLimit}} (a redis_rate_limit directive)
// as the idempotency stage's limits block; when separate is set, as a stage
// of its own right after the idempotency stage instead.
func rluSite(t *testing.T, separate bool) string {
	t.Helper()
	site := paymentsSite
	user := struct{ before, stage string }{"\t\tapi_response\n", "\t\t{{.Data.userLimit}}\n"}
	if !separate {
		user = struct{ before, stage string }{"\t\t}\n\t\tapi_response\n", "\t\t\t{{.Data.userLimits}}\n"}
	}
	for _, s := range []struct{ before, stage string }{
		{"\t\tcard_data_guard\n", "\t\t{{.Data.ipLimit}}\n"},
		user,
	} {
		if strings.Count(site, s.before) != 1 {
			t.Fatalf("paymentsSite has no single %q to put %s before", s.before, s.stage)
		}
		site = strings.Replace(site, s.before, s.stage+s.before, 1)
	}
	return site
}

// rluLimitsBlock is a redis_rate_limit directive as the idempotency
// stage's limits block ("" for none).
func rluLimitsBlock(directive string) string {
	if directive == "" {
		return ""
	}
	block, ok := strings.CutPrefix(directive, "redis_rate_limit {")
	if !ok {
		panic("not a redis_rate_limit block: " + directive)
	}
	return "limits {" + block
}

// rluOptions describes the paygate processes of a test.
type rluOptions struct {
	// ipLimit and userLimit are the two stages' directives ("" for none).
	ipLimit, userLimit string
	// separate puts userLimit after the idempotency stage, not in its
	// limits block.
	separate bool
	// site, when set, changes the site before it is used.
	site func(string) string
	// global is added to the global options after the store.
	global string
	// replicas is how many paygate processes share the store (default 1).
	replicas int
	// cluster puts the store on a 3-master Redis Cluster instead of a
	// single Redis.
	cluster bool
}

// rluEnv is paygate with the payment API and rate limits in front of
// stripe-mock, behind rluFront.
type rluEnv struct {
	pgs   []*testenv.Paygate
	sm    *testenv.StripeMock
	front *rluFront
}

// rluStart starts stripe-mock, rluFront, the store and the replicas.
func rluStart(t *testing.T, o rluOptions) *rluEnv {
	t.Helper()
	sm := testenv.StartStripeMock(t)
	front := rluStartFront(t, sm)
	store := ""
	if o.cluster {
		store = "store redis {\n\t\t\tcluster " + strings.Join(testenv.RedisCluster(t).Addrs, " ") + "\n\t\t}"
	} else {
		store = "store redis " + testenv.Redis(t).URL()
	}
	catalog, err := filepath.Abs("../testdata/catalog/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	site := rluSite(t, o.separate)
	if o.site != nil {
		site = o.site(site)
	}
	pgs := testenv.StartCluster(t, testenv.PaygateOptions{
		Global: "paygate {\n\t\t" + store + "\n\t}\n\t" + o.global,
		Site:   site,
		Data: map[string]any{"auth": opaAuth(t), "stripe": front.URL, "catalog": catalog, "log": "",
			"policies": opaPolicies(t), "ipLimit": o.ipLimit, "userLimit": o.userLimit, "userLimits": rluLimitsBlock(o.userLimit)},
		Env: paymentsSiteEnv(),
	}, max(o.replicas, 1))
	return &rluEnv{pgs: pgs, sm: sm, front: front}
}

// do sends a request to the first replica with token (and a JSON body
// when body is set), adding header.
func (e *rluEnv) do(t *testing.T, method, path, token, body string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	return send(t, e.pgs[0].Client(), method, e.pgs[0].HTTPSURL+path, body, rluHeader(token, body, header))
}

// create creates a payment intent with the Idempotency-Key key.
func (e *rluEnv) create(t *testing.T, token, key string) (*http.Response, []byte) {
	t.Helper()
	return e.do(t, http.MethodPost, "/v1/payment_intents", token, paymentOrder, http.Header{"Idempotency-Key": {key}})
}

// createdIntent creates a payment intent, requires a 201 and returns its ID.
func (e *rluEnv) createdIntent(t *testing.T, token, key string) string {
	t.Helper()
	resp, b := e.create(t, token, key)
	wantPaymentStatus(t, resp, b, http.StatusCreated)
	return paymentJSON(t, b)["id"].(string)
}

// confirm confirms intent with the payment method pm.
func (e *rluEnv) confirm(t *testing.T, token, intent, pm string) (*http.Response, []byte) {
	t.Helper()
	return e.do(t, http.MethodPost, "/v1/payment_intents/"+intent+"/confirm", token, `{"payment_method":"`+pm+`"}`, nil)
}

// creates counts the payment intents created at stripe-mock for user.
func (e *rluEnv) creates(user string) int {
	n := 0
	for _, c := range e.sm.Calls() {
		if c.Method == http.MethodPost && c.Path == "/v1/payment_intents" && c.Form.Get("metadata[paygate_user]") == user {
			n++
		}
	}
	return n
}

// rluHeader is the Authorization (for a non-empty token) and JSON
// Content-Type (for a non-empty body) of a request, and header.
func rluHeader(token, body string, header http.Header) http.Header {
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		h.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		h[k] = v
	}
	return h
}

// rluToken is a development token for sub, told apart from sub's other
// tokens by jti.
func rluToken(t *testing.T, sub, jti string) string {
	t.Helper()
	return testenv.DevToken(t, sub, map[string]any{"jti": jti})
}

// rluCard is a card as rluFront plays it: the fingerprint Stripe gives
// for it, and whether Stripe declines it.
type rluCard struct {
	fingerprint string
	declined    bool
}

// rluCards are payment methods rluFront answers confirmations with
// itself; two of them are the same card (one fingerprint).
var rluCards = map[string]rluCard{
	"pm_rlu_card_a":       {"fpRluCardA", false},
	"pm_rlu_card_a_again": {"fpRluCardA", true},
	"pm_rlu_card_b":       {"fpRluCardB", true},
	"pm_rlu_card_c":       {"fpRluCardC", false},
	"pm_rlu_card_d":       {"fpRluCardD", false},
	"pm_rlu_card_bob":     {"fpRluCardBob", false},
}

// rluGoodCard prefixes more payment methods rluFront confirms itself, each
// a card of its own: rluGoodCard + "7" is card fpRluGood7.
const rluGoodCard = "pm_rlu_good_"

// rluCardOf is the card rluFront plays for pm, if it plays one.
func rluCardOf(pm string) (rluCard, bool) {
	if n, ok := strings.CutPrefix(pm, rluGoodCard); ok {
		return rluCard{fingerprint: "fpRluGood" + n}, true
	}
	c, ok := rluCards[pm]
	return c, ok
}

// Payment methods whose confirmation rluFront answers as a Stripe outage:
// a 500 (paygate answers 502) and a 429 (paygate answers 503).
const (
	rluPMOutage = "pm_rlu_stripe_outage"
	rluPMBusy   = "pm_rlu_stripe_busy"
)

// rluFront passes every call to stripe-mock's recording proxy but the
// confirmations with pmDeclined, rluPMOutage, rluPMBusy and rluCardOf's,
// which it answers as Stripe does: declines as card errors naming the
// payment method (with its card's fingerprint), successes with the
// payment method expanded. It records every confirmation it gets.
type rluFront struct {
	URL string

	mu       sync.Mutex
	confirms []string
}

// rluStartFront starts rluFront in front of sm.
func rluStartFront(t *testing.T, sm *testenv.StripeMock) *rluFront {
	t.Helper()
	target, err := url.Parse(sm.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	f := &rluFront{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/confirm") {
			proxy.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		pm := form.Get("payment_method")
		f.mu.Lock()
		f.confirms = append(f.confirms, pm)
		f.mu.Unlock()
		id := strings.Split(r.URL.Path, "/")[3]
		card, known := rluCardOf(pm)
		method := map[string]any{"id": pm, "object": "payment_method", "type": "card",
			"card": map[string]any{"brand": "visa", "last4": "4242", "fingerprint": card.fingerprint}}
		intent := map[string]any{"id": id, "object": "payment_intent", "amount": 20300, "currency": "usd",
			"client_secret": id + "_secret_rlu"}
		w.Header().Set("Request-Id", "req_rlu_front")
		w.Header().Set("Content-Type", "application/json")
		var status int
		var answer map[string]any
		switch {
		case pm == pmDeclined:
			status, answer = http.StatusPaymentRequired, map[string]any{"error": map[string]any{
				"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds", "message": "declined",
				"payment_intent": intent, "charge": rluDeclinedCharge(id)}}
		case pm == rluPMOutage:
			status, answer = http.StatusInternalServerError, map[string]any{"error": map[string]any{
				"type": "api_error", "message": "An unknown error occurred"}}
		case pm == rluPMBusy:
			status, answer = http.StatusTooManyRequests, map[string]any{"error": map[string]any{
				"type": "invalid_request_error", "code": "rate_limit", "message": "Too many requests"}}
		case known && card.declined:
			intent["status"] = "requires_payment_method"
			status, answer = http.StatusPaymentRequired, map[string]any{"error": map[string]any{
				"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds", "message": "declined",
				"payment_intent": intent, "payment_method": method}}
		case known:
			intent["status"], intent["payment_method"] = "succeeded", method
			status, answer = http.StatusOK, intent
		default:
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			proxy.ServeHTTP(w, r)
			return
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(answer)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// confirmations are the payment methods of the confirmations that reached
// Stripe, oldest first.
func (f *rluFront) confirmations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.confirms)
}

// rluField is one zone's item of the RateLimit field.
type rluField struct {
	remaining int64
	pk        string
}

// rluRateLimit parses resp's RateLimit field ("name";r=..;t=..;pk=:..:,
// ...) by zone name.
func rluRateLimit(t *testing.T, resp *http.Response) map[string]rluField {
	t.Helper()
	out := map[string]rluField{}
	value := strings.Join(resp.Header.Values("RateLimit"), ", ")
	if value == "" {
		return out
	}
	for item := range strings.SplitSeq(value, ", ") {
		params := strings.Split(item, ";")
		name, err := strconv.Unquote(params[0])
		if err != nil {
			t.Fatalf("RateLimit item %q: %v", item, err)
		}
		var f rluField
		for _, p := range params[1:] {
			k, v, _ := strings.Cut(p, "=")
			switch k {
			case "r":
				if f.remaining, err = strconv.ParseInt(v, 10, 64); err != nil {
					t.Fatalf("RateLimit item %q: %v", item, err)
				}
			case "pk":
				f.pk = v
			}
		}
		out[name] = f
	}
	return out
}

// rluWantRefused requires a 429 rate_limited whose RateLimit field names
// exactly the zones refused.
func rluWantRefused(t *testing.T, resp *http.Response, body []byte, refused ...string) {
	t.Helper()
	wantPaymentStatus(t, resp, body, http.StatusTooManyRequests)
	decodeAPIError(t, resp, body, "rate_limited")
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	got := rluRateLimit(t, resp)
	names := make([]string, 0, len(got))
	for name := range got {
		names = append(names, name)
	}
	slices.Sort(names)
	slices.Sort(refused)
	if !slices.Equal(names, refused) {
		t.Errorf("refused by %q, want %q", names, refused)
	}
}

// TestRateLimitUserBudget: one user's requests share one budget whatever
// the token and the client IP (five tokens from five addresses, through a
// trusted proxy), a new token does not reset it, another user has their
// own.
func TestRateLimitUserBudget(t *testing.T) {
	e := rluStart(t, rluOptions{
		global: "servers {\n\t\ttrusted_proxies static 127.0.0.1/32\n\t}",
		// One request per client IP: the addresses below are told apart.
		ipLimit: `redis_rate_limit {
			zone ip {
				key {paygate.client_ip}
				rate 1 1h
				burst 1
			}
		}`,
		userLimit: `redis_rate_limit {
			zone user {
				key {paygate.user}
				rate 1 1h
				burst 5
			}
		}`,
	})
	from := func(i int) http.Header {
		return http.Header{"X-Forwarded-For": {fmt.Sprintf("198.51.100.%d", i)}}
	}
	var alicePK string
	for i := range 5 {
		token := rluToken(t, "alice", fmt.Sprintf("alice-token-%d", i))
		resp, b := e.do(t, http.MethodGet, "/v1/payment_methods", token, "", from(i+1))
		wantPaymentStatus(t, resp, b, http.StatusOK)
		user := rluRateLimit(t, resp)["user"]
		if want := int64(4 - i); user.remaining != want {
			t.Errorf("request %d: user zone remaining %d, want %d", i, user.remaining, want)
		}
		if i == 0 {
			alicePK = user.pk
		} else if user.pk != alicePK {
			t.Errorf("request %d: partition %s, want alice's %s", i, user.pk, alicePK)
		}
	}

	t.Run("the client IP zone tells the addresses apart", func(t *testing.T) {
		resp, b := e.do(t, http.MethodGet, "/v1/payment_methods", rluToken(t, "alice", "alice-token-0"), "", from(1))
		rluWantRefused(t, resp, b, "ip")
	})

	t.Run("a new token does not reset the budget", func(t *testing.T) {
		resp, b := e.do(t, http.MethodGet, "/v1/payment_methods", rluToken(t, "alice", "alice-token-new"), "", from(6))
		rluWantRefused(t, resp, b, "user")
	})

	t.Run("another user has their own budget", func(t *testing.T) {
		resp, b := e.do(t, http.MethodGet, "/v1/payment_methods", rluToken(t, "bob", "bob-token-0"), "", from(7))
		wantPaymentStatus(t, resp, b, http.StatusOK)
		user := rluRateLimit(t, resp)["user"]
		if user.remaining != 4 || user.pk == alicePK {
			t.Errorf("bob's user zone: %+v, want 4 remaining in a partition other than alice's %s", user, alicePK)
		}
	})
}

// rluVelocity is the shipped create_velocity zone.
const rluVelocity = `redis_rate_limit {
			zone create_velocity {
				key {paygate.user}
				match POST /v1/payment_intents
				rate 10 1h
				burst 10
			}
		}`

// rluAnswer is what one of many concurrent requests got.
type rluAnswer struct {
	status int
	code   string
	// conn is the local address of the connection the request went on.
	conn  string
	proto int
	err   error
}

// rluAtOnce sends n requests at once, request(i) sending the i-th, and
// returns what they got.
func rluAtOnce(n int, request func(i int) rluAnswer) []rluAnswer {
	start := make(chan struct{})
	answers := make([]rluAnswer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			answers[i] = request(i)
		})
	}
	close(start)
	wg.Wait()
	return answers
}

// rluPost sends a JSON POST to pg through c with token, adding header,
// and notes the connection it went on; it may run off the test's
// goroutine.
func rluPost(pg *testenv.Paygate, c *http.Client, path, token, body string, header http.Header) rluAnswer {
	var a rluAnswer
	var mu sync.Mutex
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		mu.Lock()
		a.conn = info.Conn.LocalAddr().String()
		mu.Unlock()
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
		http.MethodPost, pg.HTTPSURL+path, strings.NewReader(body))
	if err != nil {
		return rluAnswer{err: err}
	}
	req.Header = rluHeader(token, body, header)
	resp, err := c.Do(req)
	if err != nil {
		return rluAnswer{err: err}
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	var e apiError
	_ = json.Unmarshal(got, &e)
	mu.Lock()
	defer mu.Unlock()
	a.status, a.code, a.proto, a.err = resp.StatusCode, e.Error.Code, resp.ProtoMajor, err
	return a
}

// TestRateLimitUserVelocityRace: 200 concurrent creates by one user, over
// one HTTP/2 connection and over 50 HTTP/1.1 connections, create exactly
// the zone's burst of payment intents at Stripe; the rest are 429.
func TestRateLimitUserVelocityRace(t *testing.T) {
	const n, burst = 200, 10
	e := rluStart(t, rluOptions{userLimit: rluVelocity})
	pg := e.pgs[0]
	race := func(c *http.Client, token, keys string) []rluAnswer {
		return rluAtOnce(n, func(i int) rluAnswer {
			return rluPost(pg, c, "/v1/payment_intents", token, paymentOrder,
				http.Header{"Idempotency-Key": {fmt.Sprintf("%s-%d", keys, i)}})
		})
	}

	check := func(t *testing.T, user string, answers []rluAnswer, proto, conns int) {
		t.Helper()
		statuses := map[int]int{}
		seen := map[string]bool{}
		for _, a := range answers {
			if a.err != nil {
				t.Errorf("request failed: %v", a.err)
				continue
			}
			statuses[a.status]++
			seen[a.conn] = true
			if a.status == http.StatusTooManyRequests && a.code != "rate_limited" {
				t.Errorf("429 with code %q", a.code)
			}
			if a.proto != proto {
				t.Errorf("answered over HTTP/%d, want HTTP/%d", a.proto, proto)
			}
		}
		if statuses[http.StatusCreated] != burst || statuses[http.StatusTooManyRequests] != n-burst {
			t.Errorf("statuses %v, want %d 201 and %d 429", statuses, burst, n-burst)
		}
		if got := e.creates(user); got != burst {
			t.Errorf("%d payment intents created at Stripe, want %d", got, burst)
		}
		if len(seen) != conns {
			t.Errorf("the requests went over %d connections, want %d", len(seen), conns)
		}
	}

	t.Run("one HTTP/2 connection", func(t *testing.T) {
		c := pg.Client()
		token := rluToken(t, "alice", "alice-h2")
		// The connection is opened first, so that the burst shares it.
		resp, b := send(t, c, http.MethodGet, pg.HTTPSURL+"/v1/payment_methods", "", rluHeader(token, "", nil))
		wantPaymentStatus(t, resp, b, http.StatusOK)
		check(t, "alice", race(c, token, "h2"), 2, 1)
	})

	t.Run("50 HTTP/1.1 connections", func(t *testing.T) {
		const conns = 50
		c := h1Client(t, pg)
		tr := c.Transport.(*http.Transport)
		tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost, tr.DisableKeepAlives = conns, conns, false
		check(t, "bob", race(c, rluToken(t, "bob", "bob-h1"), "h1"), 1, conns)
	})
}

// rluVelocityOf2 is create_velocity with a burst of 2.
const rluVelocityOf2 = `redis_rate_limit {
			zone create_velocity {
				key {paygate.user}
				match POST /v1/payment_intents
				rate 1 1h
				burst 2
			}
		}`

// TestRateLimitUserReplayFree: replays, answered by the idempotency stage,
// never charge the velocity budget, and are answered once it is spent:
// with the zones in the stage's limits block (decided with the lease, the
// units a replay was charged given back) and with the zones in a stage of
// their own after it (never reached by a replay).
func TestRateLimitUserReplayFree(t *testing.T) {
	for _, separate := range []bool{false, true} {
		t.Run(map[bool]string{false: "limits block", true: "separate stage"}[separate], func(t *testing.T) {
			t.Parallel()
			rluReplayFree(t, rluStart(t, rluOptions{userLimit: rluVelocityOf2, separate: separate}))
		})
	}
}

// rluReplayFree: five replays of the first request leave the budget of
// two to a second new request; a third is refused.
func rluReplayFree(t *testing.T, e *rluEnv) {
	token := rluToken(t, "alice", "alice-0")
	wantReplay := func(t *testing.T, key, id string) {
		t.Helper()
		resp, b := e.create(t, token, key)
		wantPaymentStatus(t, resp, b, http.StatusCreated)
		if got := resp.Header.Get("Idempotent-Replayed"); got != "true" {
			t.Errorf("Idempotent-Replayed = %q, want true", got)
		}
		if got := paymentJSON(t, b)["id"]; got != id {
			t.Errorf("replay of %s is intent %v, want %s", key, got, id)
		}
	}

	first := e.createdIntent(t, token, "rlu-k1")
	for range 5 {
		wantReplay(t, "rlu-k1", first)
	}
	resp, b := e.create(t, token, "rlu-k2")
	wantPaymentStatus(t, resp, b, http.StatusCreated)
	if got := resp.Header.Get("Idempotent-Replayed"); got != "" {
		t.Errorf("a new key was answered as a replay (%q)", got)
	}
	second := paymentJSON(t, b)["id"].(string)
	resp, b = e.create(t, token, "rlu-k3")
	rluWantRefused(t, resp, b, "create_velocity")

	t.Run("replays are answered once the budget is spent", func(t *testing.T) {
		wantReplay(t, "rlu-k1", first)
		wantReplay(t, "rlu-k2", second)
	})
	t.Run("the refused key runs once the budget allows", func(t *testing.T) {
		// Its lease was released with the 429: the retry is refused again
		// (429, not 409 idempotency_key_in_use) while the budget is spent.
		resp, b := e.create(t, token, "rlu-k3")
		rluWantRefused(t, resp, b, "create_velocity")
	})
	if got := e.creates("alice"); got != 2 {
		t.Errorf("%d payment intents created at Stripe, want 2", got)
	}
}

// rluStoreCalls are the store round trips a paygate has made, by
// operation, its health checks' pings aside: the samples of
// paygate_store_call_duration_seconds, each call one round trip on a
// single Redis.
func rluStoreCalls(t *testing.T, pg *testenv.Paygate) map[string]float64 {
	t.Helper()
	const family = "paygate_store_call_duration_seconds_count"
	out := map[string]float64{}
	for series, n := range pg.Metrics(t).Family(family) {
		op := strings.TrimSuffix(strings.TrimPrefix(series, family+`{op="`), `"}`)
		if op != "ping" {
			out[op] = n
		}
	}
	return out
}

// rluCallsSince is what calls adds to before, and their sum.
func rluCallsSince(before, calls map[string]float64) (map[string]float64, float64) {
	diff, sum := map[string]float64{}, 0.0
	for op, n := range calls {
		if d := n - before[op]; d != 0 {
			diff[op] = d
			sum += d
		}
	}
	return diff, sum
}

// TestRateLimitUserRoundTrips: an idempotent POST through the shipped
// arrangement (a per-IP stage before authentication, the per-user zones in
// the idempotency stage's limits) costs at most 3 store round trips: the
// per-IP limit, the lease with the per-user zones, and the record. A
// replay costs 2: the per-IP limit and the lease with the zones; what the
// zones charged it is owed back and rides the user's next call (or a flush
// a quarter of a second later, which is the only refund a replay's window
// may see), and the budget is as it was: the POST after five replays
// runs. The
// payment handler, which has store calls of its own (the customer
// mapping, the ownership index), is replaced by a fixed 201, and the zones
// are request zones only (an outcome zone's unit owed back after a 201
// goes back with the key's next call, or with a flush a moment later).
func TestRateLimitUserRoundTrips(t *testing.T) {
	e := rluStart(t, rluOptions{
		ipLimit: `redis_rate_limit {
			zone ip {
				key {paygate.client_ip}
				rate 300 1m
				burst 60
			}
		}`,
		userLimit: `redis_rate_limit {
			zone user {
				key {paygate.user}
				rate 120 1m
				burst 30
			}
			zone create_velocity {
				key {paygate.user}
				match POST /v1/payment_intents
				rate 1 1h
				burst 2
			}
		}`,
		site: func(site string) string {
			start := strings.Index(site, "\t\tpayments {\n")
			end := strings.Index(site[start:], "\n\t\t}\n")
			if start < 0 || end < 0 {
				t.Fatal("the site has no payments block")
			}
			return site[:start] + "\t\trespond `{\"id\":\"pi_rlu_rt\"}` 201\n" + site[start+end+len("\n\t\t}\n"):]
		},
	})
	pg, token := e.pgs[0], rluToken(t, "alice", "alice-rt")
	// post sends the POST and returns its status and the store calls it
	// made. The record is stored before the response is written, so the
	// calls are all counted once it has arrived.
	post := func(key string) (int, map[string]float64, float64) {
		t.Helper()
		before := rluStoreCalls(t, pg)
		resp, b := e.create(t, token, key)
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("POST with key %s: %d %s", key, resp.StatusCode, b)
		}
		calls, sum := rluCallsSince(before, rluStoreCalls(t, pg))
		return resp.StatusCode, calls, sum
	}

	status, calls, sum := post("rt-1")
	if status != http.StatusCreated || sum > 3 || calls["acquire_limit"] != 1 || calls["complete"] != 1 || calls["limit"] != 1 {
		t.Errorf("fresh POST: %d, %v store calls (%v); want 201 in at most 3: limit, acquire_limit, complete", status, sum, calls)
	}
	for range 5 {
		status, calls, sum = post("rt-1")
		if status != http.StatusCreated || sum-calls["refund"] != 2 || calls["acquire_limit"] != 1 || calls["limit"] != 1 {
			t.Errorf("replay: %d, %v store calls (%v); want 201 in 2: limit, acquire_limit (and at most a flush's refund)", status, sum, calls)
		}
	}
	if status, _, _ = post("rt-2"); status != http.StatusCreated {
		t.Errorf("second new POST after five replays: %d, want 201 (the replays spent nothing)", status)
	}
	status, calls, sum = post("rt-3")
	if status != http.StatusTooManyRequests || sum > 3 || calls["release"] != 1 {
		t.Errorf("third new POST: %d, %v store calls (%v); want 429 in at most 3: limit, acquire_limit, release", status, sum, calls)
	}
}

// TestRateLimitUserDeclines: declines spend the user's declines budget,
// whatever card the next confirmation uses; Stripe's outages do not.
func TestRateLimitUserDeclines(t *testing.T) {
	e := rluStart(t, rluOptions{userLimit: `redis_rate_limit {
			zone user_declines {
				key {paygate.user}
				statuses 402
				rate 3 1h
				burst 3
			}
		}`})
	alice := rluToken(t, "alice", "alice-0")
	intent := e.createdIntent(t, alice, "rlu-declines")

	// More outages than the budget holds.
	for _, o := range []struct {
		pm     string
		status int
	}{{rluPMOutage, http.StatusBadGateway}, {rluPMBusy, http.StatusServiceUnavailable}} {
		for range 2 {
			resp, b := e.confirm(t, alice, intent, o.pm)
			wantPaymentStatus(t, resp, b, o.status)
		}
	}
	for i := range 3 {
		resp, b := e.confirm(t, alice, intent, pmDeclined)
		if resp.StatusCode != http.StatusPaymentRequired {
			t.Fatalf("decline %d: status %d, want 402 (Stripe's outages spent the budget?) (body %s)", i+1, resp.StatusCode, b)
		}
		decodeAPIError(t, resp, b, "card_declined")
	}
	resp, b := e.confirm(t, alice, intent, "pm_card_visa")
	rluWantRefused(t, resp, b, "user_declines")
	if slices.Contains(e.front.confirmations(), "pm_card_visa") {
		t.Error("the refused confirmation reached Stripe")
	}

	t.Run("another user's budget is their own", func(t *testing.T) {
		bob := rluToken(t, "bob", "bob-0")
		resp, b := e.confirm(t, bob, e.createdIntent(t, bob, "rlu-declines"), pmDeclined)
		wantPaymentStatus(t, resp, b, http.StatusPaymentRequired)
	})
}

// TestRateLimitUserDistinctCards: each card (by Stripe's fingerprint, of a
// success or a decline) spends the user's distinct-cards budget once; once
// it is spent, the user's requests are refused.
func TestRateLimitUserDistinctCards(t *testing.T) {
	e := rluStart(t, rluOptions{userLimit: `redis_rate_limit {
			zone user_cards {
				key {paygate.user}
				distinct {paygate.card_fingerprint}
				rate 3 24h
				burst 3
			}
		}`})
	alice := rluToken(t, "alice", "alice-0")
	intent := e.createdIntent(t, alice, "rlu-cards")
	for _, c := range []struct {
		pm     string
		status int
	}{
		// One card, again and again, under two payment methods.
		{"pm_rlu_card_a", http.StatusOK},
		{"pm_rlu_card_a", http.StatusOK},
		{"pm_rlu_card_a_again", http.StatusPaymentRequired},
		{"pm_rlu_card_a", http.StatusOK},
		{"pm_rlu_card_a_again", http.StatusPaymentRequired},
		// Two more cards, one declined.
		{"pm_rlu_card_b", http.StatusPaymentRequired},
		{"pm_rlu_card_c", http.StatusOK},
	} {
		resp, b := e.confirm(t, alice, intent, c.pm)
		if resp.StatusCode != c.status {
			t.Fatalf("confirm with %s: status %d, want %d (body %s)", c.pm, resp.StatusCode, c.status, b)
		}
	}

	t.Run("a fourth card is refused", func(t *testing.T) {
		resp, b := e.confirm(t, alice, intent, "pm_rlu_card_d")
		rluWantRefused(t, resp, b, "user_cards")
		if slices.Contains(e.front.confirmations(), "pm_rlu_card_d") {
			t.Error("the refused confirmation reached Stripe")
		}
	})

	t.Run("so is every request of the user", func(t *testing.T) {
		resp, b := e.create(t, alice, "rlu-cards-2")
		rluWantRefused(t, resp, b, "user_cards")
	})

	t.Run("another user's budget is their own", func(t *testing.T) {
		bob := rluToken(t, "bob", "bob-0")
		resp, b := e.confirm(t, bob, e.createdIntent(t, bob, "rlu-cards"), "pm_rlu_card_bob")
		wantPaymentStatus(t, resp, b, http.StatusOK)
	})
}

// TestRateLimitUserOutcomesConcurrent: declines, and new cards, sent at
// once spend the outcome zones' budgets as if sent one after another: no
// more declined confirmations, and no more distinct cards, reach Stripe
// than the zones' bursts. A card tester sends them at once.
//
// It fails while outcome zones are only peeked at when a request comes in
// and charged once its response is out (modules/ratelimit/module.go,
// ServeHTTP and chargeOutcome): every request in flight passes.
func TestRateLimitUserOutcomesConcurrent(t *testing.T) {
	const n, burst = 30, 3
	e := rluStart(t, rluOptions{userLimit: `redis_rate_limit {
			zone user_declines {
				key {paygate.user}
				statuses 402
				rate 3 1h
				burst 3
			}
			zone user_cards {
				key {paygate.user}
				distinct {paygate.card_fingerprint}
				rate 3 24h
				burst 3
			}
		}`})
	pg := e.pgs[0]
	for _, tt := range []struct {
		name, user, answered string
		// card is the payment method of the i-th confirmation.
		card func(i int) string
		// counts reports whether a confirmation that reached Stripe spends
		// the budget.
		counts func(pm string) bool
		status int
	}{
		{"declines", "alice", "declined", func(int) string { return pmDeclined },
			func(pm string) bool { return pm == pmDeclined }, http.StatusPaymentRequired},
		{"distinct cards", "bob", "confirmed", func(i int) string { return rluGoodCard + strconv.Itoa(i) },
			func(pm string) bool { return strings.HasPrefix(pm, rluGoodCard) }, http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			token := rluToken(t, tt.user, tt.user+"-0")
			intent := e.createdIntent(t, token, "rlu-concurrent")
			c := pg.Client()
			answers := rluAtOnce(n, func(i int) rluAnswer {
				return rluPost(pg, c, "/v1/payment_intents/"+intent+"/confirm", token, `{"payment_method":"`+tt.card(i)+`"}`, nil)
			})
			statuses := map[int]int{}
			for _, a := range answers {
				if a.err != nil {
					t.Fatalf("request failed: %v", a.err)
				}
				statuses[a.status]++
			}
			if statuses[tt.status] > burst || statuses[tt.status]+statuses[http.StatusTooManyRequests] != n {
				t.Errorf("statuses %v, want at most %d %d and the rest 429", statuses, burst, tt.status)
			}
			reached := 0
			for _, pm := range e.front.confirmations() {
				if tt.counts(pm) {
					reached++
				}
			}
			if reached > burst {
				t.Errorf("%d of %d confirmations sent at once were %s at Stripe, want at most the burst, %d", reached, n, tt.answered, burst)
			}
		})
	}
}

// TestRateLimitUserReplicas: replicas on one store admit together what one
// would, for a client alternating between them: over t, at most
// rate·t/period + burst, exactly.
func TestRateLimitUserReplicas(t *testing.T) {
	const (
		rate, burst = 20, 5
		period      = time.Second
		replicas    = 3
		workers     = 6
		run         = 2 * time.Second
	)
	limit := fmt.Sprintf(`redis_rate_limit {
			zone user {
				key {paygate.user}
				rate %d %s
				burst %d
			}
		}`, rate, period, burst)
	for _, tt := range []struct {
		name    string
		cluster bool
	}{{"one Redis", false}, {"Redis Cluster", true}} {
		t.Run(tt.name, func(t *testing.T) {
			e := rluStart(t, rluOptions{userLimit: limit, replicas: replicas, cluster: tt.cluster})
			token := rluToken(t, "alice", "alice-0")
			var admitted, refused [replicas]atomic.Int64
			var unexpected atomic.Value
			var next atomic.Int64
			start := time.Now()
			deadline := start.Add(run)
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for time.Now().Before(deadline) {
						i := int(next.Add(1) % replicas)
						pg := e.pgs[i]
						status, err := rluStatus(pg, token)
						switch {
						case err != nil:
							unexpected.Store(err)
							return
						case status == http.StatusOK:
							admitted[i].Add(1)
						case status == http.StatusTooManyRequests:
							refused[i].Add(1)
						default:
							unexpected.Store(fmt.Errorf("replica %d answered %d", i, status))
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			if err, ok := unexpected.Load().(error); ok {
				t.Fatal(err)
			}
			var total, totalRefused int64
			for i := range replicas {
				if admitted[i].Load() == 0 {
					t.Errorf("replica %d admitted nothing", i)
				}
				total += admitted[i].Load()
				totalRefused += refused[i].Load()
			}
			bound := int64(float64(rate)*elapsed.Seconds()/period.Seconds()) + burst
			t.Logf("%d admitted, %d refused in %v; bound %d", total, totalRefused, elapsed, bound)
			if total > bound {
				t.Errorf("%d requests admitted in %v, want at most %d (rate %d per %v, burst %d)", total, elapsed, bound, rate, period, burst)
			}
			// The client asked for more than the bound, else it proves nothing.
			if total < burst || totalRefused < bound {
				t.Errorf("%d admitted and %d refused: the client did not press the limit", total, totalRefused)
			}
		})
	}
}

// rluStatus lists the user's cards at pg and returns the status; it may
// run off the test's goroutine.
func rluStatus(pg *testenv.Paygate, token string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, pg.HTTPSURL+"/v1/payment_methods", nil)
	if err != nil {
		return 0, err
	}
	req.Header = rluHeader(token, "", nil)
	resp, err := pg.Client().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// rluDeclinedCharge is the charge rluFront declines pmDeclined with on
// intent, as Stripe names it in the card error and in the
// payment_intent.payment_failed event that follows.
func rluDeclinedCharge(intent string) string { return "ch_rlu_" + intent }

// TestRateLimitUserDeclineEvents: payment_intent.payment_failed events
// count in the declines zone that names them, for the user who made the
// payment, once per decline: a confirmation's 402 and Stripe's event about
// the same charge count once; a failure that only an event tells of (a
// failed 3-D Secure) counts too. Another user's budget is untouched.
func TestRateLimitUserDeclineEvents(t *testing.T) {
	e := rluStart(t, rluOptions{userLimit: `redis_rate_limit {
			zone user_declines {
				key {paygate.user}
				statuses 402
				distinct {paygate.decline_id}
				events payment_intent.payment_failed
				rate 2 1h
				burst 2
			}
		}`})
	pg := e.pgs[0]
	failed := func(id, intent, charge string) {
		t.Helper()
		object := map[string]any{"id": intent, "object": "payment_intent", "status": "requires_payment_method"}
		if charge != "" {
			object["last_payment_error"] = map[string]any{"type": "card_error", "charge": charge}
		}
		body := stripeEventBody(t, id, "payment_intent.payment_failed", object, nil)
		resp, b := postEvent(t, pg, body, stripeSignature(body, time.Now(), webhookSecret), nil)
		wantReceived(t, resp, b)
	}
	alice := rluToken(t, "alice", "alice-0")
	intent := e.createdIntent(t, alice, "rlu-events")

	resp, b := e.confirm(t, alice, intent, pmDeclined)
	wantPaymentStatus(t, resp, b, http.StatusPaymentRequired)
	failed("evt_rlu_1", intent, rluDeclinedCharge(intent))
	// One decline so far, not two: a good card still gets through.
	resp, b = e.confirm(t, alice, intent, "pm_card_visa")
	wantPaymentStatus(t, resp, b, http.StatusOK)

	// A failure only the event tells of: the budget of two is spent.
	failed("evt_rlu_2", intent, "")
	resp, b = e.confirm(t, alice, intent, "pm_card_visa")
	rluWantRefused(t, resp, b, "user_declines")

	t.Run("another user's budget is their own", func(t *testing.T) {
		bob := rluToken(t, "bob", "bob-0")
		resp, b := e.confirm(t, bob, e.createdIntent(t, bob, "rlu-events-bob"), "pm_card_mastercard")
		wantPaymentStatus(t, resp, b, http.StatusOK)
	})
}

// TestRateLimitUserSetupFailures: a card a setup intent could not save
// (setup_intent.setup_failed, which Stripe sends when Stripe.js's
// confirmation with the setup intent's client secret fails: paygate never
// sees the attempt itself) counts as a decline for the user who created the
// setup intent. The failure that spends the budget cancels that setup
// intent at Stripe, so its client secret tries no more cards there, and
// the user's next setup intent is refused. Another user's budget is theirs.
func TestRateLimitUserSetupFailures(t *testing.T) {
	e := rluStart(t, rluOptions{userLimit: `redis_rate_limit {
			zone user_declines {
				key {paygate.user}
				match POST /v1/payment_intents
				match POST /v1/payment_intents/{id}/confirm
				match POST /v1/setup_intents
				statuses 402
				distinct {paygate.decline_id}
				events payment_intent.payment_failed setup_intent.setup_failed
				rate 2 1h
				burst 2
			}
		}`})
	pg := e.pgs[0]
	setupIntent := func(token, key string) (*http.Response, []byte) {
		t.Helper()
		return e.do(t, http.MethodPost, "/v1/setup_intents", token, "{}", http.Header{"Idempotency-Key": {key}})
	}
	cancels := func(seti string) int {
		n := 0
		for _, c := range e.sm.Calls() {
			if c.Method == http.MethodPost && c.Path == "/v1/setup_intents/"+seti+"/cancel" && c.Form.Get("cancellation_reason") == "abandoned" {
				n++
			}
		}
		return n
	}
	failed := func(id, seti string) {
		t.Helper()
		object := map[string]any{"id": seti, "object": "setup_intent", "status": "requires_payment_method",
			"last_setup_error": map[string]any{"type": "card_error", "code": "card_declined"}}
		body := stripeEventBody(t, id, "setup_intent.setup_failed", object, nil)
		resp, b := postEvent(t, pg, body, stripeSignature(body, time.Now(), webhookSecret), nil)
		wantReceived(t, resp, b)
	}

	alice := rluToken(t, "alice", "alice-0")
	resp, b := setupIntent(alice, "rlu-seti-1")
	wantPaymentStatus(t, resp, b, http.StatusCreated)
	seti := paymentJSON(t, b)["id"].(string)

	failed("evt_rlu_seti_1", seti)
	if n := cancels(seti); n != 0 {
		t.Fatalf("%d cancellations after one failure, want none: the budget is not spent", n)
	}
	failed("evt_rlu_seti_2", seti)
	if n := cancels(seti); n != 1 {
		t.Fatalf("%d cancellations after the failure that spent the budget, want 1", n)
	}
	resp, b = setupIntent(alice, "rlu-seti-2")
	rluWantRefused(t, resp, b, "user_declines")

	t.Run("another user's budget is their own", func(t *testing.T) {
		resp, b := setupIntent(rluToken(t, "bob", "bob-0"), "rlu-seti-bob")
		wantPaymentStatus(t, resp, b, http.StatusCreated)
	})
}
