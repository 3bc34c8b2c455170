package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/paygate/paygate/internal/ownership"
	"github.com/paygate/paygate/internal/testenv"
	"github.com/paygate/paygate/internal/webhookevent"
)

// Keys that no endpoint of these tests trusts: another endpoint's signing
// secret and an API key, which a careless sender might sign with.
const (
	otherEndpointSecret = "whsec_e2eAnotherEndpoint0123456789abcdef"
	apiKeyNotASecret    = "sk_test_e2eNotAWebhookSecret0123456789abcd"
)

// webhookSignatureReasons are the reason labels of
// paygate_webhook_signature_failures_total, which the client is never told.
var webhookSignatureReasons = []string{
	"header_missing", "header_repeated", "header_too_long", "too_many_signatures", "header_malformed",
	"timestamp_too_old", "timestamp_in_future", "no_matching_signature", "no_v1_signature",
}

// sigEnv is one paygate whose webhook route proxies to a recorder, and the
// tally of what was sent to it, for the metrics checked at the end.
type sigEnv struct {
	pg *testenv.Paygate
	up *testenv.Upstream
	// refusal is the first signature refusal's body without its request
	// ID: every other one must be the same.
	refusal string
	// rejected counts the signature failures sent, by reason; forwarded
	// the events processed; refused the requests refused before the
	// signature.
	rejected  map[string]int
	forwarded int
	refused   int
}

// paymentEvent is a fresh payment_intent.succeeded event, an allowed type:
// only its signature decides whether it is forwarded.
func paymentEvent(t *testing.T) []byte {
	t.Helper()
	return stripeEventBody(t, "evt_"+rand.Text(), webhookevent.TypePaymentSucceeded,
		map[string]any{"id": "pi_" + rand.Text(), "object": "payment_intent", "amount": 1000, "currency": "eur"}, nil)
}

// signatureHeader is a header with one Stripe-Signature value.
func signatureHeader(value string) http.Header {
	return http.Header{"Stripe-Signature": {value}}
}

// v1Hex is the hex v1 signature of body at ts with secret.
func v1Hex(body []byte, ts time.Time, secret string) string {
	return hex.EncodeToString(webhook.ComputeSignature(ts, body, secret))
}

// randomV1 is a well-formed v1 signature that matches nothing.
func randomV1() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// wantForwarded requires that the response is the upstream's 200 and that
// the upstream got exactly one more request, carrying body byte for byte.
func (e *sigEnv) wantForwarded(t *testing.T, before int, resp *http.Response, respBody, body []byte) testenv.RecordedRequest {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a correctly signed event: status %d, body %s; want 200 from the upstream", resp.StatusCode, respBody)
	}
	reqs := e.up.Requests()
	if len(reqs) != before+1 {
		t.Fatalf("the upstream got %d requests, want %d", len(reqs), before+1)
	}
	got := reqs[len(reqs)-1]
	if !bytes.Equal(got.Body, body) {
		t.Fatalf("the upstream got body %q, want the signed body %q", got.Body, body)
	}
	e.forwarded++
	return got
}

// deliver posts body signed now with secrets and requires it forwarded.
func (e *sigEnv) deliver(t *testing.T, body []byte, secrets ...string) testenv.RecordedRequest {
	t.Helper()
	before := e.up.Count()
	resp, respBody := postEvent(t, e.pg, body, stripeSignature(body, time.Now(), secrets...), nil)
	return e.wantForwarded(t, before, resp, respBody, body)
}

// wantRejected requires the signature refusal, told apart from no other
// (400 webhook_signature_invalid, the same body whatever the reason), that
// nothing was forwarded since before, and an audit event webhook.rejected
// with reason for this request.
func (e *sigEnv) wantRejected(t *testing.T, before int, resp *http.Response, body []byte, reason string) {
	t.Helper()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, body %s; want 400", resp.StatusCode, body)
	}
	apiErr := decodeAPIError(t, resp, body, "webhook_signature_invalid")
	if n := e.up.Count(); n != before {
		t.Fatalf("the upstream got %d requests, want %d: a refused event was forwarded", n, before)
	}
	var generic map[string]map[string]any
	if err := json.Unmarshal(body, &generic); err != nil {
		t.Fatal(err)
	}
	delete(generic["error"], "request_id")
	norm, _ := json.Marshal(generic)
	if e.refusal == "" {
		e.refusal = string(norm)
	}
	if string(norm) != e.refusal {
		t.Errorf("refusal body %s differs from another refusal's %s: it tells why", norm, e.refusal)
	}
	for _, r := range webhookSignatureReasons {
		if bytes.Contains(body, []byte(r)) {
			t.Errorf("refusal body %s names the reason %s", body, r)
		}
	}
	e.pg.WaitForLog(t, "audit webhook.rejected, reason "+reason, testenv.LogFields(map[string]string{
		"logger": "paygate.audit", "request_id": apiErr.Error.RequestID,
		"action": "webhook.rejected", "outcome": "denied", "reason": reason,
	}))
	e.rejected[reason]++
}

// wantRefused requires a refusal before the signature: status and code,
// nothing forwarded since before.
func (e *sigEnv) wantRefused(t *testing.T, before int, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, body %s; want %d %s", resp.StatusCode, body, status, code)
	}
	decodeAPIError(t, resp, body, code)
	if n := e.up.Count(); n != before {
		t.Fatalf("the upstream got %d requests, want %d: a refused request was forwarded", n, before)
	}
	e.refused++
}

// gzipped is b gzip-compressed.
func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// replaceOnce is bytes.Replace of old's one occurrence, failing the test
// when there is none (the attack would then change nothing).
func replaceOnce(t *testing.T, b []byte, old, repl string) []byte {
	t.Helper()
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%q not in %s", old, b)
	}
	return bytes.Replace(b, []byte(old), []byte(repl), 1)
}

// postEventStream posts body to pg's webhook route with an unknown length
// (an HTTP/2 stream without Content-Length), with header.
func postEventStream(t *testing.T, pg *testenv.Paygate, body []byte, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, pg.HTTPSURL+"/webhooks/stripe", io.MultiReader(bytes.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	req.Header = header.Clone()
	resp, err := pg.Client().Do(req)
	if err != nil {
		t.Fatalf("POST (stream): %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST (stream): reading body: %v", err)
	}
	return resp, b
}

// webhookSiteWith is webhookSite with block as stripe_webhook's block, for
// a reload (which renders the site with the data of the process's start).
func webhookSiteWith(t *testing.T, block string) string {
	t.Helper()
	const placeholder = "{{.Data.webhook}}"
	if !strings.Contains(webhookSite, placeholder) {
		t.Fatalf("webhookSite has no %s", placeholder)
	}
	return strings.Replace(webhookSite, placeholder, block, 1)
}

// wantNoSecrets requires that logs hold none of the signing secrets, no
// whsec_ at all, and none of extra (credentials sent with deliveries).
func wantNoSecrets(t *testing.T, logs []byte, extra ...string) {
	t.Helper()
	if len(logs) == 0 {
		t.Fatal("no logs to scan")
	}
	for _, s := range append([]string{webhookSecret, webhookSecretOld, "whsec_"}, extra...) {
		if i := bytes.Index(logs, []byte(s)); i >= 0 {
			line := logs[bytes.LastIndexByte(logs[:i], '\n')+1:]
			if j := bytes.IndexByte(line, '\n'); j >= 0 {
				line = line[:j]
			}
			t.Errorf("the logs hold a secret (%.12s...): %s", s, line)
		}
	}
}

// TestWebhookSignature attacks the webhook route through the binary as a
// sender without the signing secret would: every tampered, replayed,
// malformed or badly signed delivery is refused alike and never reaches
// the application, each next to a positive control (the same event
// correctly signed is forwarded); what is no delivery at all is refused
// before the signature; a forwarded event reaches the application byte for
// byte with paygate's event headers only; events of other types, modes or
// accounts are acknowledged and dropped; the secret is rolled by reloads;
// every failure is audited and counted; and no secret is ever logged. One
// process serves all of it.
func TestWebhookSignature(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	e := &sigEnv{pg: startWebhook(t, webhookConfig{upstream: up}), up: up, rejected: map[string]int{}}
	token := testenv.DevToken(t, "alice", nil)

	t.Run("tampered or badly signed events are refused", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			// attack turns body, signed correctly at now, into what is
			// sent.
			attack func(t *testing.T, body []byte, now time.Time) ([]byte, http.Header)
			reason string
			// tooBig sends over HTTP/1.1 (Go's HTTP/2 client refuses a
			// header list this large) and allows 431 instead of the 400:
			// the server answers a header over its limit before any
			// handler (observed: 431 for 10,000 v1, about 680 KB).
			tooBig bool
		}{
			{"one byte changed", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				return replaceOnce(t, b, `"amount":1000`, `"amount":9000`), signatureHeader(stripeSignature(b, now, webhookSecret))
			}, "no_matching_signature", false},
			{"whitespace added", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				return replaceOnce(t, b, `{`, `{ `), signatureHeader(stripeSignature(b, now, webhookSecret))
			}, "no_matching_signature", false},
			{"trailing newline", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				return append(slices.Clone(b), '\n'), signatureHeader(stripeSignature(b, now, webhookSecret))
			}, "no_matching_signature", false},
			{"re-serialized", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				var ev map[string]any
				if err := json.Unmarshal(b, &ev); err != nil {
					t.Fatal(err)
				}
				re, err := json.MarshalIndent(ev, "", "  ")
				if err != nil || bytes.Equal(re, b) {
					t.Fatalf("re-serializing changed nothing (%v)", err)
				}
				return re, signatureHeader(stripeSignature(b, now, webhookSecret))
			}, "no_matching_signature", false},
			{"UTF-8 BOM prepended", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				return append([]byte("\xEF\xBB\xBF"), b...), signatureHeader(stripeSignature(b, now, webhookSecret))
			}, "no_matching_signature", false},
			{"second object appended", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				second := stripeEventBody(t, "evt_"+rand.Text(), webhookevent.TypePaymentSucceeded, map[string]any{"id": "pi_second"}, nil)
				return append(slices.Clone(b), second...), signatureHeader(stripeSignature(b, now, webhookSecret))
			}, "no_matching_signature", false},
			{"gzip body, plain body's signature, no Content-Encoding", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				return gzipped(t, b), signatureHeader(stripeSignature(b, now, webhookSecret))
			}, "no_matching_signature", false},
			{"timestamp changed", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				return b, signatureHeader(fmt.Sprintf("t=%d,v1=%s", now.Unix()-1, v1Hex(b, now, webhookSecret)))
			}, "no_matching_signature", false},
			{"signed with an sk_test_ key", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				return b, signatureHeader(stripeSignature(b, now, apiKeyNotASecret))
			}, "no_matching_signature", false},
			{"signed with another endpoint's secret", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				return b, signatureHeader(stripeSignature(b, now, otherEndpointSecret))
			}, "no_matching_signature", false},
			{"signed 6 minutes ago", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				return b, signatureHeader(stripeSignature(b, now.Add(-6*time.Minute), webhookSecret))
			}, "timestamp_too_old", false},
			{"signed 6 minutes ahead", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				return b, signatureHeader(stripeSignature(b, now.Add(6*time.Minute), webhookSecret))
			}, "timestamp_in_future", false},
			{"t=0", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				return b, signatureHeader(stripeSignature(b, time.Unix(0, 0), webhookSecret))
			}, "timestamp_too_old", false},
			{"t=9999999999", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				return b, signatureHeader(stripeSignature(b, time.Unix(9999999999, 0), webhookSecret))
			}, "timestamp_in_future", false},
			{"no header", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				return b, nil
			}, "header_missing", false},
			{"empty header", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				return b, signatureHeader("")
			}, "header_missing", false},
			{"garbage", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				return b, signatureHeader("garbage")
			}, "header_malformed", false},
			{"v0 only", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				return b, signatureHeader(fmt.Sprintf("t=%d,v0=%s", now.Unix(), v1Hex(b, now, webhookSecret)))
			}, "no_v1_signature", false},
			{"t only", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				return b, signatureHeader(fmt.Sprintf("t=%d", now.Unix()))
			}, "no_v1_signature", false},
			{"non-hex v1", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				return b, signatureHeader(fmt.Sprintf("t=%d,v1=%s,v1=%s", now.Unix(), strings.Repeat("z", 64), v1Hex(b, now, webhookSecret)))
			}, "header_malformed", false},
			{"odd-length v1", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				return b, signatureHeader(fmt.Sprintf("t=%d,v1=%s,v1=%s", now.Unix(), randomV1()[1:], v1Hex(b, now, webhookSecret)))
			}, "header_malformed", false},
			{"repeated t", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				return b, signatureHeader(fmt.Sprintf("t=%d,t=%d,v1=%s", now.Add(-time.Hour).Unix(), now.Unix(), v1Hex(b, now, webhookSecret)))
			}, "header_malformed", false},
			{"repeated header", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				sig := stripeSignature(b, now, webhookSecret)
				return b, http.Header{"Stripe-Signature": {sig, sig}}
			}, "header_repeated", false},
			{"9 v1, the right one last", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				v := []string{"t=" + strconv.FormatInt(now.Unix(), 10)}
				for range 8 {
					v = append(v, "v1="+randomV1())
				}
				return b, signatureHeader(strings.Join(append(v, "v1="+v1Hex(b, now, webhookSecret)), ","))
			}, "too_many_signatures", false},
			{"over 1 KiB, the right v1 among unknown schemes", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				return b, signatureHeader(fmt.Sprintf("t=%d,v9=%s,v1=%s", now.Unix(), strings.Repeat("a", 1024), v1Hex(b, now, webhookSecret)))
			}, "header_too_long", false},
			{"10,000 v1, the right one last", func(t *testing.T, b []byte, now time.Time) ([]byte, http.Header) {
				v := []string{"t=" + strconv.FormatInt(now.Unix(), 10)}
				for range 9999 {
					v = append(v, "v1="+randomV1())
				}
				return b, signatureHeader(strings.Join(append(v, "v1="+v1Hex(b, now, webhookSecret)), ","))
			}, "header_too_long", true},
		} {
			t.Run(tt.name, func(t *testing.T) {
				body, now := paymentEvent(t), time.Now()
				sent, header := tt.attack(t, body, now)
				before := up.Count()
				var resp *http.Response
				var respBody []byte
				if tt.tooBig {
					header.Set("Content-Type", "application/json")
					resp, respBody = send(t, h1Client(t, e.pg), http.MethodPost, e.pg.HTTPSURL+"/webhooks/stripe", string(sent), header)
				} else {
					resp, respBody = postEvent(t, e.pg, sent, "", header)
				}
				if tt.tooBig && resp.StatusCode == http.StatusRequestHeaderFieldsTooLarge {
					t.Logf("answered 431 before the handler")
					if n := up.Count(); n != before {
						t.Fatalf("the upstream got %d requests, want %d", n, before)
					}
				} else {
					e.wantRejected(t, before, resp, respBody, tt.reason)
				}
				// Positive control: the event as signed is forwarded.
				e.deliver(t, body, webhookSecret)
			})
		}
	})

	t.Run("what is no delivery is refused before the signature", func(t *testing.T) {
		body := paymentEvent(t)
		sig := stripeSignature(body, time.Now(), webhookSecret)

		before := up.Count()
		resp, respBody := send(t, e.pg.Client(), http.MethodGet, e.pg.HTTPSURL+"/webhooks/stripe", "",
			signatureHeader(stripeSignature(nil, time.Now(), webhookSecret)))
		e.wantRefused(t, before, resp, respBody, http.StatusMethodNotAllowed, "method_not_allowed")
		if got := resp.Header.Get("Allow"); got != http.MethodPost {
			t.Errorf("Allow = %q, want POST", got)
		}

		// Declared too large: refused before the signature is looked at.
		big := stripeEventBody(t, "evt_"+rand.Text(), webhookevent.TypePaymentSucceeded,
			map[string]any{"id": "pi_big", "description": strings.Repeat("a", 600<<10)}, nil)
		resp, respBody = postEvent(t, e.pg, big, "", nil)
		e.wantRefused(t, before, resp, respBody, http.StatusRequestEntityTooLarge, "body_too_large")
		// Streamed without a length, correctly signed: cut at the limit.
		resp, respBody = postEventStream(t, e.pg, big, http.Header{
			"Content-Type": {"application/json"}, "Stripe-Signature": {stripeSignature(big, time.Now(), webhookSecret)}})
		e.wantRefused(t, before, resp, respBody, http.StatusRequestEntityTooLarge, "body_too_large")

		resp, respBody = postEvent(t, e.pg, body, sig, http.Header{"Content-Type": {"text/plain"}})
		e.wantRefused(t, before, resp, respBody, http.StatusUnsupportedMediaType, "unsupported_media_type")

		zipped := gzipped(t, body)
		resp, respBody = postEvent(t, e.pg, zipped, stripeSignature(zipped, time.Now(), webhookSecret),
			http.Header{"Content-Encoding": {"gzip"}})
		e.wantRefused(t, before, resp, respBody, http.StatusUnsupportedMediaType, "unsupported_media_type")

		// A user's credentials never stand in for a signature.
		resp, respBody = postEvent(t, e.pg, body, "", http.Header{
			"Authorization": {"Bearer " + token}, "Cookie": {"session=e2e-session-cookie"}})
		e.wantRejected(t, before, resp, respBody, "header_missing")

		// Positive control.
		e.deliver(t, body, webhookSecret)
	})

	t.Run("a forwarded event is the signed bytes with paygate's headers only", func(t *testing.T) {
		// Pretty-printed, as Stripe sends it: re-encoding would change it.
		var ev map[string]any
		if err := json.Unmarshal(paymentEvent(t), &ev); err != nil {
			t.Fatal(err)
		}
		body, err := json.MarshalIndent(ev, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		body = append(body, '\n')
		before := up.Count()
		resp, respBody := postEvent(t, e.pg, body, stripeSignature(body, time.Now(), webhookSecret), http.Header{
			"Authorization":             {"Bearer " + token},
			"Cookie":                    {"session=e2e-session-cookie"},
			"Paygate-Stripe-Event-Id":   {"evt_forged"},
			"paygate_stripe_event_id":   {"evt_forged_underscore"},
			"paygate-stripe-event-id":   {"evt_forged_lower"},
			"Paygate-Stripe-Event-Type": {"customer.deleted"},
			"paygate_stripe_livemode":   {"true"},
		})
		got := e.wantForwarded(t, before, resp, respBody, body)
		wantEventHeaders(t, got.Header, ev)
		for _, name := range []string{"Stripe-Signature", "Authorization", "Cookie"} {
			for h := range got.Header {
				if foldHeader(h) == foldHeader(name) {
					t.Errorf("the upstream got %s: %q", h, got.Header[h])
				}
			}
		}
	})

	t.Run("Connection cannot drop the event headers", func(t *testing.T) {
		body := paymentEvent(t)
		var ev map[string]any
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Fatal(err)
		}
		before := up.Count()
		resps, _ := rawExchange(t, e.pg, wireRequest(http.MethodPost, "/webhooks/stripe", "HTTP/1.1", []string{
			"Content-Type: application/json",
			"Content-Length: " + strconv.Itoa(len(body)),
			"Stripe-Signature: " + stripeSignature(body, time.Now(), webhookSecret),
			"Connection: close, " + webhookevent.HeaderID + ", " + webhookevent.HeaderType + ", " + webhookevent.HeaderLivemode,
		}, string(body)))
		if len(resps) != 1 {
			t.Fatalf("got %d responses, want 1", len(resps))
		}
		got := e.wantForwarded(t, before, resps[0].Response, resps[0].body, body)
		wantEventHeaders(t, got.Header, ev)
	})

	t.Run("other types, modes and accounts are acknowledged, not forwarded", func(t *testing.T) {
		for _, tt := range []struct {
			name, outcome string
			typ           string
			edit          func(ev map[string]any)
		}{
			{"type not in events", "ignored_type", "customer.created", nil},
			{"live event in test mode", "ignored_livemode", webhookevent.TypePaymentSucceeded, func(ev map[string]any) { ev["livemode"] = true }},
			{"another account's event", "ignored_account", webhookevent.TypePaymentSucceeded, func(ev map[string]any) { ev["account"] = "acct_other" }},
		} {
			t.Run(tt.name, func(t *testing.T) {
				body := stripeEventBody(t, "evt_"+rand.Text(), tt.typ, map[string]any{"id": "pi_" + rand.Text()}, tt.edit)
				before := up.Count()
				resp, respBody := postEvent(t, e.pg, body, stripeSignature(body, time.Now(), webhookSecret), nil)
				wantReceived(t, resp, respBody)
				if n := up.Count(); n != before {
					t.Fatalf("the upstream got %d requests, want %d", n, before)
				}
				e.pg.WaitForMetric(t, `paygate_webhook_events_total{outcome="`+tt.outcome+`"}`, testenv.MetricIs(1))
			})
		}
		// Positive control: the default type, mode and account.
		e.deliver(t, paymentEvent(t), webhookSecret)
	})

	t.Run("the secret is rolled by reloads", func(t *testing.T) {
		e.pg.Reload(t, webhookSiteWith(t, "secret {env.STRIPE_WEBHOOK_SECRET} {env.STRIPE_WEBHOOK_SECRET_OLD}"))
		for _, signers := range [][]string{
			{webhookSecretOld}, {webhookSecret}, {webhookSecret, webhookSecretOld}, {webhookSecretOld, webhookSecret},
		} {
			e.deliver(t, paymentEvent(t), signers...)
		}

		e.pg.Reload(t, webhookSiteWith(t, "secret {env.STRIPE_WEBHOOK_SECRET}"))
		body := paymentEvent(t)
		before := up.Count()
		resp, respBody := postEvent(t, e.pg, body, stripeSignature(body, time.Now(), webhookSecretOld), nil)
		e.wantRejected(t, before, resp, respBody, "no_matching_signature")
		e.deliver(t, body, webhookSecret)
		e.deliver(t, paymentEvent(t), webhookSecretOld, webhookSecret)
	})

	t.Run("every failure is counted", func(t *testing.T) {
		total := 0
		for _, reason := range webhookSignatureReasons {
			total += e.rejected[reason]
			e.pg.WaitForMetric(t, `paygate_webhook_signature_failures_total{reason="`+reason+`"}`, testenv.MetricIs(float64(e.rejected[reason])))
		}
		if len(e.rejected) != len(webhookSignatureReasons) {
			t.Errorf("signature failures sent by reason: %v; want every reason", e.rejected)
		}
		for outcome, n := range map[string]int{"signature_invalid": total, "refused": e.refused, "processed": e.forwarded} {
			e.pg.WaitForMetric(t, `paygate_webhook_events_total{outcome="`+outcome+`"}`, testenv.MetricIs(float64(n)))
		}
	})

	e.pg.Stop()
	wantNoSecrets(t, e.pg.Logs(t), token, "e2e-session-cookie")
}

// wantEventHeaders requires that h carries paygate's event headers, each
// once, in one spelling, with ev's values, and no client copy of them.
func wantEventHeaders(t *testing.T, h http.Header, ev map[string]any) {
	t.Helper()
	want := map[string]string{
		webhookevent.HeaderID:       ev["id"].(string),
		webhookevent.HeaderType:     ev["type"].(string),
		webhookevent.HeaderLivemode: strconv.FormatBool(ev["livemode"].(bool)),
	}
	for name, value := range want {
		var spellings []string
		for k := range h {
			if foldHeader(k) == foldHeader(name) {
				spellings = append(spellings, k)
			}
		}
		if len(spellings) != 1 || spellings[0] != name || len(h[name]) != 1 || h[name][0] != value {
			got := map[string][]string{}
			for _, k := range spellings {
				got[k] = h[k]
			}
			t.Errorf("the upstream got %v, want only %s: %s", got, name, value)
		}
	}
}

// webhookBypassRoute is a route where payment_events runs without
// stripe_webhook before it: the configuration mistake that would let
// anyone post events.
const webhookBypassRoute = `route /webhooks/unverified {
		security_headers api
		tls_enforce
		payment_events
	}`

// TestWebhookForgedEvents is the forged-event attack on the ownership
// index through payment_events: an attacker who owns a setup intent posts
// a setup_intent.succeeded naming a card (or an intent) that is not
// theirs, or a payment_method.detached naming someone's intent. Unsigned,
// it is refused; on a route that lacks stripe_webhook, payment_events
// refuses it and logs the configuration error; correctly signed but naming
// the wrong kind of object, it is acknowledged and changes nothing. The
// positive controls prove that verified events do change ownership.
func TestWebhookForgedEvents(t *testing.T) {
	rs := testenv.Redis(t)
	opts := webhookOptions(webhookConfig{downstream: "payment_events", global: redisStoreGlobal(rs), extra: webhookBypassRoute})
	pg := testenv.StartPaygate(t, opts)
	rdb := rs.Client(t)
	ctx := context.Background()
	for id, owner := range map[string]string{"pi_victim": "victim", "pm_victim": "victim", "seti_attacker": "attacker"} {
		if err := rdb.Set(ctx, "paygate:"+ownership.Key(id), owner, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// owners reads the owner records of ids ("" for none).
	owners := func(t *testing.T, ids ...string) map[string]string {
		t.Helper()
		got := map[string]string{}
		for _, id := range ids {
			v, err := rdb.Get(ctx, "paygate:"+ownership.Key(id)).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				t.Fatal(err)
			}
			got[id] = v
		}
		return got
	}
	wantOwners := func(t *testing.T, want map[string]string) {
		t.Helper()
		if got := owners(t, slices.Sorted(maps.Keys(want))...); !maps.Equal(got, want) {
			t.Fatalf("owner records = %v, want %v", got, want)
		}
	}
	initial := map[string]string{"pi_victim": "victim", "pm_victim": "victim", "seti_attacker": "attacker",
		"pm_loot": "", "pi_unowned": "", "pm_fresh": ""}
	setupSucceeded := func(t *testing.T, pm string) []byte {
		return stripeEventBody(t, "evt_"+rand.Text(), webhookevent.TypeSetupSucceeded,
			map[string]any{"id": "seti_attacker", "object": "setup_intent", "payment_method": pm}, nil)
	}
	token := testenv.DevToken(t, "attacker", nil)

	t.Run("unsigned events are refused", func(t *testing.T) {
		for _, body := range [][]byte{
			[]byte(`{"type":"setup_intent.succeeded","data":{"object":{"id":"seti_x","payment_method":"pi_victim"}}}`),
			setupSucceeded(t, "pm_loot"),
		} {
			resp, respBody := postEvent(t, pg, body, "", http.Header{"Authorization": {"Bearer " + token}})
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, body %s; want 400", resp.StatusCode, respBody)
			}
			decodeAPIError(t, resp, respBody, "webhook_signature_invalid")
		}
		wantOwners(t, initial)
	})

	t.Run("payment_events without stripe_webhook refuses every event", func(t *testing.T) {
		body := setupSucceeded(t, "pm_loot")
		// Even correctly signed: no stage verified it.
		resp, respBody := send(t, pg.Client(), http.MethodPost, pg.HTTPSURL+"/webhooks/unverified", string(body), http.Header{
			"Content-Type": {"application/json"}, "Stripe-Signature": {stripeSignature(body, time.Now(), webhookSecret)}})
		if resp.StatusCode != http.StatusInternalServerError {
			t.Fatalf("status %d, body %s; want 500", resp.StatusCode, respBody)
		}
		decodeAPIError(t, resp, respBody, "internal_error")
		pg.WaitForLog(t, "payment_events' configuration error", func(e testenv.LogEntry) bool {
			return e.Str("level") == "error" && strings.Contains(e.Str("msg"), "did not pass stripe_webhook")
		})
		wantOwners(t, initial)
	})

	t.Run("verified events naming the wrong kind of object change nothing", func(t *testing.T) {
		for _, body := range [][]byte{
			setupSucceeded(t, "pi_victim"),
			setupSucceeded(t, "pi_unowned"),
			stripeEventBody(t, "evt_"+rand.Text(), webhookevent.TypePaymentMethodDetached,
				map[string]any{"id": "pi_victim", "object": "payment_method"}, nil),
		} {
			resp, respBody := postEvent(t, pg, body, stripeSignature(body, time.Now(), webhookSecret), nil)
			wantReceived(t, resp, respBody)
		}
		wantOwners(t, initial)
	})

	t.Run("positive controls: verified events change ownership", func(t *testing.T) {
		body := setupSucceeded(t, "pm_fresh")
		resp, respBody := postEvent(t, pg, body, stripeSignature(body, time.Now(), webhookSecret), nil)
		wantReceived(t, resp, respBody)
		body = stripeEventBody(t, "evt_"+rand.Text(), webhookevent.TypePaymentMethodDetached,
			map[string]any{"id": "pm_victim", "object": "payment_method"}, nil)
		resp, respBody = postEvent(t, pg, body, stripeSignature(body, time.Now(), webhookSecret), nil)
		wantReceived(t, resp, respBody)
		want := maps.Clone(initial)
		want["pm_fresh"], want["pm_victim"] = "attacker", ""
		wantOwners(t, want)
	})

	pg.Stop()
	wantNoSecrets(t, pg.Logs(t), token)
}
