package apierror

import (
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// StatusClientClosedRequest is the status a request is logged with when its
// client went away before the answer (nginx's 499, which Caddy's reverse
// proxy uses too): nobody reads the response.
const StatusClientClosedRequest = 499

// ClientGone returns the error a stage returns when r's client went away
// while the stage waited on something (the store, the policy, Stripe),
// and nil while the client is still there. What the dependency answered
// then says nothing about the dependency: a stage checks ClientGone before
// it counts, logs or audits a failure as the store's (or falls back from
// it), so that clients hanging up never look like an outage.
func ClientGone(r *http.Request) error {
	if err := r.Context().Err(); err != nil {
		return caddyhttp.Error(StatusClientClosedRequest, err)
	}
	return nil
}
