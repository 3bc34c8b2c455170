package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/testenv"
)

// TestLeakScanPaymentFlows drives every payment flow through the shipped
// pipeline (headers, TLS, card-data guard, jwt_auth, payments) with every
// logger at DEBUG through the redacting encoder and Caddy's own credential
// masking off, with planted secrets in bodies, headers, paths and queries
// next to the real tokens and client secrets of the flows; then it scans
// everything paygate logged.
func TestLeakScanPaymentFlows(t *testing.T) {
	e := startPaymentsLogging(t, "log {\n\t\tlevel DEBUG\n\t\tformat redact\n\t}\n\tservers {\n\t\tlog_credentials\n\t}",
		"log {\n\t\tformat redact\n\t\tlevel DEBUG\n\t}", nil)
	plants := leakPlants()
	for _, user := range []string{"alice", "bob"} {
		tok := e.auth.tokens[user]
		parts := strings.Split(tok, ".")
		plants = append(plants, plantSecret(user+"'s valid token", tok, parts[1], parts[2]))
	}
	// Secrets Stripe hands back travel in responses and must stop there.
	plants = append(plants, plantSecret("decline's client secret", declineSecret), plantSecret("Stripe's decline message", declineMessage))
	keep := func(resp *http.Response, body []byte) {
		m := paymentJSON(t, body)
		if cs, ok := m["client_secret"].(string); ok && cs != "" {
			plants = append(plants, plantSecret("client secret of "+m["id"].(string), cs, cs[strings.Index(cs, "_secret_")+len("_secret_"):]))
		}
	}
	json := http.Header{"Content-Type": {"application/json"}}
	idem := func(k string) http.Header { return http.Header{"Idempotency-Key": {k}} }

	// The flows, as a client runs them.
	resp, body := e.do("POST", "/v1/payment_intents", "alice", paymentOrder, idem("leak-1"))
	wantPaymentStatus(t, resp, body, http.StatusCreated)
	keep(resp, body)
	id := paymentJSON(t, body)["id"].(string)
	for _, step := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/v1/payment_intents/" + id, "", http.StatusOK},
		{"POST", "/v1/payment_intents/" + id + "/confirm", `{"payment_method":"` + pmThreeDS + `"}`, http.StatusOK},
		{"POST", "/v1/payment_intents/" + id + "/confirm", `{"payment_method":"` + pmDeclined + `"}`, http.StatusPaymentRequired},
		{"POST", "/v1/payment_intents/" + id + "/cancel", "", http.StatusOK},
		{"POST", "/v1/setup_intents", "", http.StatusCreated},
		{"GET", "/v1/payment_methods", "", http.StatusOK},
		{"DELETE", "/v1/customers/me", "", http.StatusNoContent},
	} {
		resp, body := e.do(step.method, step.path, "alice", step.body, nil)
		wantPaymentStatus(t, resp, body, step.status)
		if len(body) > 0 && resp.StatusCode < 300 {
			keep(resp, body)
		}
	}

	// Attacks and mistakes carrying the planted secrets.
	card := plantedCards
	attacks := []struct {
		name, method, path, body string
		header                   http.Header
		status                   int
	}{
		{"card and CVC in the payment body", "POST", "/v1/payment_intents",
			`{"items":[{"sku":"standard_clean","quantity":1}],"currency":"usd","card":{"number":"` + card["card in a JSON body"] + `","cvc":"` + plantedCVC + `"}}`,
			idem("leak-2"), http.StatusBadRequest},
		{"secret key smuggled as a field", "POST", "/v1/payment_intents",
			`{"items":[{"sku":"standard_clean","quantity":1}],"currency":"usd","stripe_key":"` + plantedSecretKey + `","` + plantedRestricted + `":1}`,
			idem("leak-3"), http.StatusBadRequest},
		{"client secret and webhook secret as a reference", "POST", "/v1/payment_intents",
			`{"items":[{"sku":"standard_clean","quantity":1}],"currency":"usd","reference":"` + plantedClientSecret + plantedWebhook + `"}`,
			idem("leak-4"), http.StatusBadRequest},
		{"card in the query", "GET", "/v1/payment_methods?card=" + card["card in the query"] + "&key=" + plantedTestKey, "", nil, http.StatusBadRequest},
		{"card in the path", "GET", "/v1/payment_intents/" + card["card in the path"], "", nil, http.StatusBadRequest},
		{"card in a custom header", "GET", "/v1/payment_methods", "", http.Header{"X-Card": {card["card in a custom header"]}}, http.StatusBadRequest},
		{"secret key as the idempotency key", "POST", "/v1/payment_intents", paymentOrder, idem(plantedSecretKey), 0},
		{"password in a cookie", "GET", "/v1/payment_methods", "", http.Header{"Cookie": {"session=" + plantedPassword}}, http.StatusOK},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range a.header {
				h[k] = v
			}
			if a.body != "" {
				for k, v := range json {
					h[k] = v
				}
			}
			resp, body := e.do(a.method, a.path, "alice", a.body, h)
			if a.status != 0 && resp.StatusCode != a.status {
				t.Errorf("status = %d, want %d (body %s)", resp.StatusCode, a.status, body)
			}
		})
	}

	// Refused credentials: a planted token, a Basic credential, a secret key as a bearer.
	for name, authz := range map[string]string{
		"planted JWT":                 "Bearer " + plantedJWT,
		"basic credential":            "Basic " + plantedBasic,
		"secret key":                  "Bearer " + plantedSecretKey,
		"client secret":               "Bearer " + plantedClientSecret,
		"expired valid-looking token": "Bearer " + testenv.DevToken(t, "mallory", map[string]any{"exp": time.Now().Add(-time.Minute).Unix()}),
	} {
		resp, body := e.do("GET", "/v1/payment_methods", "", "", http.Header{"Authorization": {authz}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status = %d, want 401 (body %s)", name, resp.StatusCode, body)
		}
	}

	requireNoLeaks(t, e.pg, plants)
}
