package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/testenv"
)

// This file proves, through the binary, the items of issue #9 about card
// data and secrets in the logs (1-5), the JOSE b64 header (13), the store
// key's injectivity (14) and Retry-After on a store outage (19).

// hlSite is the shipped pipeline on an application (reverse_proxy to
// the upstream recorder) for /v1, and the shipped catch-all, which has no
// card-data guard, for /open. {{.Data.log}} is an optional site log block.
// GENERATION is replaced by hlSiteText, so that a reload can change
// the configuration without changing what it does.
const hlSite = `
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	{{.Data.log}}
	vars paygate_e2e_generation GENERATION
	route /v1/* {
		security_headers api
		tls_enforce
		request_guard
		request_body {
			max_size 64KB
		}
		card_data_guard {
			skip_cookie __Host-session
		}
		api_methods
		{{.Data.auth}}
		opa_authz {
			policy_dir {{.Data.policies}}
			claims role
		}
		api_response
		reverse_proxy {{.Upstream}}
	}
	route /open/* {
		security_headers stripe
		request_guard page
		reverse_proxy {{.Upstream}}
	}
	handle_errors {
		paygate_error
	}
}
`

// hlSiteText is hlSite in its generation gen.
func hlSiteText(gen int) string {
	return strings.ReplaceAll(hlSite, "GENERATION", strconv.Itoa(gen))
}

// hlDebugLog is the site's access log at DEBUG through the redacting
// encoder; with leakGlobal (format redact) every logger is at DEBUG and
// Caddy's own credential masking is off, so the redaction is paygate's alone.
const hlDebugLog = "log {\n\t\tformat redact\n\t\tlevel DEBUG\n\t}"

// hlStartLogging starts paygate on hlSite, logging as much as
// it can for a leak scan.
func hlStartLogging(t *testing.T, up *testenv.Upstream) *testenv.Paygate {
	t.Helper()
	return testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream: up,
		Global:   leakGlobal,
		Site:     hlSiteText(1),
		Data: map[string]any{"format": "redact", "log": hlDebugLog,
			"auth": opaAuth(t), "policies": opaPolicies(t)},
	})
}

// hlBearer is the Authorization header of a development token for sub.
func hlBearer(t *testing.T, sub string) http.Header {
	t.Helper()
	return http.Header{"Authorization": {"Bearer " + testenv.DevToken(t, sub, nil)}}
}

// hlWithHeader returns h (which may be nil) with name set to values.
func hlWithHeader(h http.Header, name string, values ...string) http.Header {
	out := h.Clone()
	if out == nil {
		out = http.Header{}
	}
	out[name] = values
	return out
}

// hlWantCardRefused checks a card_data_not_accepted refusal in paygate's shape.
func hlWantCardRefused(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status = %d, want 400 (body %s)", resp.StatusCode, body)
	}
	checkHeaders(t, resp, apiHeaders)
	decodeAPIError(t, resp, body, "card_data_not_accepted")
}

// TestHardeningCardNumbersInAnyGroupingRefused proves issue #9 item 2 (and
// the escaped spellings of "Tests the suite lacks"): card numbers in the
// groupings and with the prefixes the old scanner missed are refused with
// 400 card_data_not_accepted in every channel (query, header value, header
// name, JSON string, path, cookie), none reaches the upstream, and no log
// line (every logger at DEBUG, log_credentials on, format redact) holds one
// in clear. Without the new definition the Diners, "+", "v2 ", "ord-" and
// "abc" spellings get 200 from the upstream, and the logs hold them.
func TestHardeningCardNumbersInAnyGroupingRefused(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := hlStartLogging(t, up)
	c := pg.Client()
	alice := hlBearer(t, "alice")

	// Positive control: a reference that is no card number passes every
	// channel, so the refusals below are the guard's, not the pipeline's.
	ctl := hlWithHeader(hlWithHeader(alice, "X-Reference", "ord-2024-000123"), "Cookie", "ref=ord-2024-000123")
	resp, body := send(t, c, "GET", pg.HTTPSURL+"/v1/payment_methods?reference=ord-2024-000123", "", ctl)
	if resp.StatusCode != http.StatusOK || up.Count() != 1 {
		t.Fatalf("control: status %d, upstream %d, want 200 from the upstream (body %s)", resp.StatusCode, up.Count(), body)
	}

	spellings := []struct{ name, text string }{
		{"Diners grouped 4-4-4-2", "3622 7206 2716 67"},
		{"leading plus", "+4242424242424242"},
		{"after a version word", "v2 4242424242424242"},
		{"after a prefix and a dash", "ord-4242424242424242"},
		{"glued to letters before", "abc4242424242424242"},
	}
	for _, s := range spellings {
		for _, ch := range []struct {
			name, method, path, body string
			header                   http.Header
		}{
			{"query", "GET", "/v1/payment_methods?reference=" + url.QueryEscape(s.text), "", nil},
			{"header value", "GET", "/v1/payment_methods", "", http.Header{"X-Reference": {s.text}}},
			{"JSON string", "POST", "/v1/payment_intents", `{"reference":` + hlJSONString(t, s.text) + `}`, http.Header{"Content-Type": {"application/json"}}},
			{"path", "GET", "/v1/payment_intents/" + url.PathEscape(s.text), "", nil},
			{"cookie", "GET", "/v1/payment_methods", "", http.Header{"Cookie": {"ref=" + s.text}}},
		} {
			t.Run(s.name+" in "+ch.name, func(t *testing.T) {
				h := alice.Clone()
				for k, v := range ch.header {
					h[k] = v
				}
				resp, body := send(t, c, ch.method, pg.HTTPSURL+ch.path, ch.body, h)
				hlWantCardRefused(t, resp, body)
			})
		}
	}
	for _, tt := range []struct {
		name, method, path, body string
		header                   http.Header
	}{
		{"plus unescaped in the query", "GET", "/v1/payment_methods?reference=+4242424242424242", "", nil},
		{"a header name", "GET", "/v1/payment_methods", "", http.Header{"4242424242424242": {"1"}}},
		{"JSON \\u escape", "POST", "/v1/payment_intents", `{"reference":"\u0034242424242424242"}`, http.Header{"Content-Type": {"application/json"}}},
		{"JSON \\n escape", "POST", "/v1/payment_intents", `{"reference":"\n4242424242424242"}`, http.Header{"Content-Type": {"application/json"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := alice.Clone()
			for k, v := range tt.header {
				h[k] = v
			}
			resp, body := send(t, c, tt.method, pg.HTTPSURL+tt.path, tt.body, h)
			hlWantCardRefused(t, resp, body)
		})
	}
	if n := up.Count(); n != 1 {
		t.Errorf("%d requests reached the upstream, want only the control", n-1)
	}

	diners := plantCard("Diners card", "36227206271667")
	diners.forms = dedupe(append(diners.forms, "3622 7206 2716 67", "3622%207206%202716%2067", "3622+7206+2716+67", "3622-7206-2716-67"))
	visa := plantCard("Visa card", "4242424242424242")
	visa.forms = append(visa.forms, "242424242424242") // what an escape before it might leave
	requireNoLeaks(t, pg, []plant{diners, visa})
}

// hlJSONString is s as a JSON string literal.
func hlJSONString(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHardeningCardInCookieRefused proves issue #9 item 5: a card number in
// a cookie is refused like in every other channel (before the fix it was
// only masked, and the request reached the upstream), while the value of a
// skip_cookie cookie is not scanned.
func TestHardeningCardInCookieRefused(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := hlStartLogging(t, up)
	c := pg.Client()
	alice := hlBearer(t, "alice")

	resp, body := send(t, c, "GET", pg.HTTPSURL+"/v1/payment_methods", "", hlWithHeader(alice, "Cookie", "pan=4242 4242 4242 4242"))
	hlWantCardRefused(t, resp, body)
	if n := up.Count(); n != 0 {
		t.Fatalf("the refused request reached the upstream (%d requests)", n)
	}

	resp, body = send(t, c, "GET", pg.HTTPSURL+"/v1/payment_methods", "", hlWithHeader(alice, "Cookie", "theme=dark; __Host-session=4242424242424242"))
	if resp.StatusCode != http.StatusOK || up.Count() != 1 {
		t.Fatalf("skip_cookie value: status %d, upstream %d, want 200 from the upstream (body %s)", resp.StatusCode, up.Count(), body)
	}
	requireNoLeaks(t, pg, []plant{plantCard("card in a cookie", "4242424242424242")})
}

// TestHardeningCVCsNotLogged proves issue #9 item 3: card verification codes
// under the names the old redactor did not know (security_code, card_code,
// cid, card_verification), in queries, a header and a JSON body, reach the
// application (they are not card numbers) but no log line holds them: every
// logger at DEBUG, log_credentials on, format redact, scanned after Stop.
// Before the fix "?security_code=7491" was in the access log in clear.
func TestHardeningCVCsNotLogged(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := hlStartLogging(t, up)
	c := pg.Client()
	alice := hlBearer(t, "alice")
	requests := []struct {
		method, target, body string
		header               http.Header
	}{
		{"GET", "/v1/payment_methods?security_code=7491", "", nil},
		{"GET", "/v1/payment_methods?Security-Code=7491", "", nil},
		{"GET", "/v1/payment_methods?card_code=123", "", nil},
		{"GET", "/v1/payment_methods?CARD-CODE=123", "", nil},
		{"GET", "/v1/payment_methods?cid=9876", "", nil},
		{"GET", "/v1/payment_methods", "", http.Header{"X-Card-Verification": {"4321"}}},
		{"POST", "/v1/setup_intents", `{"security_code":"7491"}`, http.Header{"Content-Type": {"application/json"}}},
	}
	for _, r := range requests {
		h := alice.Clone()
		for k, v := range r.header {
			h[k] = v
		}
		resp, body := send(t, c, r.method, pg.HTTPSURL+r.target, r.body, h)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s %s: status %d, want 200 (body %s)", r.method, r.target, resp.StatusCode, body)
		}
	}
	if n := up.Count(); n != len(requests) {
		t.Errorf("the upstream got %d requests, want %d", n, len(requests))
	}
	requireNoLeaks(t, pg, []plant{
		plantNamed("CVC 7491", "7491", "security_code", "Security-Code", "security-code"),
		plantNamed("CVC 123", "123", "card_code", "CARD-CODE", "card-code"),
		plantNamed("CVC 9876", "9876", "cid"),
		plantNamed("CVC 4321", "4321", "X-Card-Verification", "x-card-verification"),
	})
	// The scan was not vacuous: the access log has every request, with the
	// names of the masked values.
	logs := string(pg.Logs(t))
	for _, want := range []string{"security_code=", "Security-Code=", "card_code=", "CARD-CODE=", "cid=", `"X-Card-Verification":`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the logs lack %s: the request was not logged", want)
		}
	}
}

// TestHardeningRedactorMasksNames proves issue #9 item 4: a token whose
// header segment is "eyAi…" (the verifier accepts it, the old redactor only
// knew "eyJ…") is masked both as a Bearer credential (log_credentials on)
// and as a custom header's value, and a header whose name is a card number
// (on the catch-all route, which has no card-data guard) is logged with its
// name masked as [card_ending_4242]. Before the fix the token was logged
// in X-Debug and the header name in clear.
func TestHardeningRedactorMasksNames(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := hlStartLogging(t, up)
	c := pg.Client()

	claims, err := json.Marshal(testenv.DevClaims("alice"))
	if err != nil {
		t.Fatal(err)
	}
	header := fmt.Sprintf(`{ "alg":"EdDSA","typ":"at+jwt","kid":%q}`, testenv.DevKey(t).KeyID())
	token := testenv.SignJWT(t, "EdDSA", testenv.DevKey(t), header, string(claims))
	if !strings.HasPrefix(token, "eyAi") {
		t.Fatalf("token %s does not start with eyAi", token)
	}
	resp, body := send(t, c, "GET", pg.HTTPSURL+"/v1/payment_methods", "", http.Header{
		"Authorization": {"Bearer " + token},
		"X-Debug":       {token},
	})
	if resp.StatusCode != http.StatusOK || up.Count() != 1 {
		t.Fatalf("eyAi token: status %d, upstream %d, want 200 from the upstream (body %s)", resp.StatusCode, up.Count(), body)
	}

	resp, body = send(t, c, "GET", pg.HTTPSURL+"/open/card-header", "", http.Header{"4242424242424242": {"1"}})
	if resp.StatusCode != http.StatusOK || up.Count() != 2 {
		t.Fatalf("card-number header name: status %d, upstream %d, want 200 from the upstream (body %s)", resp.StatusCode, up.Count(), body)
	}
	if got := up.Requests()[1].Header.Get("4242424242424242"); got != "1" {
		t.Fatalf("the upstream did not get the header named by a card number (%q)", got)
	}

	parts := strings.Split(token, ".")
	requireNoLeaks(t, pg, []plant{
		plantSecret("eyAi token", token, parts...),
		plantCard("card number as a header name", "4242424242424242"),
	})
	var logged bool
	for _, e := range pg.LogEntries(t) {
		req, _ := e.Fields["request"].(map[string]any)
		if req == nil || req["uri"] != "/open/card-header" {
			continue
		}
		headers, _ := req["headers"].(map[string]any)
		if _, ok := headers["[card_ending_4242]"]; ok {
			logged = true
		} else {
			t.Errorf("access log entry without the masked header name: %s", e.Line)
		}
	}
	if !logged {
		t.Error("no access log entry for /open/card-header with the header name [card_ending_4242]")
	}
}

// TestHardeningB64TokenRefused proves issue #9 item 13: a token whose
// protected header has "b64" (false without crit, as the issue found it
// accepted, or true), otherwise valid and signed with the development key,
// gets 401 with error="invalid_token" and reaches nothing; the same token
// without b64 passes.
func TestHardeningB64TokenRefused(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream: up,
		Site:     hlSiteText(1),
		Data:     map[string]any{"log": "", "auth": opaAuth(t), "policies": opaPolicies(t)},
	})
	c := pg.Client()
	mint := func(extra map[string]any) string {
		h := map[string]any{"typ": "at+jwt"}
		for k, v := range extra {
			h[k] = v
		}
		return testenv.MintJWT(t, testenv.JWT{Alg: "EdDSA", Key: testenv.DevKey(t), Header: h, Claims: testenv.DevClaims("alice")})
	}

	resp, body := send(t, c, "GET", pg.HTTPSURL+"/v1/payment_methods", "", http.Header{"Authorization": {"Bearer " + mint(nil)}})
	if resp.StatusCode != http.StatusOK || up.Count() != 1 {
		t.Fatalf("control without b64: status %d, upstream %d, want 200 from the upstream (body %s)", resp.StatusCode, up.Count(), body)
	}
	for name, b64 := range map[string]any{"b64 false": false, "b64 true": true} {
		t.Run(name, func(t *testing.T) {
			resp, body := send(t, c, "GET", pg.HTTPSURL+"/v1/payment_methods", "", http.Header{"Authorization": {"Bearer " + mint(map[string]any{"b64": b64})}})
			wantTokenRefused(t, resp, body)
		})
	}
	if n := up.Count(); n != 1 {
		t.Errorf("%d tokens with b64 reached the upstream", n-1)
	}
}

// TestHardeningStoreKeysInjective proves issue #9 item 14 through the
// payment pipeline: users "a{b" and "a%7Bb" each get a Stripe customer of
// their own (two customer creates at Stripe, each with its user), where the
// old escaping made their store keys equal and the second user found the
// first one's customer. A second request of the first user creates none,
// so the count is the mapping's doing.
func TestHardeningStoreKeysInjective(t *testing.T) {
	e := startPayments(t)
	users := []string{"a{b", "a%7Bb"}
	for _, u := range users {
		e.auth.tokens[u] = testenv.DevToken(t, u, nil)
	}
	customerCreates := func() []string {
		var who []string
		for _, c := range e.sm.Calls() {
			if c.Method == "POST" && c.Path == "/v1/customers" {
				who = append(who, c.Form.Get("metadata[paygate_user]"))
			}
		}
		return who
	}
	for _, u := range append(users, users[0]) {
		resp, body := e.do("POST", "/v1/setup_intents", u, "", nil)
		wantPaymentStatus(t, resp, body, http.StatusCreated)
	}
	if got := customerCreates(); len(got) != 2 || got[0] != users[0] || got[1] != users[1] {
		t.Errorf("customers created at Stripe for %q, want one for each of %q", got, users)
	}
}

// TestHardeningStoreOutageRetryAfter proves issue #9 item 19: with Redis
// stopped, an API request that needs the store (the policy stage's
// ownership look-up in front of an application, and the payment handler's
// customer look-up) gets 503 store_unavailable with a Retry-After of at
// least one second, and nothing goes further.
func TestHardeningStoreOutageRetryAfter(t *testing.T) {
	wantOutage := func(t *testing.T, resp *http.Response, body []byte) {
		t.Helper()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("status = %d, want 503 (body %s)", resp.StatusCode, body)
		}
		decodeAPIError(t, resp, body, "store_unavailable")
		checkHeaders(t, resp, apiHeaders)
		ra := resp.Header.Values("Retry-After")
		if len(ra) != 1 {
			t.Fatalf("Retry-After = %q, want one value", ra)
		}
		if n, err := strconv.Atoi(ra[0]); err != nil || n < 1 {
			t.Errorf("Retry-After = %q, want a number of seconds >= 1", ra[0])
		}
	}

	t.Run("policy stage", func(t *testing.T) {
		rs := testenv.Redis(t)
		up := testenv.StartUpstream(t, nil)
		pg := testenv.StartPaygate(t, testenv.PaygateOptions{
			Upstream: up,
			Global:   "paygate {\n\t\tstore redis {{.Data.redis}}\n\t}",
			Site:     hlSiteText(1),
			Data:     map[string]any{"log": "", "redis": rs.URL(), "auth": opaAuth(t), "policies": opaPolicies(t)},
		})
		alice := hlBearer(t, "alice")
		// Control: with Redis up, the look-up answers (alice owns nothing).
		resp, body := send(t, pg.Client(), "GET", pg.HTTPSURL+"/v1/payment_intents/pi_alice", "", alice)
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("with Redis up: status %d, want 404 (body %s)", resp.StatusCode, body)
		}
		rs.Stop()
		resp, body = send(t, pg.Client(), "GET", pg.HTTPSURL+"/v1/payment_intents/pi_alice", "", alice)
		wantOutage(t, resp, body)
		if n := up.Count(); n != 0 {
			t.Errorf("%d requests reached the upstream", n)
		}
	})

	t.Run("payment handler", func(t *testing.T) {
		sm := testenv.StartStripeMock(t)
		rs := testenv.Redis(t)
		catalog, err := filepath.Abs("../testdata/catalog/catalog.json")
		if err != nil {
			t.Fatal(err)
		}
		pg := testenv.StartPaygate(t, testenv.PaygateOptions{
			StripeMock: sm,
			Global:     "paygate {\n\t\tstore redis {{.Data.redis}}\n\t}",
			Site:       paymentsSite,
			Data: map[string]any{"auth": opaAuth(t), "stripe": sm.URL, "catalog": catalog,
				"redis": rs.URL(), "log": "", "policies": opaPolicies(t)},
			Env: paymentsSiteEnv(),
		})
		rs.Stop()
		resp, body := send(t, pg.Client(), "POST", pg.HTTPSURL+"/v1/setup_intents", "", hlBearer(t, "alice"))
		wantOutage(t, resp, body)
		if calls := sm.Calls(); len(calls) != 0 {
			t.Errorf("%d calls reached Stripe during the outage", len(calls))
		}
	})
}

// hlAuditGlobal is the README's audit-log recipe.
const hlAuditGlobal = `log audit {
		include paygate.audit
		output file {{.Data.auditFile}}
		format redact
	}`

// hlHeldRequest is a card-data refusal kept in flight: its headers and the
// start of its body are sent, and the card number that gets it refused is
// not, until finish.
type hlHeldRequest struct {
	conn *tls.Conn
	br   *bufio.Reader
	rest string
}

// hlHoldRefusal opens a connection of its own (HTTP/1.1, so that the bytes go
// out as written) and sends a JSON body up to the card number; the
// card-data guard, which scans the body as it arrives, waits for the rest.
// The request asks for 100-continue and the body goes out only once the
// server sent it, which Go's server does when the handler first reads the
// body: a held request is in a handler, not in a connection the server could
// still close as idle.
func hlHoldRefusal(t *testing.T, pg *testenv.Paygate) *hlHeldRequest {
	t.Helper()
	cfg := pg.TLSConfig()
	cfg.NextProtos = []string{"http/1.1"}
	conn, err := tls.Dial("tcp", pg.HTTPSAddr(), cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	head, rest := `{"reference":"`, `4242424242424242"}`
	req := fmt.Sprintf("POST /v1/payment_intents HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n", len(head)+len(rest))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatalf("write: %v", err)
	}
	br := bufio.NewReader(conn)
	if err := conn.SetReadDeadline(time.Now().Add(testenv.WaitTimeout)); err != nil {
		t.Fatal(err)
	}
	interim, err := http.ReadResponse(br, nil)
	if err != nil || interim.StatusCode != http.StatusContinue {
		t.Fatalf("held request: want 100 Continue first, got %v, %v", interim, err)
	}
	if err := conn.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatalf("write: %v", err)
	}
	return &hlHeldRequest{conn: conn, br: br, rest: rest}
}

// finish sends the rest of the body and returns the response, its body
// read.
func (h *hlHeldRequest) finish() (*http.Response, []byte, error) {
	if _, err := io.WriteString(h.conn, h.rest); err != nil {
		return nil, nil, err
	}
	resp, err := http.ReadResponse(h.br, nil)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// hlNthLog matches the n-th log entry with message msg.
func hlNthLog(n int, msg string) func(testenv.LogEntry) bool {
	seen := 0
	return func(e testenv.LogEntry) bool {
		if e.Str("msg") == msg {
			seen++
		}
		return seen == n
	}
}

// hlHoldRefusals starts n held refusals and returns them.
func hlHoldRefusals(t *testing.T, pg *testenv.Paygate, n int) []*hlHeldRequest {
	t.Helper()
	held := make([]*hlHeldRequest, n)
	for i := range held {
		held[i] = hlHoldRefusal(t, pg)
	}
	return held
}

// hlFinishAll finishes every held request concurrently, checks that each is
// a card-data refusal, and returns their request IDs.
func hlFinishAll(t *testing.T, held []*hlHeldRequest) []string {
	t.Helper()
	type result struct {
		resp *http.Response
		body []byte
		err  error
	}
	results := make([]result, len(held))
	var wg sync.WaitGroup
	for i, h := range held {
		wg.Go(func() {
			resp, body, err := h.finish()
			results[i] = result{resp, body, err}
		})
	}
	wg.Wait()
	ids := make([]string, len(held))
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("held request %d: %v", i, r.err)
		}
		if r.resp.StatusCode != http.StatusBadRequest {
			t.Errorf("held request %d: status %d, want 400 (body %s)", i, r.resp.StatusCode, r.body)
		}
		decodeAPIError(t, r.resp, r.body, "card_data_not_accepted")
		ids[i] = r.resp.Header.Get("X-Request-Id")
	}
	return ids
}

// TestHardeningAuditLogRecipe proves issue #9 item 1 with the README's
// recipe (a log that includes paygate.audit, written to a file) and the
// site's access log in another file: a card-data refusal, a token rejection
// and a policy denial each appear exactly once in the audit file, with the
// response's request ID and their action, and in neither the access log nor
// the default log; so do refusals that were in flight while the
// configuration was reloaded and while the process shut down gracefully.
// Before the fix the audit logger was caddy.Log(), which the log's include
// never reaches: the audit file stayed empty.
func TestHardeningAuditLogRecipe(t *testing.T) {
	dir := t.TempDir()
	auditFile, accessFile := filepath.Join(dir, "audit.log"), filepath.Join(dir, "access.log")
	up := testenv.StartUpstream(t, nil)
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream: up,
		Global:   hlAuditGlobal,
		Site:     hlSiteText(1),
		Data: map[string]any{
			"auditFile": strconv.Quote(auditFile),
			"log":       "log {\n\t\toutput file " + strconv.Quote(accessFile) + "\n\t\tformat redact\n\t}",
			"auth":      opaAuth(t), "policies": opaPolicies(t),
		},
	})
	c := pg.Client()
	want := map[string]string{} // request ID -> audited action

	// The audited actions, one of each stage.
	for _, a := range []struct {
		name, path, action, code string
		header                   http.Header
		status                   int
	}{
		{"card-data refusal", "/v1/payment_methods?reference=4242424242424242", "card_data_refused", "card_data_not_accepted", hlBearer(t, "alice"), http.StatusBadRequest},
		{"token rejection", "/v1/payment_methods", "token_rejected", "unauthorized",
			http.Header{"Authorization": {"Bearer " + testenv.DevToken(t, "alice", map[string]any{"aud": "someone-else"})}}, http.StatusUnauthorized},
		{"policy denial", "/v1/payment_intents/pi_foreign", "policy_denied", "resource_missing", hlBearer(t, "alice"), http.StatusNotFound},
	} {
		resp, body := send(t, c, "GET", pg.HTTPSURL+a.path, "", a.header)
		if resp.StatusCode != a.status {
			t.Fatalf("%s: status %d, want %d (body %s)", a.name, resp.StatusCode, a.status, body)
		}
		decodeAPIError(t, resp, body, a.code)
		want[resp.Header.Get("X-Request-Id")] = a.action
	}
	if n := up.Count(); n != 0 {
		t.Fatalf("%d audited refusals reached the upstream", n)
	}
	// The first event is in the file while the process runs.
	testenv.Eventually(t, "an audit event in "+auditFile, func() bool {
		b, _ := os.ReadFile(auditFile)
		return bytes.Contains(b, []byte(`"action":"card_data_refused"`))
	})

	// Refusals in flight during a configuration reload: the old
	// configuration's servers shut down (their log line is written) while
	// the requests wait for their card numbers; then they finish.
	const inFlight = 4
	held := hlHoldRefusals(t, pg, inFlight)
	pg.Reload(t, hlSiteText(2))
	pg.WaitForLog(t, "the old servers shutting down", hlNthLog(1, "servers shutting down with eternal grace period"))
	for _, id := range hlFinishAll(t, held) {
		want[id] = "card_data_refused"
	}
	// The new configuration audits too.
	resp, body := send(t, c, "GET", pg.HTTPSURL+"/v1/payment_intents/pi_foreign", "", hlBearer(t, "bob"))
	decodeAPIError(t, resp, body, "resource_missing")
	want[resp.Header.Get("X-Request-Id")] = "policy_denied"

	// Refusals in flight during a graceful shutdown.
	held = hlHoldRefusals(t, pg, inFlight)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		pg.Stop()
	}()
	pg.WaitForLog(t, "the servers shutting down at exit", hlNthLog(2, "servers shutting down with eternal grace period"))
	for _, id := range hlFinishAll(t, held) {
		want[id] = "card_data_refused"
	}
	<-stopped
	if len(want) != 3+2*inFlight+1 {
		t.Fatalf("%d distinct request IDs, want %d: %v", len(want), 3+2*inFlight+1, want)
	}

	// Each event exactly once in the audit file, and nothing else there.
	auditLog, err := os.ReadFile(auditFile)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range testenv.ParseLogEntries(auditLog) {
		if e.Str("logger") != "paygate.audit" {
			t.Errorf("audit file entry of logger %q: %s", e.Str("logger"), e.Line)
			continue
		}
		id := e.Str("request_id")
		seen[id]++
		if action, ok := want[id]; !ok {
			t.Errorf("audit event for an unknown request: %s", e.Line)
		} else if e.Str("action") != action || e.Str("outcome") != "denied" {
			t.Errorf("audit event %s, want action %s denied", e.Line, action)
		}
	}
	for id, action := range want {
		if seen[id] != 1 {
			t.Errorf("%s of request %s: %d times in the audit file, want once", action, id, seen[id])
		}
	}

	// Not in the access log nor in the default log (the process's output);
	// the access log has the requests themselves.
	accessLog, err := os.ReadFile(accessFile)
	if err != nil {
		t.Fatal(err)
	}
	for name, logs := range map[string][]byte{"access log": accessLog, "default log": pg.Logs(t)} {
		for _, e := range testenv.ParseLogEntries(logs) {
			if e.Str("logger") == "paygate.audit" || e.Fields["action"] != nil {
				t.Errorf("audit event in the %s: %s", name, e.Line)
			}
		}
	}
	handled := 0
	for _, e := range testenv.ParseLogEntries(accessLog) {
		if e.Str("msg") == "handled request" {
			handled++
		}
	}
	if handled < len(want) {
		t.Errorf("%d entries in the access log, want at least %d", handled, len(want))
	}
}
