package apierror

import (
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// pendingVar is the request variable that holds a pending *Error. Its value
// has an unexported type, so neither a client nor a `vars` directive can
// plant one.
const pendingVar = "paygate.pending_error"

type pending struct{ e *Error }

// SetPending records e as the answer to r for a stage that cannot return its
// own error: an authentication provider, whose every failure Caddy's
// authentication handler turns into a bare 401. When the error that reaches
// paygate_error is not an *Error, ResolveRequest answers with e instead of a
// generic error for the status (a JWKS that cannot be fetched is a 503 with
// Retry-After, not a 401 that would make clients drop a good token).
func SetPending(r *http.Request, e *Error) {
	caddyhttp.SetVar(r.Context(), pendingVar, pending{e})
}

// pendingOf returns the error SetPending recorded for r, or nil.
func pendingOf(r *http.Request) *Error {
	p, _ := caddyhttp.GetVar(r.Context(), pendingVar).(pending)
	return p.e
}
