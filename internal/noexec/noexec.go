// Package noexec lets a handler say that it refused a request before doing
// anything (a validation failure before any call to Stripe or write to the
// store), so that the idempotency stage does not store that answer and the
// client may retry with the same key once the request is corrected. The
// mark is a Caddy request variable of an unexported type: a vars directive
// or a client cannot plant it.
package noexec

import (
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

const varKey = "paygate.noexec"

// mark is the variable's value type.
type mark struct{}

// Mark records that nothing was executed for r.
func Mark(r *http.Request) {
	caddyhttp.SetVar(r.Context(), varKey, mark{})
}

// Marked reports whether a handler marked r.
func Marked(r *http.Request) bool {
	_, ok := caddyhttp.GetVar(r.Context(), varKey).(mark)
	return ok
}
