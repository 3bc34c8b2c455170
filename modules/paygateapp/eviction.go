package paygateapp

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// evictionCheck bounds how long the start-up check of Redis's eviction
// policy may take; it runs beside the start, never delaying it.
const evictionCheck = 10 * time.Second

// maxmemoryPolicy is what the Redis store tells about evicting keys.
type maxmemoryPolicy interface {
	MaxmemoryPolicy(ctx context.Context) (string, error)
}

// warnEviction logs a warning when Redis would evict paygate's keys under
// memory pressure: an evicted idempotency record lets a retried payment run
// again, an evicted webhook record lets a duplicate event through, an
// evicted owner hides a user's own objects. Only noeviction keeps them.
func warnEviction(ctx context.Context, s maxmemoryPolicy, logger *zap.Logger) {
	ctx, cancel := context.WithTimeout(ctx, evictionCheck)
	defer cancel()
	policy, err := s.MaxmemoryPolicy(ctx)
	switch {
	case err != nil:
		logger.Info("could not read Redis's maxmemory-policy (CONFIG GET refused, or Redis unreachable); paygate's keys must never be evicted: make sure it is noeviction", zap.Error(err))
	case policy != "noeviction":
		logger.Warn("Redis would evict paygate's keys when it runs out of memory: idempotency records, webhook de-duplication and ownership could be lost; set maxmemory-policy noeviction",
			zap.String("maxmemory_policy", policy))
	}
}
