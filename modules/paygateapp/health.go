package paygateapp

import (
	"context"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/health"
)

// storeHealth is the outcome of a backend's last ping. It lives with the
// pooled backend, so that a reload keeping the same store starts from what
// the previous configuration's watch saw instead of from "not checked".
type storeHealth struct {
	// last holds the last ping's error (nil error: it answered); nil
	// until the first ping.
	last atomic.Pointer[error]
}

// status is the readiness check "store": ready while the last ping
// succeeded.
func (h *storeHealth) status() health.Status {
	last := h.last.Load()
	switch {
	case last == nil:
		return health.Status{Reason: "the store has not been pinged yet"}
	case *last != nil:
		return health.Status{Reason: "the last ping failed: " + (*last).Error()}
	}
	return health.Status{OK: true}
}

// watchHealth pings the store every HealthInterval, keeps paygate_store_up
// and the readiness check current, and logs each change between healthy
// and unhealthy once.
func (a *App) watchHealth(ctx context.Context) {
	defer close(a.done)
	interval := time.Duration(a.HealthInterval)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	healthy := true // assumed until the first check says otherwise
	for {
		pingCtx, cancel := context.WithTimeout(ctx, interval)
		err := a.store.Ping(pingCtx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		a.metrics.up.WithLabelValues(a.backend).Set(boolFloat(err == nil))
		a.health.last.Store(&err)
		switch {
		case err != nil && healthy:
			a.logger.Error("store unavailable", zap.String("backend", a.backend), zap.Error(err))
		case err == nil && !healthy:
			a.logger.Info("store available again", zap.String("backend", a.backend))
		}
		healthy = err == nil
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
