package jwtauth

import (
	"github.com/paygate/paygate/internal/health"
	"github.com/paygate/paygate/internal/jwtverify"
)

// jwksHealth is the readiness check of one JWKS: it passes while the key
// set can verify tokens, and fails, saying why, while it cannot (never
// loaded, or stale past jwks_max_stale), when every token would get 503
// authentication_unavailable.
func jwksHealth(r *jwtverify.Remote) health.Func {
	return func() health.Status {
		if err := r.Health(); err != nil {
			return health.Status{Reason: err.Error()}
		}
		return health.Status{OK: true}
	}
}
