// Package paygateerror provides the paygate_error HTTP handler, the one place
// where paygate renders errors. Placed in a site's handle_errors route, it
// turns the error that any earlier handler returned (a paygate stage's, or
// Caddy's own such as a 413 body limit or a 502 from a proxy) into paygate's
// JSON error shape, and logs the internal cause with the request ID.
package paygateerror

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/cfgargs"
	"github.com/paygate/paygate/internal/redact"
	"github.com/paygate/paygate/internal/reqid"
)

func init() {
	caddy.RegisterModule(Handler{})
	httpcaddyfile.RegisterHandlerDirective("paygate_error", parseCaddyfile)
	// With the handlers that answer with an error (after "error"), where
	// handle_errors routes run it.
	httpcaddyfile.RegisterDirectiveOrder("paygate_error", httpcaddyfile.After, "error")
}

// Handler renders the request's error as paygate's JSON error body. It has
// no configuration.
type Handler struct {
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.paygate_error",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision sets up the logger.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	return nil
}

// ServeHTTP writes the error response; it ends the error route.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	err, _ := r.Context().Value(caddyhttp.ErrorCtxKey).(error)
	e := apierror.Answer(r, err)
	id := reqid.From(r)
	w.Header().Set(reqid.Header, id)

	level := zapcore.InfoLevel
	if e.Status >= 500 {
		level = zapcore.ErrorLevel
	}
	if c := h.logger.Check(level, "request refused"); c != nil {
		fields := []zap.Field{
			zap.String(reqid.LogField, id),
			zap.Int("status", e.Status),
			zap.String("code", e.Code),
		}
		if err != nil {
			// The cause may quote the request (a path, a header): it is
			// redacted like everything else that is logged.
			fields = append(fields, zap.String("cause", redact.String(err.Error())))
		}
		c.Write(fields...)
	}
	apierror.Write(w, e, id)
	return nil
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Handler)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens.
//
// Syntax:
//
//	paygate_error
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	return cfgargs.Bare(d)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
)
