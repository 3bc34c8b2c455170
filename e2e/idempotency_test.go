package e2e

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/paygate/paygate/internal/testenv"
)

// End-to-end tests of the idempotency stage, through the binary as a
// retrying client, a careless one and an attacker would use it: in the
// payment pipeline (paymentsSite: after opa_authz, before api_response, in
// front of the payments handler and Stripe), and in front of a
// reverse_proxy upstream.

// idemEnv is paymentsSite with the shipped log format at DEBUG, on a
// private Redis that a test stops, with a recorder of every call paygate
// makes to Stripe: stripeFront's own answers (the declines) included, which
// never reach stripe-mock's recorder.
type idemEnv struct {
	pg     *testenv.Paygate
	redis  *testenv.RedisServer
	rdb    *redis.Client
	stripe *testenv.Upstream
	auth   paymentsAuth
	// keys are the Idempotency-Key values sent and secrets the client
	// secrets received: the log scan looks for both.
	keys, secrets []string
}

// idemLog is the shipped log format (every line through the redacting
// encoder), at DEBUG.
const idemLog = "log {\n\t\tformat redact\n\t\tlevel DEBUG\n\t}"

// idemStartPayments starts paygate with paymentsSite, as startPayments
// does, but with Stripe behind a recorder and the Redis at hand.
func idemStartPayments(t *testing.T) *idemEnv {
	t.Helper()
	var stripe *testenv.Upstream
	e := startPaymentsLogging(t, idemLog, idemLog, func(front string) string {
		u, err := url.Parse(front)
		if err != nil {
			t.Fatal(err)
		}
		stripe = testenv.StartUpstream(t, httputil.NewSingleHostReverseProxy(u))
		return stripe.URL
	})
	return &idemEnv{pg: e.pg, redis: e.rs, rdb: e.rdb, stripe: stripe, auth: e.auth}
}

// post sends a JSON POST as user with one Idempotency-Key field per key
// (none without keys), and keeps the keys and any client secret received
// for the log scan.
func (e *idemEnv) post(t *testing.T, path, user, body string, keys ...string) (*http.Response, []byte) {
	t.Helper()
	h := e.auth.credentials(user)
	h.Set("Content-Type", "application/json")
	if len(keys) > 0 {
		h["Idempotency-Key"] = keys
	}
	e.keys = append(e.keys, keys...)
	resp, b := send(t, e.pg.Client(), http.MethodPost, e.pg.HTTPSURL+path, body, h)
	e.keepSecret(resp.StatusCode, b)
	return resp, b
}

// postRaw sends a JSON POST as user over HTTP/1.1 with keyLine, exactly,
// as its Idempotency-Key field line, and returns the one response.
func (e *idemEnv) postRaw(t *testing.T, path, user, body, keyLine string) rawResponse {
	t.Helper()
	wire := wireRequest(http.MethodPost, path, "HTTP/1.1", []string{
		"Authorization: " + e.auth.credentials(user).Get("Authorization"),
		"Content-Type: application/json",
		"Content-Length: " + strconv.Itoa(len(body)),
		keyLine,
		"Connection: close",
	}, body)
	resps, _ := rawExchange(t, e.pg, wire)
	if len(resps) != 1 {
		t.Fatalf("%d responses, want 1", len(resps))
	}
	e.keepSecret(resps[0].StatusCode, resps[0].body)
	return resps[0]
}

// keepSecret keeps the client secret of a successful answer.
func (e *idemEnv) keepSecret(status int, body []byte) {
	if status >= 300 {
		return
	}
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		if cs, ok := m["client_secret"].(string); ok && cs != "" {
			e.secrets = append(e.secrets, cs)
		}
	}
}

// calls counts the requests to Stripe of method on path so far.
func (e *idemEnv) calls(method, path string) int {
	n := 0
	for _, r := range e.stripe.Requests() {
		if r.Method == method && r.URL.Path == path {
			n++
		}
	}
	return n
}

// idemWantReplay requires resp to replay first: the same status and body
// bytes, Idempotent-Replayed, the replay's own request ID and every
// security header.
func idemWantReplay(t *testing.T, first *http.Response, firstBody []byte, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != first.StatusCode {
		t.Errorf("replay status = %d, want the first answer's %d (body %s)", resp.StatusCode, first.StatusCode, body)
	}
	if !bytes.Equal(body, firstBody) {
		t.Errorf("replay body = %s, want the first answer's %s", body, firstBody)
	}
	if got := resp.Header.Values("Idempotent-Replayed"); len(got) != 1 || got[0] != "true" {
		t.Errorf("Idempotent-Replayed = %q, want true", got)
	}
	if got := first.Header.Values("Idempotent-Replayed"); len(got) != 0 {
		t.Errorf("the first answer has Idempotent-Replayed %q", got)
	}
	if id := resp.Header.Get("X-Request-Id"); id == first.Header.Get("X-Request-Id") {
		t.Errorf("the replay has the first answer's X-Request-Id %q, want its own", id)
	}
	checkHeaders(t, resp, apiHeaders)
}

// idemWantFresh requires resp to be an answer of its own, not a replay.
func idemWantFresh(t *testing.T, resp *http.Response) {
	t.Helper()
	if got := resp.Header.Values("Idempotent-Replayed"); len(got) != 0 {
		t.Errorf("Idempotent-Replayed = %q on an answer that must be the request's own", got)
	}
}

// idemWantRefused requires paygate's error with status and code.
func idemWantRefused(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	wantPaymentStatus(t, resp, body, status)
	decodeAPIError(t, resp, body, code)
	idemWantFresh(t, resp)
}

// idemOtherOrder is a valid create body with other items than paymentOrder.
const idemOtherOrder = `{"items":[{"sku":"standard_clean","quantity":1}],"currency":"usd","reference":"booking-43"}`

// TestIdempotencyPayments drives the stage in the payment pipeline, on one
// paygate: replays, the key's scope, changed requests, the key's syntax,
// what is kept and what is not, the records at rest, a store outage, and
// then the logs.
func TestIdempotencyPayments(t *testing.T) {
	e := idemStartPayments(t)
	const create = "/v1/payment_intents"
	const aliceKey = "ik-replay-4d9c71"
	var alice []byte // alice's first answer under aliceKey

	t.Run("replay", func(t *testing.T) {
		before := e.calls(http.MethodPost, create)
		first, firstBody := e.post(t, create, "alice", paymentOrder, aliceKey)
		wantPaymentStatus(t, first, firstBody, http.StatusCreated)
		idemWantFresh(t, first)
		alice = firstBody
		resp, body := e.post(t, create, "alice", paymentOrder, aliceKey)
		idemWantReplay(t, first, firstBody, resp, body)
		if n := e.calls(http.MethodPost, create) - before; n != 1 {
			t.Errorf("%d payment intents created at Stripe, want 1", n)
		}
	})

	t.Run("scope", func(t *testing.T) {
		// bob with alice's key: his own request, his own intent.
		mark := len(e.stripe.Requests())
		resp, body := e.post(t, create, "bob", paymentOrder, aliceKey)
		wantPaymentStatus(t, resp, body, http.StatusCreated)
		idemWantFresh(t, resp)
		if bytes.Equal(body, alice) {
			t.Errorf("bob got alice's answer %s", body)
		}
		var bobs []string
		for _, r := range e.stripe.Requests()[mark:] {
			if r.Method == http.MethodPost && r.URL.Path == create {
				form, _ := url.ParseQuery(string(r.Body))
				bobs = append(bobs, form.Get("metadata[paygate_user]"))
			}
		}
		if len(bobs) != 1 || bobs[0] != "bob" {
			t.Errorf("payment intents created at Stripe for %q, want one for bob", bobs)
		}
		id := paymentJSON(t, body)["id"].(string)
		if got, err := e.rdb.Get(context.Background(), "paygate:{"+id+"}:owner").Result(); err != nil || got != "bob" {
			t.Errorf("owner of bob's intent %s = %q (%v), want bob", id, got, err)
		}
		// Another request of bob's under the key is his own business too.
		resp, body = e.post(t, create, "bob", idemOtherOrder, aliceKey)
		idemWantRefused(t, resp, body, http.StatusUnprocessableEntity, "idempotency_key_reused")

		// alice's key on another route: independent of her payment.
		const setup = "/v1/setup_intents"
		before := e.calls(http.MethodPost, setup)
		first, firstBody := e.post(t, setup, "alice", "", aliceKey)
		wantPaymentStatus(t, first, firstBody, http.StatusCreated)
		idemWantFresh(t, first)
		if !strings.HasPrefix(paymentJSON(t, firstBody)["id"].(string), "seti_") {
			t.Errorf("setup intent answer %s", firstBody)
		}
		// ... and de-duplicated on its own.
		resp, body = e.post(t, setup, "alice", "", aliceKey)
		idemWantReplay(t, first, firstBody, resp, body)
		if n := e.calls(http.MethodPost, setup) - before; n != 1 {
			t.Errorf("%d setup intents created at Stripe, want 1", n)
		}
	})

	t.Run("changed request", func(t *testing.T) {
		const key = "ik-changed-0b6e25"
		first, firstBody := e.post(t, create, "alice", paymentOrder, key)
		wantPaymentStatus(t, first, firstBody, http.StatusCreated)
		before := len(e.stripe.Requests())
		for _, tt := range []struct{ name, body string }{
			{"other items", idemOtherOrder},
			// The fingerprint is over the exact bytes: a JSON body
			// reformatted is another request.
			{"extra whitespace", strings.Replace(paymentOrder, `"currency":`, `"currency": `, 1)},
			{"trailing newline", paymentOrder + "\n"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				resp, body := e.post(t, create, "alice", tt.body, key)
				idemWantRefused(t, resp, body, http.StatusUnprocessableEntity, "idempotency_key_reused")
			})
		}
		if n := len(e.stripe.Requests()) - before; n != 0 {
			t.Errorf("changed requests made %d Stripe calls", n)
		}
		// The original request still replays.
		resp, body := e.post(t, create, "alice", paymentOrder, key)
		idemWantReplay(t, first, firstBody, resp, body)
	})

	t.Run("key syntax", func(t *testing.T) {
		before := len(e.stripe.Requests())
		t.Run("missing", func(t *testing.T) {
			resp, body := e.post(t, create, "alice", paymentOrder)
			idemWantRefused(t, resp, body, http.StatusBadRequest, "idempotency_key_missing")
		})
		for _, tt := range []struct {
			name string
			keys []string
		}{
			{"leading space", []string{" ik-syntax-lead"}},
			{"trailing space", []string{"ik-syntax-trail "}},
			{"inner space", []string{"ik-syntax inner"}},
			{"tab", []string{"ik-syntax\ttab"}},
			{"two fields", []string{"ik-syntax-one", "ik-syntax-two"}},
			{"a list", []string{"ik-syntax-one, ik-syntax-two"}},
			{"a list without spaces", []string{"ik-syntax-one,ik-syntax-two"}},
			{"256 characters", []string{"ik-syntax-" + strings.Repeat("x", 246)}},
			{"unterminated quote", []string{`"ik-syntax-open`}},
			{"empty quoted string", []string{`""`}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				resp, body := e.post(t, create, "alice", paymentOrder, tt.keys...)
				idemWantRefused(t, resp, body, http.StatusBadRequest, "idempotency_key_invalid")
			})
		}
		t.Run("non-ASCII", func(t *testing.T) {
			const key = "ik-syntax-caf\xc3\xa9"
			e.keys = append(e.keys, key)
			resp := e.postRaw(t, create, "alice", paymentOrder, "Idempotency-Key: "+key)
			idemWantRefused(t, resp.Response, resp.body, http.StatusBadRequest, "idempotency_key_invalid")
		})
		if n := len(e.stripe.Requests()) - before; n != 0 {
			t.Errorf("requests with a missing or malformed key made %d Stripe calls", n)
		}

		t.Run("255 characters", func(t *testing.T) {
			resp, body := e.post(t, create, "alice", paymentOrder, "ik-syntax-"+strings.Repeat("y", 245))
			wantPaymentStatus(t, resp, body, http.StatusCreated)
		})
		t.Run("quoted and bare are one key", func(t *testing.T) {
			before := e.calls(http.MethodPost, create)
			first, firstBody := e.post(t, create, "alice", paymentOrder, `"ik-syntax-quoted"`)
			wantPaymentStatus(t, first, firstBody, http.StatusCreated)
			resp, body := e.post(t, create, "alice", paymentOrder, "ik-syntax-quoted")
			idemWantReplay(t, first, firstBody, resp, body)
			if n := e.calls(http.MethodPost, create) - before; n != 1 {
				t.Errorf("%d payment intents created at Stripe, want 1", n)
			}
		})
	})

	t.Run("validation failure, then the corrected request", func(t *testing.T) {
		const key = "ik-corrected-93a0f4"
		before := len(e.stripe.Requests())
		resp, body := e.post(t, create, "alice", `{"items":[],"currency":"usd"}`, key)
		wantPaymentStatus(t, resp, body, http.StatusBadRequest)
		if n := len(e.stripe.Requests()) - before; n != 0 {
			t.Errorf("an invalid request made %d Stripe calls", n)
		}
		creates := e.calls(http.MethodPost, create)
		resp, body = e.post(t, create, "alice", paymentOrder, key)
		wantPaymentStatus(t, resp, body, http.StatusCreated)
		idemWantFresh(t, resp)
		if n := e.calls(http.MethodPost, create) - creates; n != 1 {
			t.Errorf("%d payment intents created at Stripe, want 1", n)
		}
	})

	t.Run("decline, then a retry", func(t *testing.T) {
		resp, body := e.post(t, create, "alice", paymentOrder, "ik-decline-intent-5e02")
		wantPaymentStatus(t, resp, body, http.StatusCreated)
		confirm := create + "/" + paymentJSON(t, body)["id"].(string) + "/confirm"
		const key = "ik-decline-7c13aa"
		decline := `{"payment_method":"` + pmDeclined + `"}`
		first, firstBody := e.post(t, confirm, "alice", decline, key)
		idemWantRefused(t, first, firstBody, http.StatusPaymentRequired, "card_declined")
		resp, body = e.post(t, confirm, "alice", decline, key)
		idemWantReplay(t, first, firstBody, resp, body)
		if n := e.calls(http.MethodPost, confirm); n != 1 {
			t.Errorf("Stripe's confirm was called %d times, want 1", n)
		}
	})

	t.Run("sealed at rest", func(t *testing.T) {
		// A record is a hash: its state and the sealed request fingerprint
		// or response.
		ctx := context.Background()
		names, err := e.rdb.Keys(ctx, "paygate:*:idem").Result()
		if err != nil {
			t.Fatal(err)
		}
		// A record's response body, as it would travel inside one.
		body := base64.StdEncoding.EncodeToString(alice)
		plain := append([]string{"_secret_", "client_secret", "application/json", body[:len(body)/2], aliceKey}, e.secrets...)
		done := 0
		for _, name := range names {
			for _, user := range []string{"alice", "bob"} {
				if strings.Contains(name, user) {
					t.Errorf("record name %q holds the user ID", name)
				}
			}
			rec, err := e.rdb.HGetAll(ctx, name).Result()
			if err != nil {
				t.Fatalf("HGETALL %s: %v", name, err)
			}
			if rec["state"] == "done" {
				done++
			}
			for _, p := range plain {
				if strings.Contains(name+fmt.Sprint(rec), p) {
					t.Errorf("record %s holds %q in the clear", name, p)
				}
			}
		}
		if done == 0 {
			t.Errorf("no completed record among %q", names)
		}
	})

	t.Run("store unavailable", func(t *testing.T) {
		e.redis.Stop()
		before := len(e.stripe.Requests())
		resp, body := e.post(t, create, "alice", paymentOrder, "ik-outage-2f8d60")
		idemWantRefused(t, resp, body, http.StatusServiceUnavailable, "store_unavailable")
		if n := len(e.stripe.Requests()) - before; n != 0 {
			t.Errorf("with the store down, %d calls reached Stripe", n)
		}
		// The stage refused it, not a later one.
		e.pg.WaitForMetric(t, `paygate_idempotency_requests_total{outcome="store_unavailable"}`, testenv.MetricIs(1))
	})

	t.Run("logs", func(t *testing.T) {
		raw, err := base64.StdEncoding.DecodeString(e2eSealKey)
		if err != nil {
			t.Fatal(err)
		}
		plants := []plant{plantSecret("the seal key", e2eSealKey, string(raw))}
		for _, cs := range e.secrets {
			plants = append(plants, plantSecret("client secret "+cs, cs, cs[strings.Index(cs, "_secret_")+len("_secret_"):]))
		}
		var keys []plant
		for _, k := range e.keys {
			// Shorter keys ("") turn up anywhere.
			if len(k) >= 8 {
				keys = append(keys, plantSecret("Idempotency-Key "+strconv.Quote(k), k))
			}
		}
		if len(e.secrets) == 0 || len(keys) == 0 {
			t.Fatalf("%d client secrets and %d keys to look for", len(e.secrets), len(keys))
		}
		requireNoLeaks(t, e.pg, plants)
		// Caddy's request logs record the Idempotency-Key header, as
		// internal/redact means them to (an operator looks a request up
		// by it); nothing else may hold a key.
		for _, l := range findLeaks(idemWithoutKeyHeaders(e.pg.Logs(t)), keys) {
			t.Errorf("leak: %s", l)
		}
	})
}

// idemWithoutKeyHeaders is logs with the Idempotency-Key header taken out
// of the request headers of every JSON line (Caddy's access and error
// logs).
func idemWithoutKeyHeaders(logs []byte) []byte {
	var out bytes.Buffer
	for _, line := range bytes.Split(logs, []byte("\n")) {
		var entry map[string]any
		if json.Unmarshal(line, &entry) == nil {
			if req, ok := entry["request"].(map[string]any); ok {
				if h, ok := req["headers"].(map[string]any); ok {
					delete(h, "Idempotency-Key")
				}
			}
			line, _ = json.Marshal(entry) // it was just decoded
		}
		out.Write(line)
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// idemUpstreamSite is the payment API's route in front of an upstream:
// jwt_auth, the stage with a 1 KiB max_response, reverse_proxy.
const idemUpstreamSite = `
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	route /v1/* {
		security_headers api
		{{.Data.auth}}
		idempotency {
			seal_key {env.K}
			max_response 1KiB
		}
		reverse_proxy {{.Upstream}}
	}
	handle_errors {
		paygate_error
	}
}
`

// idemUpstream answers by the query's case: "large" 201 with a cookie and
// 2 KiB, "cookie" 201 with a cookie, or the case's status; each body holds
// the call's number, so that a second execution shows.
func idemUpstream() http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		call := strconv.FormatInt(n.Add(1), 10)
		w.Header().Set("Content-Type", "application/json")
		switch c := r.URL.Query().Get("case"); c {
		case "large":
			w.Header().Set("Set-Cookie", "session=ik-large; Secure; HttpOnly")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"call":` + call + `,"pad":"` + strings.Repeat("x", 2048) + `"}`))
		case "cookie":
			w.Header().Set("Set-Cookie", "session=ik-small; Secure; HttpOnly")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"call":` + call + `}`))
		default:
			status, _ := strconv.Atoi(c)
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"call":` + call + `}`))
		}
	})
}

// TestIdempotencyUpstream runs the stage in front of a reverse_proxy
// upstream: responses over max_response, cookies, and which statuses are
// kept.
func TestIdempotencyUpstream(t *testing.T) {
	up := testenv.StartUpstream(t, idemUpstream())
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream: up,
		Site:     idemUpstreamSite,
		Data:     map[string]any{"auth": opaAuth(t)},
		Env:      map[string]string{"K": e2eSealKey},
	})
	token := "Bearer " + testenv.DevToken(t, "alice", nil)
	post := func(t *testing.T, c string) (*http.Response, []byte) {
		t.Helper()
		h := http.Header{"Authorization": {token}, "Content-Type": {"application/json"}, "Idempotency-Key": {"ik-upstream-" + c}}
		return send(t, pg.Client(), http.MethodPost, pg.HTTPSURL+"/v1/payment_intents?case="+c, "{}", h)
	}
	count := func(c string) int {
		n := 0
		for _, r := range up.Requests() {
			if r.URL.Query().Get("case") == c {
				n++
			}
		}
		return n
	}

	t.Run("over max_response", func(t *testing.T) {
		resp, body := post(t, "large")
		wantPaymentStatus(t, resp, body, http.StatusCreated)
		if len(body) < 2048 || resp.Header.Get("Set-Cookie") == "" {
			t.Errorf("the first answer: %d bytes, Set-Cookie %q; want the upstream's", len(body), resp.Header.Get("Set-Cookie"))
		}
		resp, body = post(t, "large")
		idemWantRefused(t, resp, body, http.StatusConflict, "idempotency_response_unavailable")
		if n := count("large"); n != 1 {
			t.Errorf("the upstream ran the request %d times, want 1", n)
		}
	})

	t.Run("no cookie replayed", func(t *testing.T) {
		first, firstBody := post(t, "cookie")
		wantPaymentStatus(t, first, firstBody, http.StatusCreated)
		if first.Header.Get("Set-Cookie") == "" {
			t.Error("the first answer lost the upstream's Set-Cookie")
		}
		resp, body := post(t, "cookie")
		idemWantReplay(t, first, firstBody, resp, body)
		if got := resp.Header.Values("Set-Cookie"); len(got) != 0 {
			t.Errorf("the replay sets cookies %q", got)
		}
		if n := count("cookie"); n != 1 {
			t.Errorf("the upstream ran the request %d times, want 1", n)
		}
	})

	for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(strconv.Itoa(status)+" not kept", func(t *testing.T) {
			c := strconv.Itoa(status)
			for i := range 2 {
				resp, body := post(t, c)
				wantPaymentStatus(t, resp, body, status)
				idemWantFresh(t, resp)
				if n := count(c); n != i+1 {
					t.Errorf("after %d requests the upstream ran %d, want every one", i+1, n)
				}
			}
		})
	}

	t.Run("500 kept", func(t *testing.T) {
		first, firstBody := post(t, "500")
		wantPaymentStatus(t, first, firstBody, http.StatusInternalServerError)
		resp, body := post(t, "500")
		idemWantReplay(t, first, firstBody, resp, body)
		if n := count("500"); n != 1 {
			t.Errorf("the upstream ran the request %d times, want 1", n)
		}
	})
}

// TestIdempotencyRecordKeepsOnlyReplayedHeaders opens, as someone holding
// the seal key and the store would, the record of an upstream answer that
// set a cookie: it holds the headers a replay sends (Content-Type) and
// nothing else, the session cookie above all, which would otherwise sit in
// the store for the record's whole retention.
func TestIdempotencyRecordKeepsOnlyReplayedHeaders(t *testing.T) {
	rs := testenv.Redis(t)
	up := testenv.StartUpstream(t, idemUpstream())
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream: up,
		Global:   redisStoreGlobal(rs),
		Site:     idemUpstreamSite,
		Data:     map[string]any{"auth": opaAuth(t)},
		Env:      map[string]string{"K": e2eSealKey},
	})
	h := http.Header{"Authorization": {"Bearer " + testenv.DevToken(t, "alice", nil)},
		"Content-Type": {"application/json"}, "Idempotency-Key": {"ik-at-rest"}}
	resp, body := send(t, pg.Client(), http.MethodPost, pg.HTTPSURL+"/v1/payment_intents?case=cookie", "{}", h)
	wantPaymentStatus(t, resp, body, http.StatusCreated)
	if resp.Header.Get("Set-Cookie") == "" {
		t.Fatal("the answer lost the upstream's Set-Cookie: nothing to look for")
	}

	ctx := context.Background()
	rdb := rs.Client(t)
	names, err := rdb.Keys(ctx, "paygate:*:idem").Result()
	if err != nil || len(names) != 1 {
		t.Fatalf("idempotency records %q (%v), want one", names, err)
	}
	sealed, err := rdb.HGet(ctx, names[0], "value").Result()
	if err != nil {
		t.Fatalf("HGET %s value: %v", names[0], err)
	}
	// The record's format: key ID, '.', nonce, AES-256-GCM ciphertext with
	// the store key as associated data.
	key, err := base64.StdEncoding.DecodeString(e2eSealKey)
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(sealed, ".")
	if len(rest) < aead.NonceSize() {
		t.Fatalf("record %s is not sealed as expected", names[0])
	}
	plain, err := aead.Open(nil, []byte(rest[:aead.NonceSize()]), []byte(rest[aead.NonceSize():]), []byte(strings.TrimPrefix(names[0], "paygate:")))
	if err != nil {
		t.Fatalf("opening record %s: %v", names[0], err)
	}
	var rec struct {
		Status int         `json:"status"`
		Header http.Header `json:"header"`
	}
	if err := json.Unmarshal(plain, &rec); err != nil {
		t.Fatalf("record %s: %v", names[0], err)
	}
	if rec.Status != http.StatusCreated || rec.Header.Get("Content-Type") != "application/json" {
		t.Errorf("record: status %d, headers %v; want 201 with the upstream's Content-Type", rec.Status, rec.Header)
	}
	for name := range rec.Header {
		if name != "Content-Type" {
			t.Errorf("the record keeps %s: %q, which no replay sends", name, rec.Header[name])
		}
	}
}
