// Package reqid gives every request one identifier, shared by the
// X-Request-Id response header, error bodies and log lines.
package reqid

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// Header is the response header that carries the request ID.
const Header = "X-Request-Id"

// LogField is the name of the request ID in every log paygate writes: the
// access log, the audit log, the error log and OPA's decision log.
const LogField = "request_id"

// placeholder is Caddy's per-request UUID: generated on first use and cached
// for the rest of the request, so every stage sees the same value.
const placeholder = "{http.request.uuid}"

// From returns the request's ID, or "" when r did not come through Caddy.
// A client-sent X-Request-Id is never used: it could forge log correlation.
//
// The ID also goes into the request's access log entry as request_id, as
// Caddy puts it there as uuid, so that the access log names it as the other
// logs do. The first call works the ID out and keeps it in a request
// variable; the later ones (every stage asks) read it from there.
func From(r *http.Request) string {
	if k, ok := caddyhttp.GetVar(r.Context(), idVar).(known); ok {
		return k.id
	}
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return ""
	}
	id := repl.ReplaceKnown(placeholder, "")
	if extra, ok := r.Context().Value(caddyhttp.ExtraLogFieldsCtxKey).(*caddyhttp.ExtraLogFields); ok {
		extra.Set(zap.String(LogField, id))
	}
	caddyhttp.SetVar(r.Context(), idVar, known{id})
	return id
}

// idVar is the request variable that keeps the ID once worked out. Its
// value has an unexported type, so that neither a client nor a `vars`
// directive can plant one.
const idVar = "paygate.request_id"

type known struct{ id string }
