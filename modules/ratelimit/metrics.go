package ratelimit

import (
	"github.com/prometheus/client_golang/prometheus"

	pgmetrics "github.com/paygate/paygate/internal/metrics"
)

// Outcomes of a zone's part of a decision, the values of
// paygate_rate_limit_decisions_total's outcome label.
const (
	outcomeAllowed = "allowed"
	outcomeRefused = "refused"
	// outcomeNotCharged: the zone admitted, another refused, so nothing
	// was charged.
	outcomeNotCharged = "not_charged"
	// outcomeShadowRefused: a shadow zone would have refused.
	outcomeShadowRefused = "shadow_refused"
	// outcomeCharged: an outcome zone charged after a response.
	outcomeCharged = "outcome_charged"
)

// The collectors are created once per process (see internal/metrics), so
// they keep counting across config reloads; labels are zone names (from
// the configuration), outcomes and failure modes, never keys.
var (
	decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paygate_rate_limit_decisions_total",
		Help: "Rate-limit zone decisions, by zone and outcome.",
	}, []string{"zone", "outcome"})
	fallbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paygate_rate_limit_fallbacks_total",
		Help: "Zone decisions made without the store, by zone and on_store_failure mode.",
	}, []string{"zone", "mode"})
)

func registerMetrics(reg prometheus.Registerer) error {
	return pgmetrics.Register(reg, decisions, fallbacks)
}

// outcomes lists every outcome.
var outcomes = []string{outcomeAllowed, outcomeRefused, outcomeNotCharged, outcomeShadowRefused, outcomeCharged}
