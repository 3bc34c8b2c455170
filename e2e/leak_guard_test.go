package e2e

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/testenv"
)

// Planted secrets: made up for these tests, distinct from anything else a
// log line may hold.
const (
	plantedJWT          = "eyJhbGciOiJSUzI1NiIsImtpZCI6InBsYW50ZWQifQ.eyJzdWIiOiJ1c2VyX3BsYW50ZWQiLCJleHAiOjE5MDAwMDAwMDB9.UGxhbnRlZFNpZ25hdHVyZVBsYW50ZWRTaWduYXR1cmUx"
	plantedSecretKey    = "sk_live_51PlantedLiveSecretKey0000000001"
	plantedTestKey      = "sk_test_51PlantedTestSecretKey0000000002"
	plantedRestricted   = "rk_live_51PlantedRestrictedKey000000003"
	plantedWebhook      = "whsec_PlantedWebhookSecret+/0004=="
	plantedClientSecret = "pi_3PlantedIntent0000005_secret_PlantedClientSecret0005"
	plantedCVC          = "739"
	plantedPassword     = "hunter2-planted-0006"
)

// plantedBasic is a Basic credential, base64("paygate-ops:" + password).
var plantedBasic = base64.StdEncoding.EncodeToString([]byte("paygate-ops:" + plantedPassword))

// Planted card numbers, one per place they are sent.
var plantedCards = map[string]string{
	"card in a JSON body":          "4242424242424242",
	"card in the query":            "5555555555554444",
	"card in the path":             "378282246310005",
	"card in a custom header":      "6011111111111117",
	"card in Authorization":        "4000056655665556",
	"card in a cookie":             "3566002020360505",
	"card in the token cookie":     "6011000990139424",
	"card in a form body":          "2223003122003222",
	"card sent to a dead upstream": "3056930009020004",
	"card in a refused name":       "5200828282828210",
	"card in a refused media type": "4000002760003184",
}

// leakPlants are the secrets the attacks of TestLeakScanGuardPipeline plant.
func leakPlants() []plant {
	jwtParts := strings.Split(plantedJWT, ".")
	tail := func(s, sep string) string { return s[strings.LastIndex(s, sep)+len(sep):] }
	plants := []plant{
		plantSecret("JWT", plantedJWT, jwtParts[1], jwtParts[2]),
		plantSecret("live secret key", plantedSecretKey, tail(plantedSecretKey, "_")),
		plantSecret("test secret key", plantedTestKey, tail(plantedTestKey, "_")),
		plantSecret("restricted key", plantedRestricted, tail(plantedRestricted, "_")),
		plantSecret("webhook secret", plantedWebhook, tail(plantedWebhook, "_")),
		plantSecret("client secret", plantedClientSecret, tail(plantedClientSecret, "_secret_")),
		plantSecret("basic credential", plantedBasic),
		plantSecret("password", plantedPassword),
		plantNamed("CVC", plantedCVC, "cvc", "card[cvc]", "card%5Bcvc%5D", "X-Card-Cvc", "cvv"),
	}
	for name, number := range plantedCards {
		plants = append(plants, plantCard(name, number))
	}
	return plants
}

// leakSite is the pipeline as it exists today, logging as much as it can:
// the default logger and the site's access log at DEBUG, through the
// redacting encoder, with Caddy's own masking of credential headers turned
// off (log_credentials) so that the redaction is paygate's alone. {{.Data.format}}
// is the log format.
const leakSite = `
https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	log {
		format {{.Data.format}}
		level DEBUG
	}
	route /guarded/* {
		security_headers api
		tls_enforce
		request_guard
		card_data_guard
		reverse_proxy {{.Upstream}}
	}
	route /dead/* {
		security_headers api
		tls_enforce
		card_data_guard {
			skip_cookie __Host-session
		}
		reverse_proxy 127.0.0.1:{{.Data.deadPort}}
	}
	route {
		security_headers api
		tls_enforce
		card_data_guard {
			skip_cookie __Host-session
		}
		reverse_proxy {{.Upstream}}
	}
	handle_errors {
		paygate_error
	}
}
`

// leakGlobal sets the default logger; {{.Data.format}} is the log format.
const leakGlobal = `log {
		level DEBUG
		format {{.Data.format}}
	}
	servers {
		log_credentials
	}`

// leakyUpstream answers like an application that leaks secrets into its
// response headers, which Caddy's logs record.
func leakyUpstream() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Set-Cookie", "__Host-session="+plantedJWT+"; Secure; HttpOnly")
		w.Header().Set("X-Debug-Key", plantedTestKey)
		w.Header().Set("X-Debug-Secret", plantedClientSecret)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
}

// leakAttack is one request that carries planted secrets.
type leakAttack struct {
	name, method, target, body string
	header                     http.Header
	status                     int
}

// leakAttacks carry every planted secret in bodies, headers (credential
// ones included), paths and queries; card numbers in the places the guard
// scans are refused, the rest go through to the upstream (or fail at a dead
// one, for Caddy's error logs).
func leakAttacks() []leakAttack {
	card := plantedCards
	return []leakAttack{
		{name: "card and CVC in a JSON body", method: "POST", target: "/v1/payment_intents",
			body:   `{"card":{"number":"` + card["card in a JSON body"] + `","cvc":"` + plantedCVC + `"}}`,
			header: http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + plantedJWT}}, status: 400},
		{name: "card in a form body", method: "POST", target: "/v1/tokens",
			body:   "card%5Bnumber%5D=" + strings.Join(groupDigits(card["card in a form body"]), "+") + "&card%5Bcvc%5D=" + plantedCVC,
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, status: 400},
		{name: "card and CVC in the query", method: "GET",
			target: "/v1/payment_methods?number=" + card["card in the query"] + "&cvc=" + plantedCVC, status: 400},
		{name: "URL-encoded card in the query", method: "GET",
			target: "/v1/payment_methods?number=" + strings.Join(groupDigits(card["card in the query"]), "%20"), status: 400},
		{name: "form-encoded card in the query", method: "GET",
			target: "/v1/payment_methods?card%5Bnumber%5D=" + strings.Join(groupDigits(card["card in the query"]), "+"), status: 400},
		{name: "card in the path", method: "GET", target: "/v1/cards/" + card["card in the path"], status: 400},
		{name: "dashed card in the path", method: "GET", target: "/v1/cards/" + strings.Join(groupDigits(card["card in the path"]), "-"), status: 400},
		{name: "card in a custom header", method: "GET", target: "/v1/payment_methods",
			header: http.Header{"X-Card": {strings.Join(groupDigits(card["card in a custom header"]), " ")}}, status: 400},
		{name: "card in Authorization, which is not scanned", method: "GET", target: "/v1/payment_methods",
			header: http.Header{"Authorization": {"Bearer " + card["card in Authorization"]}}, status: 200},
		{name: "card in a cookie", method: "GET", target: "/v1/payment_methods",
			header: http.Header{"Cookie": {"pan=" + strings.Join(groupDigits(card["card in a cookie"]), "-") + "; __Host-session=" + plantedJWT}}, status: 400},
		{name: "card in the token cookie, which is not scanned", method: "GET", target: "/v1/payment_methods",
			header: http.Header{"Cookie": {"theme=dark; __Host-session=" + card["card in the token cookie"]}}, status: 200},
		{name: "CVC in query and headers", method: "GET", target: "/v1/payment_methods?card%5Bcvc%5D=" + plantedCVC + "&cvv=" + plantedCVC,
			header: http.Header{"X-Card-Cvc": {plantedCVC}}, status: 200},
		{name: "JWT everywhere", method: "GET", target: "/v1/sessions/" + plantedJWT + "?access_token=" + plantedJWT,
			header: http.Header{"Authorization": {"Bearer " + plantedJWT}, "X-Id-Token": {plantedJWT}, "Cookie": {"__Host-session=" + plantedJWT}}, status: 200},
		{name: "Stripe keys in query, path and headers", method: "POST", target: "/v1/keys/" + plantedRestricted + "?key=" + plantedSecretKey + "&webhook=" + plantedWebhook,
			header: http.Header{"X-Stripe-Key": {plantedTestKey}, "X-Webhook-Secret": {plantedWebhook}, "Stripe-Signature": {"t=1700000000,v1=" + plantedWebhook}},
			body:   `{"secret":"` + plantedSecretKey + `"}`, status: 200},
		{name: "client secret in query, path and header", method: "GET", target: "/v1/payment_intents/" + plantedClientSecret + "?client_secret=" + plantedClientSecret,
			header: http.Header{"X-Client-Secret": {plantedClientSecret}}, status: 200},
		{name: "basic credentials", method: "GET", target: "/v1/payment_methods?auth=Basic%20" + plantedBasic + "&password=" + plantedPassword,
			header: http.Header{"Authorization": {"Basic " + plantedBasic}, "Proxy-Authorization": {"Basic " + plantedBasic}, "X-Forwarded-Authorization": {"Basic " + plantedBasic}}, status: 200},
		// request_guard refuses these before card_data_guard sees them, and
		// its cause quotes the offending name with Go's %q: the escape it
		// writes for a control or invisible character must not glue onto
		// the digits after it and hide a card number from the redaction.
		{name: "card in a repeated parameter's name, after a NUL", method: "GET",
			target: "/guarded/v1/payment_methods?%00" + card["card in a refused name"] + "=1&%00" + card["card in a refused name"] + "=2", status: 400},
		{name: "card in a media type parameter, after an invisible character", method: "POST", target: "/guarded/v1/payment_intents",
			header: http.Header{"Content-Type": {"application/json; x=\"\U000e0001" + card["card in a refused media type"] + "\""}}, body: "{}", status: 415},
		{name: "secrets in a repeated parameter's name, after escapes", method: "GET",
			target: "/guarded/v1/payment_methods?%0A" + plantedSecretKey + "=1&%0A" + plantedSecretKey + "=2&%C2%A0" + plantedWebhook + "=1&%C2%A0" + plantedWebhook + "=2&%09" + plantedJWT + "=1&%09" + plantedJWT + "=2",
			status: 400},
		{name: "Stripe key in a Content-Encoding, after a tab", method: "POST", target: "/guarded/v1/payment_intents",
			header: http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"x\t" + plantedRestricted}}, body: "{}", status: 415},
		{name: "secrets sent to a dead upstream", method: "POST", target: "/dead/v1/payment_intents?access_token=" + plantedJWT + "&cvc=" + plantedCVC,
			header: http.Header{"Authorization": {"Bearer " + plantedJWT}, "Cookie": {"__Host-session=" + card["card sent to a dead upstream"]}, "X-Stripe-Key": {plantedSecretKey}},
			body:   `{"reference":"ORD-2024-000123"}`, status: 502},
	}
}

// driveAttacks sends every attack to pg and checks its status.
func driveAttacks(t *testing.T, pg *testenv.Paygate) {
	t.Helper()
	c := pg.Client()
	for _, a := range leakAttacks() {
		resp, body := send(t, c, a.method, pg.HTTPSURL+a.target, a.body, a.header)
		if resp.StatusCode != a.status {
			t.Errorf("%s: status = %d, want %d (body %s)", a.name, resp.StatusCode, a.status, body)
		}
	}
}

// startLeakPaygate starts paygate on leakSite with the given log format.
func startLeakPaygate(t *testing.T, format string) *testenv.Paygate {
	t.Helper()
	up := testenv.StartUpstream(t, leakyUpstream())
	return testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream: up,
		Global:   leakGlobal,
		Site:     leakSite,
		Data:     map[string]any{"format": format, "deadPort": testenv.FreePort(t)},
	})
}

// TestLeakScanGuardPipeline drives every attack through the pipeline that
// exists today and scans everything paygate logged: zero leaks.
func TestLeakScanGuardPipeline(t *testing.T) {
	pg := startLeakPaygate(t, "redact")
	driveAttacks(t, pg)
	requireNoLeaks(t, pg, leakPlants())

	// The scan was not vacuous: the access log recorded every request, with
	// the places the secrets were in, masked.
	logs := string(pg.Logs(t))
	if n := strings.Count(logs, `"msg":"handled request"`); n < len(leakAttacks()) {
		t.Errorf("%d access log entries, want at least %d", n, len(leakAttacks()))
	}
	for _, want := range []string{
		`"uri":"/v1/cards/[card_ending_0005]"`,
		`"Authorization":["[redacted]"]`,
		`"X-Card-Cvc":["[redacted]"]`,
		`"X-Stripe-Key":["sk_test_[redacted]"]`,
		`"Set-Cookie":["[redacted]"]`,
		`"msg":"upstream roundtrip"`,
		`"action":"card_data_refused"`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the logs lack %s", want)
		}
	}
}

// TestLeakScanCatchesUnredactedLogs runs the same attacks with Caddy's
// plain json encoder: the scanner must find the secrets that the redacting
// encoder keeps out.
func TestLeakScanCatchesUnredactedLogs(t *testing.T) {
	pg := startLeakPaygate(t, "json")
	driveAttacks(t, pg)
	pg.Stop()
	found := map[string]bool{}
	for _, l := range findLeaks(pg.Logs(t), leakPlants()) {
		found[strings.SplitN(l.what, " as ", 2)[0]] = true
	}
	for _, p := range leakPlants() {
		if p.name == "card in a JSON body" || p.name == "card in a form body" {
			continue // only ever in bodies, which no log holds
		}
		if !found[p.name] {
			t.Errorf("%s: not found in unredacted logs", p.name)
		}
	}
}
