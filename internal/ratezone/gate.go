package ratezone

import (
	"context"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/store"
)

// Gate is one store call that decides a request's zones together with its
// caller's own work (the idempotency stage's lease: store.AcquireLimit).
// It returns the zones' results in the order of reqs, and proceed false
// when its caller answers the request itself (a replay, a key in flight):
// the rate-limit stage then stops there, without calling its next handler,
// setting headers or settling, and owes back whatever the call charged
// (given back with the next store call on the same key, or by a flush
// within a quarter of a second), so that such a request costs no round
// trip of its own. An error is the caller's own, returned as it is.
type Gate func(ctx context.Context, reqs []store.LimitRequest) (results []store.LimitResult, proceed bool, err error)

// Gated is a rate-limit stage (redis_rate_limit) that a stage holding it
// (idempotency's limits) runs: modules never import each other, so the
// holder loads it through Caddy's module registry and reaches it through
// this interface.
type Gated interface {
	caddyhttp.MiddlewareHandler
	// ServeGated is ServeHTTP with the zones' first store decision made by
	// gate. A request that no zone applies to reaches next without gate
	// being called.
	ServeGated(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, gate Gate) error
}
