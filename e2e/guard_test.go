package e2e

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/cardscan"
	"github.com/paygate/paygate/internal/testenv"
)

// guardSite puts card_data_guard in the pipeline's place: after the
// security headers and TLS enforcement, before the upstream.
const guardSite = `
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	route {
		security_headers api
		tls_enforce
		card_data_guard {
			max_body 16KiB
			skip_header X-Session-Token
		}
		reverse_proxy {{.Upstream}}
	}
	handle_errors {
		paygate_error
	}
}
`

// guardMaxBody is guardSite's max_body.
const guardMaxBody = 16 << 10

// jwtWithDigitRuns is a bearer token whose characters hold Luhn-valid digit
// runs (4242424242424242), glued to letters as base64url text has them.
const jwtWithDigitRuns = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyXzQyNDI0MjQyNDI0MjQyNDIiLCJleHAiOjE5MDAwMDAwMDB9.a4242424242424242b-4242424242424242_x4000056655665556y"

// cardRequests plant a card number in every place a request can carry one.
var cardRequests = []struct {
	name, method, target, contentType, body string
	header                                  http.Header
	location                                string // the metric label
}{
	{name: "JSON string", method: "POST", target: "/v1/payment_intents", contentType: "application/json",
		body: `{"items":[{"sku":"clean-2h","quantity":1}],"card":{"number":"4242424242424242","cvc":"123"}}`, location: "body"},
	{name: "JSON number", method: "POST", target: "/v1/payment_intents", contentType: "application/json",
		body: `{"number": 5555555555554444, "exp_month": 12}`, location: "body"},
	{name: "form body", method: "POST", target: "/v1/tokens", contentType: "application/x-www-form-urlencoded",
		body: "card%5Bnumber%5D=378282246310005&card%5Bcvc%5D=1234", location: "body"},
	{name: "spaced in JSON", method: "POST", target: "/v1/payment_intents", contentType: "application/json",
		body: `{"note":"my card is 6011 1111 1111 1117"}`, location: "body"},
	{name: "dashed in text", method: "PUT", target: "/v1/notes", contentType: "text/plain",
		body: "card: 3566-0020-2036-0505, exp 12/30", location: "body"},
	{name: "query", method: "GET", target: "/v1/payment_methods?number=4000056655665556", location: "query"},
	{name: "query, URL-encoded groups", method: "GET", target: "/v1/payment_methods?number=3056%209300%200902%200004", location: "query"},
	{name: "query, form-encoded groups", method: "GET", target: "/v1/payment_methods?number=2223+0031+2200+3222", location: "query"},
	{name: "path", method: "GET", target: "/v1/cards/6200000000000005", location: "path"},
	{name: "path, URL-encoded groups", method: "DELETE", target: "/v1/cards/3622%20720627%201667", location: "path"},
	{name: "custom header", method: "GET", target: "/v1/payment_methods", header: http.Header{"X-Card": {"4242 4242 4242 4242"}}, location: "header"},
}

func TestGuardRefusesCardNumbers(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{Upstream: up, Site: guardSite})
	c := pg.Client()

	for _, tt := range cardRequests {
		t.Run(tt.name, func(t *testing.T) {
			header := http.Header{"Authorization": {"Bearer " + jwtWithDigitRuns}}
			for k, v := range tt.header {
				header[k] = v
			}
			if tt.contentType != "" {
				header.Set("Content-Type", tt.contentType)
			}
			resp, body := send(t, c, tt.method, pg.HTTPSURL+tt.target, tt.body, header)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400 (body %s)", resp.StatusCode, body)
			}
			checkHeaders(t, resp, apiHeaders)
			e := decodeAPIError(t, resp, body, "card_data_not_accepted")
			if e.Error.Type != "invalid_request_error" || !strings.Contains(e.Error.Message, "Stripe") {
				t.Errorf("error = %+v, want an invalid_request_error that points to Stripe", e.Error)
			}
			if cardscan.Contains(string(body)) {
				t.Errorf("the error body echoes the number: %s", body)
			}
		})
	}
	if reqs := up.Requests(); len(reqs) != 0 {
		t.Fatalf("%d refused requests reached the upstream, first %s %s", len(reqs), reqs[0].Method, reqs[0].URL)
	}

	// Each refusal is counted by location, audited, and logged by
	// paygate_error with where the number was, never the number.
	wantCounts := map[string]float64{}
	for _, tt := range cardRequests {
		wantCounts[tt.location]++
	}
	for loc, n := range wantCounts {
		pg.WaitForMetric(t, `paygate_card_data_refused_total{location="`+loc+`"}`, testenv.MetricIs(n))
	}
	pg.Stop() // the logs are complete once the process has exited
	audits, refusals := 0, 0
	for _, entry := range pg.LogEntries(t) {
		switch {
		case entry.Str("logger") == "paygate.audit" && entry.Str("action") == "card_data_refused":
			audits++
			if entry.Str("outcome") != "denied" || !strings.HasPrefix(entry.Str("reason"), "card_number_in_") || entry.Str("request_id") == "" {
				t.Errorf("audit event %s", entry.Line)
			}
		case entry.Str("msg") == "request refused" && entry.Str("code") == "card_data_not_accepted":
			refusals++
			if !strings.Contains(entry.Str("cause"), "card number in ") {
				t.Errorf("refusal logged without its location: %s", entry.Line)
			}
		}
	}
	if audits != len(cardRequests) || refusals != len(cardRequests) {
		t.Errorf("%d audit events and %d refusal log lines, want %d of each", audits, refusals, len(cardRequests))
	}
}

func TestGuardPassesOtherRequestsIntact(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{Upstream: up, Site: guardSite})
	c := pg.Client()

	controls := []struct {
		name, method, target, body string
		header                     http.Header
	}{
		{name: "Stripe IDs and client secret", method: "POST", target: "/v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa/confirm",
			body: `{"payment_method":"pm_1NvZQa2eZvKYlo2CnLtoMzIo","customer":"cus_NffrFeUfNV2Hib","client_secret":"pi_3MtwBwLkdIwHu7ix28a3tqPa_secret_YrKJUKribcBjcG8HVhfZluoGH"}`},
		{name: "JWT with digit runs in Authorization", method: "GET", target: "/v1/payment_methods",
			header: http.Header{"Authorization": {"Bearer " + jwtWithDigitRuns}}},
		{name: "JWT in a session cookie and a skipped header", method: "GET", target: "/v1/payment_methods",
			header: http.Header{"Cookie": {"__Host-session=" + jwtWithDigitRuns}, "X-Session-Token": {"4242424242424242"}}},
		{name: "UUIDs and timestamps", method: "POST", target: "/v1/payment_intents?created=1700000000000",
			header: http.Header{"Idempotency-Key": {"123e4567-e89b-12d3-a456-426614174000"}},
			body:   `{"items":[{"sku":"clean-2h","quantity":2}],"currency":"usd","reference":"ORD-2024-000123","requested_at":1700000000000,"id":"550e8400-e29b-41d4-a716-446655440000"}`},
		{name: "phone numbers and an IBAN", method: "POST", target: "/v1/customers/me",
			body: `{"phone":"+1 415 555 2671","alt":"+44 20 7946 0958","intl":"0044 20 7946 0958","mobile":"+4915112345678","iban":"FR76 3000 6000 0112 3456 7890 189"}`},
		{name: "body of exactly max_body", method: "POST", target: "/v1/upload", body: strings.Repeat("x", guardMaxBody)},
	}
	for _, tt := range controls {
		t.Run(tt.name, func(t *testing.T) {
			before := up.Count()
			resp, body := send(t, c, tt.method, pg.HTTPSURL+tt.target, tt.body, tt.header)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200 (body %s)", resp.StatusCode, body)
			}
			checkHeaders(t, resp, apiHeaders)
			reqs := up.Requests()
			if len(reqs) != before+1 {
				t.Fatalf("the upstream got %d requests, want 1", len(reqs)-before)
			}
			got := reqs[len(reqs)-1]
			if got.URL.String() != tt.target || !bytes.Equal(got.Body, []byte(tt.body)) {
				t.Errorf("the upstream got %s with %d bytes, want %s with the %d bytes sent, unchanged", got.URL, len(got.Body), tt.target, len(tt.body))
			}
			for k, v := range tt.header {
				if g := got.Header.Values(k); len(g) != 1 || g[0] != v[0] {
					t.Errorf("upstream header %s = %q, want %q", k, g, v)
				}
			}
		})
	}

	// A body of unknown length (chunked) passes unchanged too.
	t.Run("chunked body", func(t *testing.T) {
		body := `{"reference":"ORD-2024-000123","phone":"+1 415 555 2671"}`
		resp, respBody := sendStream(t, c, pg.HTTPSURL+"/v1/chunked", body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status = %d (body %s)", resp.StatusCode, respBody)
		}
		reqs := up.Requests()
		if got := reqs[len(reqs)-1]; string(got.Body) != body {
			t.Errorf("the upstream got %q, want %q", got.Body, body)
		}
	})
}

// TestGuardRefusesEncodedBodies: a compressed body cannot be scanned, so
// it is refused with 415 whatever it holds: a gzipped card number must not
// reach the upstream. An identity coding is no coding and passes.
func TestGuardRefusesEncodedBodies(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{Upstream: up, Site: guardSite})
	c := pg.Client()

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write([]byte(`{"card":{"number":"4242424242424242","cvc":"123"}}`)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if cardscan.Contains(gz.String()) {
		t.Fatal("the gzipped body shows its card number: it would be refused without its coding")
	}
	for _, coding := range [][]string{{"gzip"}, {"GZIP"}, {"identity, gzip"}, {"identity", "deflate"}, {"br"}} {
		t.Run(strings.Join(coding, "; "), func(t *testing.T) {
			header := http.Header{"Content-Type": {"application/json"}, "Content-Encoding": coding}
			resp, body := send(t, c, "POST", pg.HTTPSURL+"/v1/payment_intents", gz.String(), header)
			if resp.StatusCode != http.StatusUnsupportedMediaType {
				t.Fatalf("status = %d, want 415 (body %s)", resp.StatusCode, body)
			}
			checkHeaders(t, resp, apiHeaders)
			decodeAPIError(t, resp, body, "unsupported_content_encoding")
		})
	}
	if reqs := up.Requests(); len(reqs) != 0 {
		t.Fatalf("%d compressed bodies reached the upstream, first with Content-Encoding %q", len(reqs), reqs[0].Header.Values("Content-Encoding"))
	}

	plain := `{"reference":"ORD-2024-000123"}`
	resp, body := send(t, c, "POST", pg.HTTPSURL+"/v1/payment_intents", plain, http.Header{"Content-Encoding": {"identity"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("identity coding: status = %d, want 200 (body %s)", resp.StatusCode, body)
	}
	if reqs := up.Requests(); len(reqs) != 1 || string(reqs[0].Body) != plain {
		t.Fatalf("identity coding: the upstream got %d requests, want 1 with the body unchanged", len(reqs))
	}
}

func TestGuardRefusesOversizedBodies(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{Upstream: up, Site: guardSite})
	c := pg.Client()
	big := strings.Repeat("x", guardMaxBody+1)

	resp, body := send(t, c, "POST", pg.HTTPSURL+"/v1/upload", big, nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("announced length: status = %d, want 413 (body %s)", resp.StatusCode, body)
	}
	checkHeaders(t, resp, apiHeaders)
	decodeAPIError(t, resp, body, "body_too_large")

	resp, body = sendStream(t, c, pg.HTTPSURL+"/v1/upload", big)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked: status = %d, want 413 (body %s)", resp.StatusCode, body)
	}
	decodeAPIError(t, resp, body, "body_too_large")

	if n := up.Count(); n != 0 {
		t.Errorf("%d oversized requests reached the upstream", n)
	}
}

// sendStream POSTs body with an unknown length (chunked over HTTP/1.1, a
// stream over HTTP/2) and returns the response with its body read.
func sendStream(t *testing.T, c *http.Client, url, body string) (*http.Response, []byte) {
	t.Helper()
	// A reader of no known length: the request goes out without a
	// Content-Length.
	req, err := http.NewRequest("POST", url, io.MultiReader(strings.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: reading body: %v", url, err)
	}
	return resp, b
}
