package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paygate/paygate/internal/testenv"
)

// paymentsAuth is jwt_auth with the development key: `paygate token`
// mints each user's token, as the README shows.
type paymentsAuth struct {
	tokens map[string]string
}

func newPaymentsAuth(t *testing.T, users ...string) paymentsAuth {
	t.Helper()
	a := paymentsAuth{tokens: map[string]string{}}
	for _, u := range users {
		a.tokens[u] = testenv.DevToken(t, u, nil)
	}
	return a
}

// directive is the shipped Caddyfile's jwt_auth.
func (a paymentsAuth) directive(t *testing.T) string {
	return opaAuth(t)
}

func (a paymentsAuth) credentials(user string) http.Header {
	return http.Header{"Authorization": {"Bearer " + a.tokens[user]}}
}

// paymentsSite is the payment API as the shipped pipeline has it (TLS,
// headers, request hygiene, card-data guard, methods, authentication, the
// ownership policy, whole responses, the handler) and the event processor
// behind the signature stage on the webhook route.
// {{.Data.log}} is an optional site log block.
const paymentsSite = `
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	{{.Data.log}}
	route /v1/* {
		security_headers api
		tls_enforce
		request_guard
		card_data_guard
		api_methods
		{{.Data.auth}}
		opa_authz {
			policy_dir {{.Data.policies}}
			claims role
		}
		idempotency {
			seal_key {env.PAYGATE_IDEMPOTENCY_KEY}
		}
		api_response
		payments {
			stripe_key {env.STRIPE_SECRET_KEY}
			api_base {{.Data.stripe}}
			catalog {{.Data.catalog}}
			timeout 10s
			max_network_retries 0
		}
	}
	route /webhooks/stripe {
		security_headers api
		tls_enforce
		stripe_webhook {
			secret {env.STRIPE_WEBHOOK_SECRET}
		}
		payment_events
	}
	handle_errors {
		paygate_error
	}
}
`

// e2eSealKey is the idempotency stage's seal key in the end-to-end tests
// (32 bytes, base64).
const e2eSealKey = "cGF5Z2F0ZS1lMmUtc2VhbC1rZXktMzItYnl0ZXMhISE="

// paymentsSiteEnv is the environment paymentsSite reads its secrets from.
func paymentsSiteEnv() map[string]string {
	return map[string]string{"STRIPE_SECRET_KEY": e2eStripeKey, "STRIPE_WEBHOOK_SECRET": webhookSecret, "PAYGATE_IDEMPOTENCY_KEY": e2eSealKey}
}

// e2eStripeKey is the test-mode key paygate gets from its environment.
const e2eStripeKey = "sk_test_e2ePaygate4242"

// Stripe's test payment methods that fail or need 3-D Secure. stripe-mock
// answers every call with success, so stripeFront plays Stripe for these.
const (
	pmDeclined     = "pm_card_visa_chargeDeclinedInsufficientFunds"
	pmThreeDS      = "pm_card_authenticationRequired"
	declineMessage = "Your card has insufficient funds. (acct_1INTERNAL)"
	declineSecret  = "pi_3DECLINED_secret_LEAK"
	// threeDSSecret ends the client secret of a 3-D Secure answer; the leak
	// scan looks for it, so it is long enough not to turn up by chance (in
	// a random error ID, say).
	threeDSSecret = "_secret_threeDSecureClientSecret"
)

// stripeFront passes every call to stripe-mock's recording proxy but the
// confirmations with pmDeclined and pmThreeDS, which it answers as Stripe
// does.
func stripeFront(t *testing.T, sm *testenv.StripeMock) string {
	target, err := url.Parse(sm.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		if !strings.HasSuffix(r.URL.Path, "/confirm") {
			proxy.ServeHTTP(w, r)
			return
		}
		id := strings.Split(r.URL.Path, "/")[3]
		w.Header().Set("Request-Id", "req_front")
		switch form.Get("payment_method") {
		case pmDeclined:
			w.WriteHeader(http.StatusPaymentRequired)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
				"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds", "message": declineMessage,
				"payment_intent": map[string]any{"id": id, "client_secret": declineSecret, "status": "requires_payment_method"},
			}})
		case pmThreeDS:
			_ = json.NewEncoder(w).Encode(map[string]any{
				"id": id, "object": "payment_intent", "status": "requires_action", "amount": 20300, "currency": "usd",
				"client_secret": id + threeDSSecret, "next_action": map[string]any{"type": "use_stripe_sdk", "use_stripe_sdk": map[string]any{}},
			})
		default:
			proxy.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// paymentsEnv is one paygate with the payment API, on a private Redis
// (whose records the tests read) and stripe-mock.
type paymentsEnv struct {
	t     *testing.T
	pg    *testenv.Paygate
	sm    *testenv.StripeMock
	rs    *testenv.RedisServer
	rdb   *redis.Client
	auth  paymentsAuth
	calls int // Stripe calls already looked at
}

func startPayments(t *testing.T) *paymentsEnv {
	t.Helper()
	return startPaymentsLogging(t, "", "", nil)
}

// startPaymentsLogging is startPayments with extra global options and a
// site log block, for the leak scans; wrap, when set, is given stripeFront's
// URL and returns the one paygate calls instead (a recorder in front).
func startPaymentsLogging(t *testing.T, global, siteLog string, wrap func(front string) string) *paymentsEnv {
	t.Helper()
	sm := testenv.StartStripeMock(t)
	rs := testenv.Redis(t)
	catalog, err := filepath.Abs("../testdata/catalog/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	auth := newPaymentsAuth(t, "alice", "bob")
	stripe := stripeFront(t, sm)
	if wrap != nil {
		stripe = wrap(stripe)
	}
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		StripeMock: sm,
		Global:     "paygate {\n\t\tstore redis {{.Data.redis}}\n\t}\n\t" + global,
		Site:       paymentsSite,
		Data: map[string]any{"auth": auth.directive(t), "stripe": stripe, "catalog": catalog,
			"redis": rs.URL(), "log": siteLog, "policies": opaPolicies(t)},
		Env: paymentsSiteEnv(),
	})
	return &paymentsEnv{t: t, pg: pg, sm: sm, rs: rs, rdb: rs.Client(t), auth: auth}
}

// do sends a request as user ("" for none) with a JSON body.
func (e *paymentsEnv) do(method, path, user, body string, header http.Header) (*http.Response, []byte) {
	e.t.Helper()
	h := http.Header{}
	if user != "" {
		h = e.auth.credentials(user)
	}
	if body != "" {
		h.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		h[k] = v
	}
	return send(e.t, e.pg.Client(), method, e.pg.HTTPSURL+path, body, h)
}

// stripeCalls returns the calls that reached stripe-mock since the last look.
func (e *paymentsEnv) stripeCalls() []testenv.StripeCall {
	calls := e.sm.Calls()
	out := calls[e.calls:]
	e.calls = len(calls)
	return out
}

// redisValue reads a store record's raw value ("" when absent). Store keys
// are the default prefix "paygate:" and the key with its hash tag.
func (e *paymentsEnv) redisValue(key string) string {
	e.t.Helper()
	v, err := e.rdb.Get(context.Background(), "paygate:"+key).Result()
	if err == redis.Nil {
		return ""
	}
	if err != nil {
		e.t.Fatalf("GET %s: %v", key, err)
	}
	return v
}

// wantPaymentStatus requires resp's status, showing the body otherwise.
func wantPaymentStatus(t *testing.T, resp *http.Response, body []byte, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, status, body)
	}
}

// paymentJSON decodes a JSON object body.
func paymentJSON(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return m
}

// memberNames are an object's member names, sorted.
func memberNames(m map[string]any) []string {
	return slices.Sorted(maps.Keys(m))
}

// idempotencyKeyAtStripe is the key paygate sends Stripe for a client's key:
// scoped by user and action, "paygate-" and the hex SHA-256 of
// user NUL action NUL key.
func idempotencyKeyAtStripe(user, action, key string) string {
	sum := sha256.Sum256([]byte(user + "\x00" + action + "\x00" + key))
	return "paygate-" + hex.EncodeToString(sum[:])
}

const paymentOrder = `{"items":[{"sku":"standard_clean","quantity":2},{"sku":"oven_addon","quantity":1}],"currency":"usd","reference":"booking-42"}`

func TestPaymentAPIEndToEnd(t *testing.T) {
	e := startPayments(t)
	var intent string

	t.Run("create", func(t *testing.T) {
		resp, body := e.do("POST", "/v1/payment_intents", "alice", paymentOrder, http.Header{"Idempotency-Key": {"order-1"}})
		wantPaymentStatus(t, resp, body, http.StatusCreated)
		checkHeaders(t, resp, apiHeaders)
		pi := paymentJSON(t, body)
		if got := memberNames(pi); !slices.Equal(got, []string{"amount", "client_secret", "currency", "id", "status"}) {
			t.Errorf("members %q", got)
		}
		if pi["amount"] != float64(2*8900+2500) || pi["currency"] != "usd" {
			t.Errorf("intent = %v, want 20300 usd from the catalog", pi)
		}
		intent = pi["id"].(string)
		var create *testenv.StripeCall
		for _, c := range e.stripeCalls() {
			if c.Method == "POST" && c.Path == "/v1/payment_intents" {
				create = &c
			}
		}
		if create == nil {
			t.Fatal("no payment intent was created at Stripe")
		}
		f := create.Form
		if f.Get("amount") != "20300" || f.Get("currency") != "usd" || f.Get("metadata[paygate_user]") != "alice" || f.Get("customer") == "" {
			t.Errorf("Stripe got %v", f)
		}
		if got, want := create.IdempotencyKey, idempotencyKeyAtStripe("alice", "payment_intent.create", "order-1"); got != want {
			t.Errorf("Idempotency-Key at Stripe = %q, want %q", got, want)
		}
		if got := create.Header.Get("Authorization"); got != "Bearer "+e2eStripeKey {
			t.Errorf("Stripe saw Authorization %q", got)
		}
		if got := e.redisValue("{" + intent + "}:owner"); got != "alice" {
			t.Errorf("ownership record of %s = %q, want alice", intent, got)
		}
		if got := e.redisValue("{alice}:customer"); got != f.Get("customer") {
			t.Errorf("customer mapping = %q, Stripe got customer %q", got, f.Get("customer"))
		}
	})

	// Bodies refused before anything reaches Stripe, each with its code and
	// a message naming what is wrong:
	//   - a client-sent amount (only the catalog sets amounts);
	//   - an order mixing the catalog's usd and eur prices, or expecting
	//     another currency than its items' (adding up cents and euro cents
	//     would charge a total no price set);
	//   - a member given twice, which is not read as the first or the last
	//     copy (a parser in front of paygate may have read the other one).
	for i, tt := range []struct{ name, body, code, message string }{
		{"client-sent amount", strings.Replace(paymentOrder, `"currency"`, `"amount":1,"currency"`, 1), "parameter_unknown", "amount"},
		{"mixed currencies", strings.Replace(paymentOrder, `"oven_addon"`, `"standard_clean_eur"`, 1), "parameter_invalid", "one currency"},
		{"other currency", strings.Replace(paymentOrder, `"currency":"usd"`, `"currency":"eur"`, 1), "parameter_invalid", "does not match"},
		{"items twice", strings.Replace(paymentOrder, "{", `{"items":[{"sku":"oven_addon","quantity":1}],`, 1), "parameter_duplicate", "items"},
		{"quantity twice", strings.Replace(paymentOrder, `"quantity":2`, `"quantity":2,"quantity":1`, 1), "parameter_duplicate", "quantity"},
	} {
		t.Run("refused: "+tt.name, func(t *testing.T) {
			resp, b := e.do("POST", "/v1/payment_intents", "alice", tt.body, http.Header{"Idempotency-Key": {fmt.Sprintf("order-refused-%d", i)}})
			wantPaymentStatus(t, resp, b, http.StatusBadRequest)
			if apiErr := decodeAPIError(t, resp, b, tt.code); !strings.Contains(apiErr.Error.Message, tt.message) {
				t.Errorf("message %q, want one that names %q", apiErr.Error.Message, tt.message)
			}
			if calls := e.stripeCalls(); len(calls) != 0 {
				t.Errorf("a refused request made %d Stripe calls", len(calls))
			}
		})
	}

	t.Run("Idempotency-Key required", func(t *testing.T) {
		resp, b := e.do("POST", "/v1/payment_intents", "alice", paymentOrder, nil)
		wantPaymentStatus(t, resp, b, http.StatusBadRequest)
		decodeAPIError(t, resp, b, "idempotency_key_missing")
	})

	t.Run("unauthenticated", func(t *testing.T) {
		resp, b := e.do("POST", "/v1/payment_intents", "", paymentOrder, http.Header{"Idempotency-Key": {"order-3"}})
		wantPaymentStatus(t, resp, b, http.StatusUnauthorized)
		decodeAPIError(t, resp, b, "unauthorized")
		if calls := e.stripeCalls(); len(calls) != 0 {
			t.Errorf("an unauthenticated request made %d Stripe calls", len(calls))
		}
	})

	t.Run("read own, not another's", func(t *testing.T) {
		resp, b := e.do("GET", "/v1/payment_intents/"+intent, "alice", "", nil)
		wantPaymentStatus(t, resp, b, http.StatusOK)
		if got := memberNames(paymentJSON(t, b)); slices.Contains(got, "client_secret") {
			t.Errorf("GET shows the client secret: %q", got)
		}
		other, ob := e.do("GET", "/v1/payment_intents/"+intent, "bob", "", nil)
		wantPaymentStatus(t, other, ob, http.StatusNotFound)
		otherErr := decodeAPIError(t, other, ob, "resource_missing")
		unknown, ub := e.do("GET", "/v1/payment_intents/pi_doesnotexist", "bob", "", nil)
		wantPaymentStatus(t, unknown, ub, http.StatusNotFound)
		unknownErr := decodeAPIError(t, unknown, ub, "resource_missing")
		otherErr.Error.RequestID, unknownErr.Error.RequestID = "", ""
		if otherErr != unknownErr {
			t.Errorf("another's intent %+v and an unknown one %+v are distinguishable", otherErr, unknownErr)
		}
		// Besides, the unknown ID is looked up once (a store that lost
		// its data heals: store_loss_test.go).
		if n := len(withoutOwnerLookups(e.stripeCalls())); n != 1 {
			t.Errorf("%d Stripe calls, want only alice's read", n)
		}
	})

	t.Run("confirm", func(t *testing.T) {
		resp, b := e.do("POST", "/v1/payment_intents/"+intent+"/confirm", "alice", `{"payment_method":"pm_card_visa"}`, nil)
		wantPaymentStatus(t, resp, b, http.StatusOK)
		if pi := paymentJSON(t, b); pi["client_secret"] == nil || pi["id"] != intent {
			t.Errorf("confirm response %v", pi)
		}
		calls := e.stripeCalls()
		if len(calls) != 1 || calls[0].Form.Get("payment_method") != "pm_card_visa" || calls[0].Form.Get("use_stripe_sdk") != "true" {
			t.Errorf("Stripe calls %+v", calls)
		}
	})

	t.Run("3-D Secure", func(t *testing.T) {
		resp, b := e.do("POST", "/v1/payment_intents/"+intent+"/confirm", "alice", `{"payment_method":"`+pmThreeDS+`"}`, nil)
		wantPaymentStatus(t, resp, b, http.StatusOK)
		pi := paymentJSON(t, b)
		next, _ := pi["next_action"].(map[string]any)
		if pi["status"] != "requires_action" || next["type"] != "use_stripe_sdk" || pi["client_secret"] != intent+threeDSSecret {
			t.Errorf("3-D Secure response %s", b)
		}
	})

	t.Run("card declined", func(t *testing.T) {
		resp, b := e.do("POST", "/v1/payment_intents/"+intent+"/confirm", "alice", `{"payment_method":"`+pmDeclined+`"}`, nil)
		wantPaymentStatus(t, resp, b, http.StatusPaymentRequired)
		decodeAPIError(t, resp, b, "card_declined")
		var decline struct {
			Error struct {
				DeclineCode string `json:"decline_code"`
			} `json:"error"`
		}
		if err := json.Unmarshal(b, &decline); err != nil || decline.Error.DeclineCode != "insufficient_funds" {
			t.Errorf("decline_code in %s", b)
		}
		for _, leak := range []string{declineMessage, "acct_1INTERNAL", declineSecret} {
			if strings.Contains(string(b), leak) {
				t.Errorf("the client got Stripe's %q", leak)
			}
		}
	})

	t.Run("cancel", func(t *testing.T) {
		resp, b := e.do("POST", "/v1/payment_intents/"+intent+"/cancel", "alice", "", nil)
		wantPaymentStatus(t, resp, b, http.StatusOK)
		if got := memberNames(paymentJSON(t, b)); slices.Contains(got, "client_secret") {
			t.Errorf("cancel shows the client secret: %q", got)
		}
		if calls := e.stripeCalls(); len(calls) != 1 || calls[0].Path != "/v1/payment_intents/"+intent+"/cancel" {
			t.Errorf("Stripe calls %+v", calls)
		}
	})

	t.Run("setup intent", func(t *testing.T) {
		resp, b := e.do("POST", "/v1/setup_intents", "alice", "", nil)
		wantPaymentStatus(t, resp, b, http.StatusCreated)
		si := paymentJSON(t, b)
		if got := memberNames(si); !slices.Equal(got, []string{"client_secret", "id", "status"}) {
			t.Errorf("members %q", got)
		}
		if got := e.redisValue("{" + si["id"].(string) + "}:owner"); got != "alice" {
			t.Errorf("ownership record of the setup intent = %q", got)
		}
	})

	t.Run("saved cards", func(t *testing.T) {
		resp, b := e.do("GET", "/v1/payment_methods", "alice", "", nil)
		wantPaymentStatus(t, resp, b, http.StatusOK)
		var list struct{ Data []map[string]any }
		if err := json.Unmarshal(b, &list); err != nil || len(list.Data) == 0 {
			t.Fatalf("list %s (%v)", b, err)
		}
		for _, pm := range list.Data {
			if got := memberNames(pm); !slices.Equal(got, []string{"brand", "exp_month", "exp_year", "id", "last4"}) {
				t.Errorf("card members %q", got)
			}
		}
		pm := list.Data[0]["id"].(string)
		resp, b = e.do("DELETE", "/v1/payment_methods/"+pm, "bob", "", nil)
		wantPaymentStatus(t, resp, b, http.StatusNotFound)
		resp, b = e.do("DELETE", "/v1/payment_methods/"+pm, "alice", "", nil)
		wantPaymentStatus(t, resp, b, http.StatusNoContent)
		resp, b = e.do("DELETE", "/v1/payment_methods/"+pm, "alice", "", nil)
		wantPaymentStatus(t, resp, b, http.StatusNotFound)
	})

	t.Run("events", func(t *testing.T) {
		event := func(id, typ string, created int64, object string) []byte {
			return stripeEventBody(t, id, typ, map[string]any{"id": object, "object": "payment_intent"},
				func(ev map[string]any) { ev["created"] = created })
		}
		for _, ev := range [][]byte{
			event("evt_1", "payment_intent.succeeded", 2000, intent),
			event("evt_2", "payment_intent.processing", 1000, intent), // late and older
			event("evt_3", "payment_intent.succeeded", 2000, "pi_notours"),
		} {
			resp, b := postEvent(t, e.pg, ev, stripeSignature(ev, time.Now(), webhookSecret), nil)
			wantPaymentStatus(t, resp, b, http.StatusOK)
			if got := strings.TrimSpace(string(b)); got != `{"received":true}` {
				t.Errorf("body %s", got)
			}
		}
		// The status record is a ranked record: a list of rank and value.
		rec, err := e.rdb.LRange(context.Background(), "paygate:{"+intent+"}:status", 0, -1).Result()
		if err != nil || len(rec) != 2 || !strings.Contains(rec[1], `"status":"succeeded"`) {
			t.Errorf("status record = %q, %v; want succeeded", rec, err)
		}
		if n, _ := e.rdb.Exists(context.Background(), "paygate:{pi_notours}:status").Result(); n != 0 {
			t.Error("an event about someone else's intent was recorded")
		}
	})

	t.Run("right to deletion", func(t *testing.T) {
		e.stripeCalls()
		resp, b := e.do("DELETE", "/v1/customers/me", "alice", "", nil)
		wantPaymentStatus(t, resp, b, http.StatusNoContent)
		var deleted bool
		for _, c := range e.stripeCalls() {
			deleted = deleted || (c.Method == "DELETE" && strings.HasPrefix(c.Path, "/v1/customers/cus_"))
		}
		if !deleted {
			t.Error("the Stripe customer was not deleted")
		}
		if got := e.redisValue("{alice}:customer"); got != "" {
			t.Errorf("customer mapping after deletion = %q", got)
		}
		resp, b = e.do("DELETE", "/v1/customers/me", "alice", "", nil)
		wantPaymentStatus(t, resp, b, http.StatusNoContent)
		// The mapping is gone: the customer is searched for on Stripe (a
		// store that lost it must still let the user be erased), found
		// deleted or not at all, and nothing else is called.
		for _, c := range e.stripeCalls() {
			if c.Method != http.MethodGet || c.Path != "/v1/customers/search" {
				t.Errorf("a repeated deletion called Stripe: %s %s", c.Method, c.Path)
			}
		}
	})

	t.Run("audit, logs and metrics", func(t *testing.T) {
		for _, want := range []map[string]string{
			{"logger": "paygate.audit", "action": "payment_intent.create", "outcome": "succeeded", "actor": "alice"},
			{"logger": "paygate.audit", "action": "payment_intent.confirm", "outcome": "failed", "actor": "alice"},
			{"logger": "paygate.audit", "action": "customer.erase", "outcome": "succeeded", "actor": "alice"},
			{"logger": "paygate.audit", "action": "webhook.payment_intent.succeeded"},
			{"stripe_request_id": "req_123"},
		} {
			e.pg.WaitForLog(t, fmt.Sprint(want), testenv.LogFields(want))
		}
		for _, series := range []string{
			`paygate_payments_total{action="payment_intent.create",outcome="succeeded"}`,
			`paygate_payments_total{action="payment_intent.confirm",outcome="declined"}`,
			`paygate_payment_failures_total{code="card_declined"}`,
			`paygate_payments_total{action="webhook.payment_intent.succeeded",outcome="ignored"}`,
		} {
			e.pg.WaitForMetric(t, series, testenv.MetricIs(1))
		}
		// What must not be there is looked for in the complete log.
		e.pg.Stop()
		logs := string(e.pg.Logs(t))
		for _, secret := range []string{e2eStripeKey, "_secret_", declineMessage, e.auth.tokens["alice"]} {
			if strings.Contains(logs, secret) {
				t.Errorf("the log holds %q", secret)
			}
		}
	})
}

// TestPaymentsLiveKeyRefused: a live key is refused at start-up on a site
// without TLS and with an http api_base.
func TestPaymentsLiveKeyRefused(t *testing.T) {
	catalog, err := filepath.Abs("../testdata/catalog/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, site, want string
	}{
		{"plain HTTP site", "http://localhost:18080 {\n\tpayments {\n\t\tstripe_key {env.STRIPE_SECRET_KEY}\n\t\tcatalog " + catalog + "\n\t}\n}\n",
			"server without TLS"},
		{"http api_base", "https://localhost:18443 {\n\tpayments {\n\t\tstripe_key {env.STRIPE_SECRET_KEY}\n\t\tapi_base http://127.0.0.1:12111\n\t\tcatalog " + catalog + "\n\t}\n}\n",
			"only sent to an https api_base"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			config := filepath.Join(dir, "Caddyfile")
			if err := os.WriteFile(config, []byte("{\n\tskip_install_trust\n}\n\n"+tt.site), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(testenv.Binary(t), "validate", "--config", config, "--adapter", "caddyfile")
			cmd.Env = []string{"HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "STRIPE_SECRET_KEY=sk_live_e2eLive123"}
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), tt.want) {
				t.Fatalf("validate: %v, output:\n%s\nwant a refusal with %q", err, out, tt.want)
			}
			if strings.Contains(string(out), "sk_live_e2eLive123") {
				t.Error("the refusal shows the key")
			}
		})
		// The same site with a test key is valid.
		t.Run(tt.name+" with a test key", func(t *testing.T) {
			dir := t.TempDir()
			config := filepath.Join(dir, "Caddyfile")
			if err := os.WriteFile(config, []byte("{\n\tskip_install_trust\n}\n\n"+tt.site), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(testenv.Binary(t), "validate", "--config", config, "--adapter", "caddyfile")
			cmd.Env = []string{"HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "STRIPE_SECRET_KEY=" + e2eStripeKey}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("validate: %v, output:\n%s", err, out)
			}
		})
	}
}
