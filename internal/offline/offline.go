// Package offline is the process-wide switch of "paygate validate
// --offline": a configuration is provisioned as for any validation, except
// that the steps which need the network (the first JWKS fetch, the policy
// bundle's download and the wait for it, Redis's start-up check) are
// skipped. Everything that can be checked without the network still is.
//
// The switch has no environment variable or config field: only cmd/paygate
// turns it on, for the one validate command it was given, and the process
// ends with that command. A server ("paygate run") can never have it on.
package offline

import (
	"sync/atomic"

	"go.uber.org/zap"
)

var on atomic.Bool

// Enable turns offline validation on for the process and returns the
// function that turns it off again (for tests; cmd/paygate never turns it
// off, its process ends after validating).
func Enable() (disable func()) {
	on.Store(true)
	return func() { on.Store(false) }
}

// Enabled reports whether offline validation is on.
func Enabled() bool { return on.Load() }

// Skip reports whether the network step what must be skipped, and when it
// must, logs that it was, with fields naming what was not reached. Each
// module calls it once, at the one place where its network step starts.
func Skip(logger *zap.Logger, what string, fields ...zap.Field) bool {
	if !on.Load() {
		return false
	}
	logger.Info("offline validation: skipped "+what, fields...)
	return true
}
