package paygateapp

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// watchHealth pings the store every HealthInterval, keeps paygate_store_up
// current and logs each change between healthy and unhealthy once.
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
