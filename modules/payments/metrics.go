package payments

import (
	"github.com/prometheus/client_golang/prometheus"

	pgmetrics "github.com/paygate/paygate/internal/metrics"
)

// Outcomes of a payment action, the values of paygate_payments_total's
// outcome label.
const (
	outcomeSucceeded = "succeeded"
	// outcomeDeclined: the card or its issuer refused (402).
	outcomeDeclined = "declined"
	// outcomeRejected: paygate refused the request (4xx other than 402).
	outcomeRejected = "rejected"
	// outcomeError: paygate, the store or Stripe failed (5xx).
	outcomeError = "error"
	// outcomeIgnored: an event about an object that is not ours, or of a
	// type that is not processed.
	outcomeIgnored = "ignored"
)

// Results of a Stripe call, the values of paygate_stripe_calls_total's
// result label.
const (
	stripeResultOK    = "ok"
	stripeResultError = "error"
)

// paymentMetrics are created once per process (see internal/metrics). Their
// labels are action names, outcomes and error codes, all from fixed sets:
// actions are the route table's and the processed event types', codes are
// paygate's (Stripe's card error codes are reduced to a known list), ops are
// the literal names of the handler's Stripe calls.
var paymentMetrics = struct {
	total       *prometheus.CounterVec
	failures    *prometheus.CounterVec
	stripeCalls *prometheus.CounterVec
}{
	total: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paygate_payments_total",
		Help: "Payment API calls and processed Stripe events, by action and outcome.",
	}, []string{"action", "outcome"}),
	failures: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paygate_payment_failures_total",
		Help: "Payment API calls and Stripe events that did not succeed, by error code.",
	}, []string{"code"}),
	stripeCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paygate_stripe_calls_total",
		Help: "Calls to Stripe's API, by operation and result (ok or error).",
	}, []string{"op", "result"}),
}

func registerMetrics(reg prometheus.Registerer) error {
	return pgmetrics.Register(reg, paymentMetrics.total, paymentMetrics.failures, paymentMetrics.stripeCalls)
}

// observe counts one action; code is the error's code, or "" on success.
func observe(action, outcome, code string) {
	paymentMetrics.total.WithLabelValues(action, outcome).Inc()
	if code != "" {
		paymentMetrics.failures.WithLabelValues(code).Inc()
	}
}
