package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/testenv"
)

// End-to-end tests of issue #9's request-integrity items (6-11, 18, 20):
// an outside client against the binary, with the shipped pipeline in front
// of an upstream recorder or stripe-mock.

// hardeningSite is the shipped Caddyfile's site: the payment API's pipeline
// (request_guard, api_response and the rest, in the shipped order) ending in
// {{.Data.terminal}}, and the shipped catch-all route, copied from the
// Caddyfile itself (shippedCatchAll). {{.Data.early}} goes where the
// shipped Caddyfiles put the per-IP rate-limit stage (after request_guard),
// {{.Data.extra}} between opa_authz and api_response.
const hardeningSite = `
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	route /v1/* {
		security_headers api
		tls_enforce
		request_guard
		{{.Data.early}}
		request_body {
			max_size 64KB
		}
		card_data_guard
		api_methods
		{{.Data.auth}}
		opa_authz {
			policy_dir {{.Data.policies}}
			claims role
		}
		{{.Data.extra}}
		api_response
		{{.Data.terminal}}
	}

	{{.Data.catchall}}

	handle_errors {
		paygate_error
	}
}
`

// hardeningGlobal is the shipped servers block's header limit: Go's
// backstop above request_guard's 16 KiB.
const hardeningGlobal = `servers {
		max_header_size 64KB
	}`

// hardeningConfig varies hardeningSite.
type hardeningConfig struct {
	upstream   *testenv.Upstream
	stripeMock *testenv.StripeMock
	terminal   string // default: reverse_proxy to upstream
	extra      string
	global     string // default: hardeningGlobal
}

// startHardening starts paygate with hardeningSite and hardeningGlobal.
func startHardening(t *testing.T, cfg hardeningConfig) *testenv.Paygate {
	t.Helper()
	if cfg.terminal == "" {
		cfg.terminal = "reverse_proxy " + cfg.upstream.URL
	}
	if cfg.global == "" {
		cfg.global = hardeningGlobal
	}
	return testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream:   cfg.upstream,
		StripeMock: cfg.stripeMock,
		Global:     cfg.global,
		Site:       hardeningSite,
		Data: map[string]any{
			"auth":     hardeningAuth(t),
			"policies": opaPolicies(t),
			"early":    "",
			"extra":    cfg.extra,
			"terminal": cfg.terminal,
			"catchall": shippedCatchAll(t),
		},
		Env: map[string]string{"STRIPE_SECRET_KEY": e2eStripeKey},
	})
}

// hardeningAuth is the shipped jwt_auth with two identity headers for the
// upstream: X-User-Id from sub and X-User-Email from email.
func hardeningAuth(t *testing.T) string {
	t.Helper()
	return opaAuth(t, "identity_header X-User-Id sub", "identity_header X-User-Email email")
}

// hardeningEmail is the email claim of hardeningToken's tokens.
const hardeningEmail = "alice@example.com"

// hardeningToken is a development token for alice, a customer, with an
// email claim or without one.
func hardeningToken(t *testing.T, withEmail bool) string {
	t.Helper()
	claims := map[string]any{"role": "customer"}
	if withEmail {
		claims["email"] = hardeningEmail
	}
	return testenv.DevToken(t, "alice", claims)
}

// shippedCatchAll is the catch-all route of the shipped Caddyfile (the
// route after the API's, with the "stripe" headers), as written there.
func shippedCatchAll(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "\troute {\n\t\tsecurity_headers stripe\n")
	if start < 0 {
		t.Fatal("the shipped Caddyfile has no catch-all route with security_headers stripe")
	}
	end := strings.Index(text[start:], "\n\t}\n")
	if end < 0 {
		t.Fatal("the shipped Caddyfile's catch-all route does not end")
	}
	return strings.TrimSpace(text[start : start+end+len("\n\t}")])
}

// h1Client is pg's client restricted to HTTP/1.1.
func h1Client(t *testing.T, pg *testenv.Paygate) *http.Client {
	c := pg.Client()
	tr := c.Transport.(*http.Transport).Clone()
	tr.ForceAttemptHTTP2 = false
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	t.Cleanup(tr.CloseIdleConnections)
	c.Transport = tr
	return c
}

// rawResponse is one response read off a raw connection, with its body.
type rawResponse struct {
	*http.Response
	body []byte
}

// rawReadTimeout bounds how long rawExchange waits for the server to close
// the connection: reached only when it keeps the connection open.
const rawReadTimeout = 10 * time.Second

// rawExchange writes wire, exactly, over a TLS connection of its own
// (HTTP/1.1 by ALPN) and reads until the server closes the connection or
// rawReadTimeout passes. It returns every response read, in order, and
// whether the server closed the connection.
func rawExchange(t *testing.T, pg *testenv.Paygate, wire string) (resps []rawResponse, closed bool) {
	t.Helper()
	cfg := pg.TLSConfig()
	cfg.NextProtos = []string{"http/1.1"}
	conn, err := tls.Dial("tcp", pg.HTTPSAddr(), cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, wire); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(rawReadTimeout)); err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(conn)
	var ne net.Error
	switch {
	case err == nil:
		closed = true
	case errors.As(err, &ne) && ne.Timeout():
		closed = false
	default:
		// A reset after the responses is a closed connection too.
		t.Logf("read: %v", err)
		closed = true
	}
	br := bufio.NewReader(bytes.NewReader(data))
	for {
		if _, err := br.Peek(1); err != nil {
			break
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v (read %q)", len(resps)+1, err, data)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("response %d: body: %v (read %q)", len(resps)+1, err, data)
		}
		resps = append(resps, rawResponse{resp, body})
	}
	return resps, closed
}

// wireRequest is an HTTP/1.x request as bytes: the request line, then each
// header line as given (Host first), then body.
func wireRequest(method, target, proto string, lines []string, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s\r\nHost: localhost\r\n", method, target, proto)
	for _, l := range lines {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n" + body)
	return b.String()
}

// recorded returns the one request the upstream received whose query has
// case=name, failing the test if there is not exactly one.
func recorded(t *testing.T, up *testenv.Upstream, name string) testenv.RecordedRequest {
	t.Helper()
	var found []testenv.RecordedRequest
	for _, r := range up.Requests() {
		if r.URL.Query().Get("case") == name {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("the upstream got %d requests of case %q, want 1", len(found), name)
	}
	return found[0]
}

// foldHeader is a header name without its spelling: lower case, '_' as '-'
// (how CGI-style frameworks read it).
func foldHeader(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// spoofedHeaders are identity and routing headers an attacker sends for an
// upstream that believes them (issue #9 item 6), and paygate's own identity
// headers.
var spoofedHeaders = []string{
	"X-Forwarded-User", "X-Auth-Request-User", "X-Auth-Request-Email", "Remote-User", "X-Remote-User",
	"X-Original-URL", "X-Rewrite-URL", "X-Forwarded-Prefix", "X-Original-Method",
	"X-HTTP-Method-Override", "X-User-Id", "X-User-Email",
	"Forwarded", "X-Real-IP", "True-Client-IP", "X-Client-IP", "CF-Connecting-IP",
	"X-Forwarded-Uri", "X-Forwarded-Method",
}

// hyphenSpellings are the spellings of a header name without underscores:
// as written, lower case, upper case.
func hyphenSpellings(name string) []string {
	return []string{name, strings.ToLower(name), strings.ToUpper(name)}
}

// underscoreSpellings are spellings of a header name with underscores
// that CGI-style upstreams read as the name itself, each of a different
// canonical form (Go's server would merge two of one form into one field
// with two values): all underscores, and one underscore among dashes. A
// name without a dash has none.
func underscoreSpellings(name string) []string {
	if !strings.Contains(name, "-") {
		return nil
	}
	// Compact: both are one spelling for a name with one dash.
	return slices.Compact([]string{strings.ToLower(strings.ReplaceAll(name, "-", "_")),
		strings.Replace(strings.ToLower(name), "-", "_", 1)})
}

// spoofValue is the value of every spoofed header; it must never reach the
// upstream, under any name.
const spoofValue = "spoofed-admin"

// TestSpoofedIdentityHeadersNeverReachUpstream proves issue #9 item 6:
// request_guard strips spoofed identity and routing headers, in every
// spelling, before the upstream sees them; paygate's identity headers hold
// the token's claims only, and one whose claim the token lacks is absent,
// not the client's copy. Over raw HTTP/1.1 (names sent exactly as written)
// and HTTP/2, on GET and POST, with a token with and without the email
// claim.
//
// Caddy 2.11 itself drops every request header whose name has an
// underscore unless the server's expected_underscore_headers lists it; the
// second configuration lists the underscore spellings, so that only
// request_guard stands between them and the upstream (Caddy then drops the
// hyphenated spellings of those names instead, so the first configuration
// sends those). Without request_guard's strip the X-Forwarded-User,
// X-Original-URL, ... spellings reach the recorder in both (jwt_auth strips
// only its own identity headers) and the test fails.
func TestSpoofedIdentityHeadersNeverReachUpstream(t *testing.T) {
	var allowed []string
	for _, name := range spoofedHeaders {
		allowed = append(allowed, underscoreSpellings(name)...)
	}
	for _, server := range []struct {
		name      string
		global    string
		spellings func(string) []string
	}{
		{"default server", hardeningGlobal, func(name string) []string {
			return append(hyphenSpellings(name), underscoreSpellings(name)...)
		}},
		{"underscore headers allowed", `servers {
		max_header_size 64KB
		expected_underscore_headers ` + strings.Join(allowed, " ") + `
	}`, underscoreSpellings},
	} {
		t.Run(server.name, func(t *testing.T) {
			up := testenv.StartUpstream(t, nil)
			pg := startHardening(t, hardeningConfig{upstream: up, global: server.global})
			var lines []string
			spoof := http.Header{}
			for _, name := range spoofedHeaders {
				for _, s := range server.spellings(name) {
					lines = append(lines, s+": "+spoofValue)
					spoof[s] = []string{spoofValue} // Go's HTTP/2 client lower-cases the names
				}
			}
			for _, tt := range []struct {
				name      string
				withEmail bool
				method    string
				path      string
				http2     bool
			}{
				{"h1 GET, token with email", true, "GET", "/v1/payment_methods", false},
				{"h1 POST, token with email", true, "POST", "/v1/payment_intents", false},
				{"h1 GET, token without email", false, "GET", "/v1/payment_methods", false},
				{"h1 POST, token without email", false, "POST", "/v1/payment_intents", false},
				{"h2 GET, token with email", true, "GET", "/v1/payment_methods", true},
				{"h2 POST, token without email", false, "POST", "/v1/payment_intents", true},
			} {
				t.Run(tt.name, func(t *testing.T) {
					spoofRequest(t, pg, up, lines, spoof, tt.name, tt.withEmail, tt.method, tt.path, tt.http2)
				})
			}
		})
	}
}

// spoofRequest sends one request of TestSpoofedIdentityHeadersNeverReachUpstream
// (the spoofed headers as raw HTTP/1.1 lines, or over HTTP/2) and checks
// what the upstream got.
func spoofRequest(t *testing.T, pg *testenv.Paygate, up *testenv.Upstream, lines []string, spoof http.Header,
	name string, withEmail bool, method, path string, http2 bool) {
	t.Helper()
	caseName := strings.NewReplacer(" ", "-", ",", "").Replace(name)
	target := path + "?case=" + caseName
	token := hardeningToken(t, withEmail)
	body := ""
	if method == "POST" {
		body = "{}"
	}
	var status int
	var respBody []byte
	if http2 {
		h := spoof.Clone()
		h.Set("Authorization", "Bearer "+token)
		h.Set("Content-Type", "application/json")
		resp, b := send(t, pg.Client(), method, pg.HTTPSURL+target, body, h)
		if resp.ProtoMajor != 2 {
			t.Fatalf("protocol %s, want HTTP/2", resp.Proto)
		}
		status, respBody = resp.StatusCode, b
	} else {
		all := append([]string{"Authorization: Bearer " + token, "Connection: close",
			"Content-Type: application/json", fmt.Sprintf("Content-Length: %d", len(body))}, lines...)
		resps, _ := rawExchange(t, pg, wireRequest(method, target, "HTTP/1.1", all, body))
		if len(resps) != 1 {
			t.Fatalf("%d responses, want 1", len(resps))
		}
		status, respBody = resps[0].StatusCode, resps[0].body
	}
	if status != http.StatusOK {
		t.Fatalf("status = %d, want 200 (body %s)", status, respBody)
	}

	got := recorded(t, up, caseName)
	want := map[string]string{"x-user-id": "alice"}
	if withEmail {
		want["x-user-email"] = hardeningEmail
	}
	spoofable := map[string]bool{}
	for _, name := range spoofedHeaders {
		spoofable[foldHeader(name)] = true
	}
	seen := map[string]bool{}
	for name, values := range got.Header {
		for _, v := range values {
			if strings.Contains(v, spoofValue) {
				t.Errorf("the upstream got %s: %s", name, v)
			}
		}
		f := foldHeader(name)
		if !spoofable[f] {
			continue
		}
		if w, ok := want[f]; !ok {
			t.Errorf("the upstream got %s: %q, want none", name, values)
		} else if len(values) != 1 || values[0] != w || seen[f] {
			t.Errorf("the upstream got %s: %q, want %q only once, in one spelling", name, values, w)
		}
		seen[f] = true
	}
	for f, w := range want {
		if !seen[f] {
			t.Errorf("the upstream got no %s, want %q (set by paygate)", f, w)
		}
	}
}

// TestConnectionCannotDropPaygateHeaders proves issue #9 item 7: a client
// naming paygate's own headers in Connection (as hop-by-hop, which
// reverse_proxy deletes) does not make the upstream lose them: the recorder
// still sees the X-User-Id and X-User-Email that jwt_auth set and the
// X-Request-Id that request_guard sets for it in place of the client's.
// The X-Request-Id cases fail without request_guard's Connection clean-up
// (jwt_auth cleans only its identity headers); the X-User-Id cases fail
// without both (both tried).
// Caddy's proxy deletes the canonical form of each token, so the underscore
// tokens (x_user_id) cannot drop anything there; they stay as cases for a
// proxy that folds '_'. A header the client itself names as hop-by-hop
// still goes.
func TestConnectionCannotDropPaygateHeaders(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := startHardening(t, hardeningConfig{upstream: up})
	token := hardeningToken(t, true)

	for i, connection := range [][]string{
		{"Connection: close, X-User-Id"},
		{"Connection: close, x_user_id"},
		{"Connection: close,X-USER-ID"},
		{"Connection: close, X-User-Email"},
		{"Connection: close, X-Request-Id"},
		{"Connection: close, x-request-id"},
		{"Connection: close, X_Request_Id"},
		{"Connection: X-User-Id, close, X-Request-Id, X-User-Email, X-Hop"},
		{"Connection: close", "Connection: X-User-Id", "Connection: X-Request-Id"},
	} {
		t.Run(strings.Join(connection, " / "), func(t *testing.T) {
			caseName := fmt.Sprintf("conn-%d", i)
			lines := append([]string{"Authorization: Bearer " + token, "X-Hop: client-hop",
				"X-Request-Id: client-chosen"}, connection...)
			resps, _ := rawExchange(t, pg, wireRequest("GET", "/v1/payment_methods?case="+caseName, "HTTP/1.1", lines, ""))
			if len(resps) != 1 || resps[0].StatusCode != http.StatusOK {
				t.Fatalf("got %d responses, want one 200: %+v", len(resps), resps)
			}
			id := resps[0].Header.Get("X-Request-Id")
			if id == "" || id == "client-chosen" {
				t.Fatalf("response X-Request-Id = %q, want paygate's", id)
			}
			got := recorded(t, up, caseName)
			for name, want := range map[string]string{"X-User-Id": "alice", "X-User-Email": hardeningEmail, "X-Request-Id": id} {
				if g := got.Header.Values(name); len(g) != 1 || g[0] != want {
					t.Errorf("the upstream got %s = %q, want %q", name, g, want)
				}
			}
			if strings.Contains(connection[0], "X-Hop") && got.Header.Get("X-Hop") != "" {
				t.Errorf("the upstream got X-Hop, which the client named hop-by-hop")
			}
		})
	}
	// Control: without the client naming it, X-Hop is an ordinary header.
	resps, _ := rawExchange(t, pg, wireRequest("GET", "/v1/payment_methods?case=control", "HTTP/1.1",
		[]string{"Authorization: Bearer " + token, "X-Hop: client-hop", "Connection: close"}, ""))
	if len(resps) != 1 || resps[0].StatusCode != http.StatusOK {
		t.Fatalf("control: got %d responses, want one 200", len(resps))
	}
	if got := recorded(t, up, "control"); got.Header.Get("X-Hop") != "client-hop" {
		t.Errorf("control: the upstream got X-Hop = %q, want client-hop", got.Header.Get("X-Hop"))
	}
}

// TestRequestFramingNoSmuggling proves issue #9 item 8 over raw TLS: a
// request framed two ways, followed by a second ("smuggled") request in the
// same bytes, gets one answer and a closed connection, and the smuggled
// request never reaches the upstream.
//
// (a) Content-Length beside Transfer-Encoding: chunked (or chunked alone) on
// HTTP/1.1: Go's server drops the Content-Length and reads the body
// chunked, so request_guard refuses every chunked API body with 411
// content_length_required and Connection: close. Without that check the
// first request is proxied and the kept-alive connection serves the smuggled
// one.
//
// (b) HTTP/1.0 with Transfer-Encoding: chunked and Connection: keep-alive:
// Go ignores Transfer-Encoding on HTTP/1.0, so the body is empty and the
// bytes after the header are the next request. request_guard answers every
// HTTP/1.0 request with Connection: close; without it the connection is
// kept alive and the smuggled request is served.
func TestRequestFramingNoSmuggling(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := startHardening(t, hardeningConfig{upstream: up})
	auth := "Authorization: Bearer " + hardeningToken(t, true)
	smuggled := func(name string) string {
		return wireRequest("GET", "/v1/payment_methods?case=smuggled-"+name, "HTTP/1.1", []string{auth}, "")
	}
	chunkedBody := "2\r\n{}\r\n0\r\n\r\n"

	t.Run("Content-Length and chunked", func(t *testing.T) {
		for _, tt := range []struct {
			name  string
			lines []string
		}{
			{"CL then TE", []string{"Content-Length: 4", "Transfer-Encoding: chunked"}},
			{"TE then CL", []string{"Transfer-Encoding: chunked", "Content-Length: 0"}},
			{"TE only", []string{"Transfer-Encoding: chunked"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				name := strings.ReplaceAll(tt.name, " ", "-")
				lines := append([]string{auth, "Content-Type: application/json"}, tt.lines...)
				wire := wireRequest("POST", "/v1/payment_intents?case=first-"+name, "HTTP/1.1", lines, chunkedBody) + smuggled(name)
				resps, closed := rawExchange(t, pg, wire)
				if len(resps) != 1 {
					t.Fatalf("%d responses, want 1 (statuses %v)", len(resps), statuses(resps))
				}
				r := resps[0]
				if r.StatusCode != http.StatusLengthRequired {
					t.Fatalf("status = %d, want 411 (body %s)", r.StatusCode, r.body)
				}
				checkHeaders(t, r.Response, apiHeaders)
				decodeAPIError(t, r.Response, r.body, "content_length_required")
				if !r.Close {
					t.Errorf("Connection = %q, want close", r.Header.Values("Connection"))
				}
				if !closed {
					t.Errorf("the connection stayed open after the 411")
				}
			})
		}
	})

	t.Run("HTTP/1.0 with Transfer-Encoding", func(t *testing.T) {
		lines := []string{auth, "Content-Type: application/json", "Transfer-Encoding: chunked", "Connection: keep-alive"}
		wire := wireRequest("POST", "/v1/payment_intents?case=first-http10", "HTTP/1.0", lines, "") + smuggled("http10")
		resps, closed := rawExchange(t, pg, wire)
		if len(resps) != 1 {
			t.Fatalf("%d responses, want 1 (statuses %v)", len(resps), statuses(resps))
		}
		if !resps[0].Close || !strings.EqualFold(resps[0].Header.Get("Connection"), "close") {
			t.Errorf("Connection = %q, want close", resps[0].Header.Values("Connection"))
		}
		if !closed {
			t.Errorf("the connection stayed open after an HTTP/1.0 response")
		}
		// The first request itself is fine; only what follows it must not
		// be served.
		if resps[0].StatusCode != http.StatusOK {
			t.Errorf("status = %d, want 200 (body %s)", resps[0].StatusCode, resps[0].body)
		}
	})

	for _, r := range up.Requests() {
		if c := r.URL.Query().Get("case"); strings.HasPrefix(c, "smuggled-") || strings.HasPrefix(c, "first-") && c != "first-http10" {
			t.Errorf("the upstream got %s %s", r.Method, r.URL)
		}
	}
}

func statuses(resps []rawResponse) []int {
	var s []int
	for _, r := range resps {
		s = append(s, r.StatusCode)
	}
	return s
}

// TestQueryBounds proves issue #9 item 9: more than 100 query parameters
// (1,000 copies of one, or 101 different ones) get 400
// too_many_query_parameters, on the API and on the page route; a parameter
// given twice on the API gets 400 repeated_query_parameter; nothing refused
// reaches the upstream. The controls (100 parameters, one of each) pass.
// 1,000 copies of one parameter would otherwise be refused as repeated, so
// the 101-distinct cases are what fail without the count bound.
func TestQueryBounds(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := startHardening(t, hardeningConfig{upstream: up})
	auth := http.Header{"Authorization": {"Bearer " + hardeningToken(t, true)}}
	params := func(n int, distinct bool) string {
		p := make([]string, n)
		for i := range p {
			if distinct {
				p[i] = fmt.Sprintf("p%d=1", i)
			} else {
				p[i] = "limit=1"
			}
		}
		return strings.Join(p, "&")
	}

	for _, tt := range []struct {
		name, target, code string
	}{
		{"1000 copies of one", "/v1/payment_methods?" + params(1000, false), "too_many_query_parameters"},
		{"1000 different", "/v1/payment_methods?" + params(1000, true), "too_many_query_parameters"},
		{"101 different", "/v1/payment_methods?" + params(101, true), "too_many_query_parameters"},
		{"repeated", "/v1/payment_methods?limit=1&limit=2", "repeated_query_parameter"},
		{"repeated, same value", "/v1/payment_methods?limit=1&starting_after=pm_1&limit=1", "repeated_query_parameter"},
		{"repeated on POST", "/v1/payment_intents?expand=a&expand=b", "repeated_query_parameter"},
		{"page: 1000 copies of one", "/?" + params(1000, false), "too_many_query_parameters"},
		{"page: 101 different", "/?" + params(101, true), "too_many_query_parameters"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			method := "GET"
			if strings.HasPrefix(tt.target, "/v1/payment_intents") {
				method = "POST"
			}
			resp, body := send(t, pg.Client(), method, pg.HTTPSURL+tt.target, "", auth)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400 (body %s)", resp.StatusCode, body)
			}
			want := apiHeaders
			if strings.HasPrefix(tt.target, "/?") {
				want = pageHeaders
			}
			checkHeaders(t, resp, want)
			decodeAPIError(t, resp, body, tt.code)
		})
	}
	if reqs := up.Requests(); len(reqs) != 0 {
		t.Fatalf("%d refused requests reached the upstream, first %s", len(reqs), reqs[0].URL)
	}

	for _, tt := range []struct{ name, target string }{
		{"100 different", "/v1/payment_methods?" + params(99, true) + "&case=100"},
		{"one of each", "/v1/payment_methods?limit=1&starting_after=pm_1&case=each"},
	} {
		t.Run("control: "+tt.name, func(t *testing.T) {
			resp, body := send(t, pg.Client(), "GET", pg.HTTPSURL+tt.target, "", auth)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200 (body %s)", resp.StatusCode, body)
			}
		})
	}
	if n := up.Count(); n != 2 {
		t.Errorf("the upstream got %d requests, want the 2 controls", n)
	}
	// The page route takes a repeated parameter.
	if resp, body := send(t, pg.Client(), "GET", pg.HTTPSURL+"/?a=1&a=2", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("page with a repeated parameter: status = %d, want 200 (body %s)", resp.StatusCode, body)
	}
}

// pageHeaders are the "stripe" preset's headers that the tests check on
// the catch-all route's answers.
var pageHeaders = map[string]string{
	"Strict-Transport-Security":    "max-age=63072000; includeSubDomains",
	"X-Content-Type-Options":       "nosniff",
	"X-Frame-Options":              "DENY",
	"Referrer-Policy":              "strict-origin-when-cross-origin",
	"Cross-Origin-Resource-Policy": "same-origin",
	"Cross-Origin-Opener-Policy":   "same-origin-allow-popups",
	"Cache-Control":                "no-store",
}

// TestJSONCharsetOnly proves issue #9 item 10: POST /v1/payment_intents with
// a Content-Type other than application/json with no charset or
// charset=utf-8 gets 415 unsupported_media_type and reaches neither Stripe
// (payments on stripe-mock: no call at the recording proxy) nor the
// application (reverse_proxy: nothing at the recorder); no charset and
// utf-8, in any case, create the intent (201) or pass (200). Through
// reverse_proxy only request_guard checks the type, so that terminal fails
// without request_guard's check; through payments the handler checks it too.
func TestJSONCharsetOnly(t *testing.T) {
	sm := testenv.StartStripeMock(t)
	up := testenv.StartUpstream(t, nil)
	catalog, err := filepath.Abs("../testdata/catalog/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, terminal := range []struct {
		name, directive string
		created         int
		reached         func() int
	}{
		{"payments", fmt.Sprintf(`payments {
			stripe_key {env.STRIPE_SECRET_KEY}
			api_base %s
			catalog %s
			timeout 10s
			max_network_retries 0
		}`, sm.URL, catalog), http.StatusCreated, func() int { return len(sm.Calls()) }},
		{"reverse_proxy", "reverse_proxy " + up.URL, http.StatusOK, up.Count},
	} {
		t.Run(terminal.name, func(t *testing.T) {
			pg := startHardening(t, hardeningConfig{upstream: up, stripeMock: sm, terminal: terminal.directive})
			for i, tt := range []struct {
				contentType string
				accepted    bool
			}{
				{"application/json; charset=utf-16", false},
				{"application/json; charset=UTF-16", false},
				{"application/json; charset=utf-16le", false},
				{"application/json; charset=iso-8859-1", false},
				{"application/json; charset=utf-8; charset=utf-16", false},
				{"text/plain", false},
				{"application/json", true},
				{"application/json; charset=utf-8", true},
				{"Application/JSON;charset=UTF-8", true},
			} {
				t.Run(tt.contentType, func(t *testing.T) {
					before := terminal.reached()
					header := http.Header{
						"Authorization":   {"Bearer " + hardeningToken(t, true)},
						"Content-Type":    {tt.contentType},
						"Idempotency-Key": {fmt.Sprintf("charset-%s-%d", terminal.name, i)},
					}
					resp, body := send(t, pg.Client(), "POST", pg.HTTPSURL+"/v1/payment_intents", paymentOrder, header)
					if !tt.accepted {
						if resp.StatusCode != http.StatusUnsupportedMediaType {
							t.Fatalf("status = %d, want 415 (body %s)", resp.StatusCode, body)
						}
						checkHeaders(t, resp, apiHeaders)
						decodeAPIError(t, resp, body, "unsupported_media_type")
						if n := terminal.reached() - before; n != 0 {
							t.Errorf("%d requests reached the %s terminal's backend", n, terminal.name)
						}
						return
					}
					if resp.StatusCode != terminal.created {
						t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, terminal.created, body)
					}
					if terminal.name == "payments" {
						created := false
						for _, c := range sm.Calls()[before:] {
							created = created || c.Method == "POST" && c.Path == "/v1/payment_intents"
						}
						if !created {
							t.Errorf("no payment intent was created at stripe-mock")
						}
					} else if n := terminal.reached() - before; n != 1 {
						t.Errorf("%d requests reached the application, want 1", n)
					}
				})
			}
		})
	}
}

// TestOversizedHeadersGetPaygate431 proves issue #9 item 11: a header
// section over request_guard's 16 KiB but under the server's
// max_header_size (64 KB) gets paygate's 431 request_headers_too_large,
// with the security headers, X-Request-Id and the JSON body, over HTTP/2
// and HTTP/1.1, and does not reach the upstream. Without request_guard's
// limit the request passes Go's 64 KB and reaches the recorder (200).
// Above 64 KB Go's server answers itself with a bare 431 (no security
// headers, no request ID, no JSON): the documented backstop, not asserted
// here.
func TestOversizedHeadersGetPaygate431(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := startHardening(t, hardeningConfig{upstream: up})
	auth := "Bearer " + hardeningToken(t, true)

	for _, c := range []struct {
		name   string
		client *http.Client
	}{{"HTTP/2", pg.Client()}, {"HTTP/1.1", h1Client(t, pg)}} {
		for _, tt := range []struct {
			name   string
			header http.Header
		}{
			{"one 20 KiB header", http.Header{"X-Padding": {strings.Repeat("a", 20<<10)}}},
			{"40 headers of 1 KiB", func() http.Header {
				h := http.Header{}
				for i := range 40 {
					h.Set(fmt.Sprintf("X-Pad-%02d", i), strings.Repeat("b", 1<<10))
				}
				return h
			}()},
			{"17 KiB", http.Header{"X-Padding": {strings.Repeat("c", 17<<10)}}},
		} {
			t.Run(c.name+" "+tt.name, func(t *testing.T) {
				h := tt.header.Clone()
				h.Set("Authorization", auth)
				resp, body := send(t, c.client, "GET", pg.HTTPSURL+"/v1/payment_methods", "", h)
				if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
					t.Fatalf("status = %d, want 431 (body %.200s)", resp.StatusCode, body)
				}
				checkHeaders(t, resp, apiHeaders)
				decodeAPIError(t, resp, body, "request_headers_too_large")
			})
		}
	}
	if n := up.Count(); n != 0 {
		t.Fatalf("%d oversized requests reached the upstream", n)
	}
	// Control: 12 KiB of headers pass.
	resp, body := send(t, pg.Client(), "GET", pg.HTTPSURL+"/v1/payment_methods", "",
		http.Header{"Authorization": {auth}, "X-Padding": {strings.Repeat("d", 12<<10)}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("12 KiB of headers: status = %d, want 200 (body %s)", resp.StatusCode, body)
	}
}

// TestCatchAllOnlyAtRoot proves issue #9 item 18 with the shipped
// Caddyfile's own catch-all route: GET / is the page (200, the "stripe"
// headers), and every other path outside the API is 404 in paygate's error
// shape with the security headers, never the page.
func TestCatchAllOnlyAtRoot(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := startHardening(t, hardeningConfig{upstream: up})

	resp, body := send(t, pg.Client(), "GET", pg.HTTPSURL+"/", "", nil)
	if resp.StatusCode != http.StatusOK || string(body) != "paygate is running" {
		t.Fatalf("GET /: %d %q, want 200 with the page", resp.StatusCode, body)
	}
	checkHeaders(t, resp, pageHeaders)

	for _, tt := range []struct{ method, path string }{
		{"GET", "/anything-else"},
		{"GET", "/index.html"},
		{"GET", "/favicon.ico"},
		{"GET", "/v1"},
		{"GET", "/admin/"},
		{"POST", "/anything-else"},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			resp, body := send(t, pg.Client(), tt.method, pg.HTTPSURL+tt.path, "", nil)
			if resp.StatusCode != http.StatusNotFound {
				t.Fatalf("status = %d, want 404 (body %s)", resp.StatusCode, body)
			}
			checkHeaders(t, resp, pageHeaders)
			decodeAPIError(t, resp, body, "resource_missing")
			if strings.Contains(string(body), "paygate is running") {
				t.Errorf("the page answered %s: %s", tt.path, body)
			}
		})
	}
	if n := up.Count(); n != 0 {
		t.Errorf("%d requests reached the upstream", n)
	}
}

// Upstream faults of TestUpstreamFaultsBecomePaygateErrors.
const (
	upstreamPanic = "panic: runtime error: invalid memory address or nil pointer dereference\n" +
		"goroutine 42 [running]:\nmain.handler(0xc000123456)\n\t/srv/app/handler.go:17 +0x1d\n" +
		"dial tcp 10.1.2.3:5432: connect: connection refused\n"
	nginxPage = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n" +
		"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0 (Ubuntu)</center>\r\n</body>\r\n</html>\r\n"
	// goodBody is a complete answer, which must pass byte for byte.
	goodBody = "{\"object\":\"list\",\"data\":[{\"id\":\"pm_1\",\"card\":{\"brand\":\"visa\",\"last4\":\"4242\"}}],\n  \"has_more\":false}\n"
	// truncatedFiller fills the first 100 of the 1,000 bytes promised.
	truncatedFiller = "T"
)

// faultyUpstream misbehaves as its ?fault says: a 500 with a panic trace
// and an internal address, an nginx 502 page, a 2 MiB response header, a
// 200 that promises 1,000 bytes and closes after 100; without one it gives
// goodBody.
func faultyUpstream() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("fault") {
		case "panic":
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, upstreamPanic)
		case "nginx":
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Server", "nginx/1.18.0 (Ubuntu)")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, nginxPage)
		case "big-header":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Upstream-Debug", strings.Repeat("d", 2<<20))
			_, _ = io.WriteString(w, goodBody)
		case "truncated":
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			defer conn.Close()
			_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n" +
				strings.Repeat(truncatedFiller, 100))
			_ = buf.Flush()
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, goodBody)
		}
	})
}

// TestUpstreamFaultsBecomePaygateErrors proves issue #9 item 20: with
// api_response in front of reverse_proxy, an upstream's 500 and 502 bodies,
// a 2 MiB response header and a body that breaks off reach the client as
// paygate's generic error (500 internal_error, 502 upstream_unavailable,
// 502 upstream_response_invalid, 502 upstream_unavailable), never with the
// upstream's bytes and never as a truncated 200; each replacement is logged
// with its request ID. A good answer passes byte for byte. The proxy
// transport reads the 2 MiB head in both configurations (Go's default limit
// is 10 MB; the second sets max_response_header 4MB), so api_response's own
// 32 KiB limit is what refuses it.
func TestUpstreamFaultsBecomePaygateErrors(t *testing.T) {
	up := testenv.StartUpstream(t, faultyUpstream())
	for _, transport := range []struct{ name, terminal string }{
		{"default transport", "reverse_proxy " + up.URL},
		{"max_response_header 4MB", "reverse_proxy " + up.URL + ` {
			transport http {
				max_response_header 4MB
			}
		}`},
	} {
		t.Run(transport.name, func(t *testing.T) {
			pg := startHardening(t, hardeningConfig{upstream: up, terminal: transport.terminal})
			auth := http.Header{"Authorization": {"Bearer " + hardeningToken(t, true)}}

			for _, tt := range []struct {
				fault  string
				status int
				code   string
			}{
				{"panic", http.StatusInternalServerError, "internal_error"},
				{"nginx", http.StatusBadGateway, "upstream_unavailable"},
				{"big-header", http.StatusBadGateway, "upstream_response_invalid"},
				{"truncated", http.StatusBadGateway, "upstream_unavailable"},
			} {
				t.Run(tt.fault, func(t *testing.T) {
					before := up.Count()
					resp, body := send(t, pg.Client(), "GET", pg.HTTPSURL+"/v1/payment_methods?fault="+tt.fault, "", auth)
					if up.Count() != before+1 {
						t.Fatalf("the upstream got %d requests, want 1", up.Count()-before)
					}
					if resp.StatusCode != tt.status {
						t.Fatalf("status = %d, want %d (body %.300s)", resp.StatusCode, tt.status, body)
					}
					checkHeaders(t, resp, apiHeaders)
					decodeAPIError(t, resp, body, tt.code)
					// Runs of the fillers long enough that no request ID (hex) holds one.
					for _, leak := range []string{"panic", "goroutine", "10.1.2.3", "nginx", "Bad Gateway", strings.Repeat("d", 16), "TTT"} {
						if strings.Contains(string(body), leak) {
							t.Errorf("the client got the upstream's %q: %s", leak, body)
						}
					}
					if v := resp.Header.Get("X-Upstream-Debug"); v != "" {
						t.Errorf("the client got the upstream's X-Upstream-Debug (%d bytes)", len(v))
					}
					id := resp.Header.Get("X-Request-Id")
					pg.WaitForLog(t, "upstream response replaced for "+id, testenv.LogFields(map[string]string{
						"msg": "upstream response replaced", "request_id": id,
					}))
				})
			}

			t.Run("good answer", func(t *testing.T) {
				resp, body := send(t, pg.Client(), "GET", pg.HTTPSURL+"/v1/payment_methods", "", auth)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status = %d, want 200 (body %s)", resp.StatusCode, body)
				}
				if string(body) != goodBody {
					t.Errorf("body = %q, want the upstream's %q byte for byte", body, goodBody)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q, want application/json", ct)
				}
				checkHeaders(t, resp, apiHeaders)
			})
		})
	}
}

// trailerSite has a page route in front of the application, as the shipped
// Caddyfile's, and a route where card_data_guard works alone.
const trailerSite = `
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	route /guard-only/* {
		security_headers api
		card_data_guard
		reverse_proxy {{.Upstream}}
	}
	route {
		security_headers stripe
		tls_enforce
		request_guard page
		reverse_proxy {{.Upstream}}
	}
	handle_errors {
		paygate_error
	}
}
`

// sendWithTrailer POSTs body over HTTP/2 with the trailers, which Go's
// client announces in the request's header and sends after the body.
func sendWithTrailer(t *testing.T, pg *testenv.Paygate, target string, header, trailer http.Header) (*http.Response, []byte) {
	t.Helper()
	// A body of unknown length: the client sends trailers only then.
	req, err := http.NewRequest("POST", pg.HTTPSURL+target, io.MultiReader(strings.NewReader("{}")))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	req.Header.Set("Content-Type", "application/json")
	req.Trailer = trailer
	resp, err := pg.Client().Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ProtoMajor != 2 {
		t.Fatalf("protocol %s, want HTTP/2", resp.Proto)
	}
	return resp, body
}

// TestRequestTrailersRefused: trailers arrive after the body, where neither
// the card-data guard's scan of the header nor request_guard's clean-up of
// identity headers and method overrides looks, and an upstream may merge
// them into the header. On the API any trailer is refused; in front of the
// application, a trailer named like a stripped header; and card_data_guard
// scans the trailers it receives with the body. A harmless trailer on a
// page still reaches the application (so the refusals are not the proxy
// dropping trailers anyway).
func TestRequestTrailersRefused(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	api := startHardening(t, hardeningConfig{upstream: up})
	pages := testenv.StartPaygate(t, testenv.PaygateOptions{Upstream: up, Site: trailerSite})
	auth := http.Header{"Authorization": {"Bearer " + hardeningToken(t, true)}}
	for _, tt := range []struct {
		name    string
		pg      *testenv.Paygate
		path    string
		trailer http.Header
		code    string // "" when the request passes
	}{
		{"API, identity trailer", api, "/v1/payment_intents", http.Header{"X-User-Id": {spoofValue}}, "trailers_not_accepted"},
		{"API, method override trailer", api, "/v1/payment_intents", http.Header{"X-Http-Method-Override": {"DELETE"}}, "trailers_not_accepted"},
		{"API, harmless trailer", api, "/v1/payment_intents", http.Header{"X-Checksum": {"abc"}}, "trailers_not_accepted"},
		{"page, identity trailer", pages, "/account", http.Header{"X-User-Id": {spoofValue}}, "trailers_not_accepted"},
		{"page, underscore spelling", pages, "/account", http.Header{"X_forwarded_user": {spoofValue}}, "trailers_not_accepted"},
		{"page, client's request ID", pages, "/account", http.Header{"X-Request-Id": {spoofValue}}, "trailers_not_accepted"},
		{"guard alone, card in a trailer", pages, "/guard-only/pay", http.Header{"X-Card": {"4242 4242 4242 4242"}}, "card_data_not_accepted"},
		{"guard alone, card in a trailer's name", pages, "/guard-only/pay", http.Header{"X-4242424242424242": {"1"}}, "card_data_not_accepted"},
		{"page, harmless trailer", pages, "/account", http.Header{"X-Checksum": {"abc"}}, ""},
		{"guard alone, harmless trailer", pages, "/guard-only/pay", http.Header{"X-Checksum": {"abc"}}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			caseName := strings.ReplaceAll(tt.name, " ", "-")
			resp, body := sendWithTrailer(t, tt.pg, tt.path+"?case="+caseName, auth, tt.trailer)
			if tt.code == "" {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status = %d, want 200 (body %s)", resp.StatusCode, body)
				}
				if got := recorded(t, up, caseName).Trailer; got.Get("X-Checksum") != "abc" {
					t.Errorf("the application got trailers %v, want X-Checksum: abc", got)
				}
				return
			}
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400 (body %s)", resp.StatusCode, body)
			}
			decodeAPIError(t, resp, body, tt.code)
			for _, r := range up.Requests() {
				if r.URL.Query().Get("case") == caseName {
					t.Errorf("the refused request reached the application, trailers %v", r.Trailer)
				}
			}
		})
	}
}
