package testenv

import (
	"context"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// RoundTrips is a go-redis hook counting what a client sends: each command
// and each pipeline is one round trip. Benchmarks report it per operation.
type RoundTrips struct{ n atomic.Int64 }

// CountRoundTrips hooks a RoundTrips into c; on a cluster client, into the
// connection to each node, so that a pipeline split over several nodes
// counts once per node.
func CountRoundTrips(c redis.UniversalClient) *RoundTrips {
	rt := &RoundTrips{}
	if cc, ok := c.(*redis.ClusterClient); ok {
		cc.OnNewNode(func(n *redis.Client) { n.AddHook(rt) })
	} else {
		c.AddHook(rt)
	}
	return rt
}

// Count returns the round trips counted so far.
func (h *RoundTrips) Count() int64 { return h.n.Load() }

// DialHook implements redis.Hook.
func (h *RoundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (h *RoundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook.
func (h *RoundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}
