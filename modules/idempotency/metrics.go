package idempotency

import (
	"github.com/prometheus/client_golang/prometheus"

	pgmetrics "github.com/paygate/paygate/internal/metrics"
)

// Outcomes of a request on an idempotent route, the values of
// paygate_idempotency_requests_total's outcome label.
const (
	outcomeMissing          = "key_missing"
	outcomeInvalid          = "key_invalid"
	outcomeMisconfigured    = "no_user"
	outcomeStoreUnavailable = "store_unavailable"
	outcomeInUse            = "in_use"
	outcomeReused           = "reused"
	outcomeReplayed         = "replayed"
	outcomeUnavailable      = "response_unavailable"
	outcomeStored           = "stored"
	outcomeTooLarge         = "stored_too_large"
	outcomeCompleteFailed   = "store_failed"
	// outcomeReleased is followed by why: _aborted, _not_executed,
	// _unencodable, _refused (the limits refused the request).
	outcomeReleased = "released"
)

var (
	requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paygate_idempotency_requests_total",
		Help: "Requests on idempotent routes, by outcome.",
	}, []string{"outcome"})
	renewals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paygate_idempotency_lease_renewals_total",
		Help: "Renewals of the leases of idempotent requests that ran longer than a third of the lease, by result (ok, lost, error).",
	}, []string{"result"})
)

func registerMetrics(reg prometheus.Registerer) error {
	return pgmetrics.Register(reg, requests, renewals)
}

// observe counts one request.
func observe(outcome string) {
	requests.WithLabelValues(outcome).Inc()
}

// observeRenewal counts one lease renewal.
func observeRenewal(ok bool, err error) {
	result := "ok"
	switch {
	case err != nil:
		result = "error"
	case !ok:
		result = "lost"
	}
	renewals.WithLabelValues(result).Inc()
}
