package e2e

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
)

// pmUnknown is a payment method Stripe does not know.
const pmUnknown = "pm_neverCreatedAnywhere1"

// missingPaymentMethodFront passes every call to front but those that name
// pmUnknown, which it answers as Stripe does: 404 resource_missing
// (stripe-mock never answers 404).
func missingPaymentMethodFront(t *testing.T, front string) string {
	target, err := url.Parse(front)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if form, _ := url.ParseQuery(string(body)); form.Get("payment_method") != pmUnknown {
			proxy.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Request-Id", "req_missing")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":{"type":"invalid_request_error","code":"resource_missing","param":"payment_method","message":"No such PaymentMethod: '`+pmUnknown+`'"}}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// A payment method recorded as alice's, in bob's payment or confirmation,
// is refused with exactly the answer of a payment method that does not
// exist (no existence oracle, DESIGN §3).
func TestBOLAPaymentMethodInBodyIndistinguishable(t *testing.T) {
	e := startPaymentsLogging(t, "", "", func(front string) string { return missingPaymentMethodFront(t, front) })
	const alicePM = "pm_alice_card_1"
	order := func(pm string) string {
		return strings.Replace(paymentOrder, `"reference"`, `"payment_method":"`+pm+`","reference"`, 1)
	}
	resp, body := e.do("POST", "/v1/payment_intents", "alice", order(alicePM), http.Header{"Idempotency-Key": {"pm-oracle-1"}})
	wantPaymentStatus(t, resp, body, http.StatusCreated)
	bobIntent := e.createIntent("bob", "pm-oracle-2")

	for _, a := range []struct {
		name, path string
		body       func(pm string) string
	}{
		{"create", "/v1/payment_intents", order},
		{"confirm", "/v1/payment_intents/" + bobIntent + "/confirm", func(pm string) string { return `{"payment_method":"` + pm + `"}` }},
	} {
		t.Run(a.name, func(t *testing.T) {
			answer := func(pm string) []byte {
				t.Helper()
				resp, body := e.do("POST", a.path, "bob", a.body(pm), http.Header{"Idempotency-Key": {a.name + "-" + pm}})
				wantPaymentStatus(t, resp, body, http.StatusNotFound)
				decodeAPIError(t, resp, body, "resource_missing")
				return withoutRequestID(t, body)
			}
			missing := answer(pmUnknown)
			if got := answer(alicePM); !bytes.Equal(got, missing) {
				t.Errorf("bob's answer for alice's payment method %s differs from a missing one's %s", got, missing)
			}
		})
	}
}
