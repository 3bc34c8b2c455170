package stripewebhook

import (
	"github.com/prometheus/client_golang/prometheus"

	pgmetrics "github.com/paygate/paygate/internal/metrics"
)

// Outcomes of a delivery, the values of paygate_webhook_events_total's
// outcome label (and of the audit events' reason).
const (
	// outcomeProcessed: forwarded, and the next handler answered 2xx.
	outcomeProcessed = "processed"
	// outcomeDuplicate: an already processed event, acknowledged.
	outcomeDuplicate = "duplicate"
	// outcomeInFlight: a duplicate of an event being processed (409).
	outcomeInFlight = "in_flight"
	// outcomeFailed: forwarded, and the next handler failed (or timed out).
	outcomeFailed = "failed"
	// outcomeIgnoredType, outcomeOtherMode, outcomeOtherAccount: verified,
	// acknowledged, not forwarded.
	outcomeIgnoredType  = "ignored_type"
	outcomeOtherMode    = "ignored_livemode"
	outcomeOtherAccount = "ignored_account"
	// outcomeAPIVersion: refused under api_version strict.
	outcomeAPIVersion = "api_version_mismatch"
	// outcomeRejected: the signature check failed.
	outcomeRejected = "signature_invalid"
	// outcomeRefused: not a delivery (method, encoding, media type, size,
	// a verified body that is not an event).
	outcomeRefused = "refused"
	// outcomeStoreUnavailable: no lease could be taken (503).
	outcomeStoreUnavailable = "store_unavailable"
)

// webhookMetrics are created once per process (see internal/metrics);
// their labels come from the fixed sets above and in signature.go.
var (
	events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paygate_webhook_events_total",
		Help: "Stripe webhook deliveries, by outcome.",
	}, []string{"outcome"})
	signatureFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paygate_webhook_signature_failures_total",
		Help: "Stripe webhook deliveries refused for their signature, by reason.",
	}, []string{"reason"})
	processing = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "paygate_webhook_processing_seconds",
		Help:    "Time the handler after stripe_webhook took to process an event.",
		Buckets: prometheus.DefBuckets,
	})
	eventLag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "paygate_webhook_event_lag_seconds",
		Help:    "Time from a verified event's creation at Stripe to its arrival (retries included).",
		Buckets: []float64{1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 72 * 3600},
	})
)

func registerMetrics(reg prometheus.Registerer) error {
	return pgmetrics.Register(reg, events, signatureFailures, processing, eventLag)
}

// observe counts one delivery.
func observe(outcome string) {
	events.WithLabelValues(outcome).Inc()
}
