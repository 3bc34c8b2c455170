// Package reqid gives every request one identifier, shared by the
// X-Request-Id response header, error bodies and log lines.
package reqid

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
)

// Header is the response header that carries the request ID.
const Header = "X-Request-Id"

// placeholder is Caddy's per-request UUID: generated on first use and cached
// for the rest of the request, so every stage sees the same value.
const placeholder = "{http.request.uuid}"

// From returns the request's ID, or "" when r did not come through Caddy.
// A client-sent X-Request-Id is never used: it could forge log correlation.
func From(r *http.Request) string {
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return ""
	}
	return repl.ReplaceKnown(placeholder, "")
}
