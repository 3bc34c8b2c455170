package jwtauth

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/paygate/paygate/internal/jwtverify"
	pgmetrics "github.com/paygate/paygate/internal/metrics"
)

// The collectors are created once per process; see package internal/metrics.
// Labels are reason codes, credential sources and results: bounded sets.
var (
	authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paygate_auth_failures_total",
		Help: "Requests jwt_auth refused, by reason code.",
	}, []string{"reason"})
	authSuccesses = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paygate_auth_successes_total",
		Help: "Requests jwt_auth authenticated, by where the token came from (header, cookie).",
	}, []string{"source"})
	tokenCacheLookups = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paygate_auth_token_cache_lookups_total",
		Help: "Lookups in jwt_auth's verified-token cache, by result (hit, miss).",
	}, []string{"result"})
	jwksFetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paygate_jwks_fetches_total",
		Help: "JWKS fetches by jwt_auth, by result (ok, error).",
	}, []string{"result"})
)

// failureReasons is every value of the reason label.
var failureReasons = func() []string {
	r := []string{reasonMissing, reasonMalformed, reasonConflict, reasonCrossSite, reasonIdentity}
	for _, v := range jwtverify.Reasons {
		r = append(r, string(v))
	}
	return r
}()

// registerMetrics registers the collectors on reg and creates every label
// value, so that dashboards see zeros rather than gaps.
func registerMetrics(reg prometheus.Registerer) error {
	if err := pgmetrics.Register(reg, authFailures, authSuccesses, tokenCacheLookups, jwksFetches); err != nil {
		return err
	}
	for _, r := range failureReasons {
		authFailures.WithLabelValues(r)
	}
	for _, s := range []string{sourceHeader, sourceCookie} {
		authSuccesses.WithLabelValues(s)
	}
	for _, r := range []string{"hit", "miss"} {
		tokenCacheLookups.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "error"} {
		jwksFetches.WithLabelValues(r)
	}
	return nil
}
