// Package apimethods provides the api_methods HTTP handler (module
// http.handlers.api_methods, directive api_methods): it refuses a request
// whose method the payment API (internal/payapi) does not take, before
// authentication's result is used for anything and before any later stage
// or upstream sees the request.
package apimethods

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/payapi"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler answers, from the payment API's route table:
//
//   - 501 method_not_implemented to a method the API does not know at all:
//     one no route takes (PUT, PATCH), TRACE, CONNECT, a method that is
//     not upper-case ("post", methods are case-sensitive) or an extension
//     method ("FOO"), whatever the path;
//   - 405 method_not_allowed, with an Allow header listing the route's
//     methods, to a method the API knows (GET, POST, DELETE, and HEAD and
//     OPTIONS, which no route takes) on a route that does not take it.
//
// Every other request goes on unchanged: the API's routes with their
// methods, and paths that are not the API's (or are ambiguous, which
// opa_authz refuses). It has no configuration.
type Handler struct {
	routes *payapi.Table
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.api_methods",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision takes the payment API's route table.
func (h *Handler) Provision(caddy.Context) error {
	h.routes = payapi.Default()
	return nil
}

// ServeHTTP refuses a method the route does not take, or passes the
// request on.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if !h.routes.Known(r.Method) {
		e := payapi.ErrMethodNotImplemented
		return caddyhttp.Error(e.Status, e)
	}
	m, err := h.routes.MatchRequest(r)
	if err == nil && m.Route != nil && m.Endpoint == nil {
		e := payapi.MethodNotAllowed(m.Route.Allow())
		return caddyhttp.Error(e.Status, e)
	}
	return next.ServeHTTP(w, r)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
