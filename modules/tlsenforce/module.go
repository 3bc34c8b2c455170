// Package tlsenforce provides the tls_enforce HTTP handler: payment routes are
// served only over TLS, at or above a minimum version. A plain-HTTP API call
// is refused with 403 tls_required, never redirected: a redirect would teach
// clients that sending credentials in clear text works.
package tlsenforce

import (
	"crypto/tls"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/scheme"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler refuses requests that did not arrive over TLS of at least
// MinVersion.
//
// A request that reached paygate over plain HTTP from a proxy counts as TLS
// only when Caddy's trusted_proxies vouches for that proxy and the proxy's
// X-Forwarded-Proto (its last value, the one that proxy set) is "https". The
// proxy's own TLS configuration then decides the version.
type Handler struct {
	// MinVersion is the lowest TLS version accepted on this route: "1.2"
	// (the default) or "1.3". The server's own TLS policy should already
	// refuse older handshakes; this lets a route be stricter than its site.
	MinVersion string `json:"min_version,omitempty"`

	minVersion uint16
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.tls_enforce",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision resolves the minimum version.
func (h *Handler) Provision(caddy.Context) error {
	if h.MinVersion == "" {
		h.MinVersion = "1.2"
	}
	v, ok := versions[h.MinVersion]
	if !ok {
		return fmt.Errorf("tls_enforce: min_version %q: must be 1.2 or 1.3", h.MinVersion)
	}
	h.minVersion = v
	return nil
}

var versions = map[string]uint16{"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}

// ServeHTTP refuses plain HTTP and old TLS versions.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	switch {
	case r.TLS != nil:
		if r.TLS.Version < h.minVersion {
			e := apierror.TLSVersionTooLow.WithCause(fmt.Errorf("TLS version %s is below %s", tls.VersionName(r.TLS.Version), h.MinVersion))
			return caddyhttp.Error(e.Status, e)
		}
	case !scheme.ForwardedHTTPS(r):
		e := apierror.TLSRequired.WithCause(fmt.Errorf("%s %s over plain HTTP", r.Method, r.URL.Path))
		return caddyhttp.Error(e.Status, e)
	}
	return next.ServeHTTP(w, r)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
