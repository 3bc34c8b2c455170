package apimethods

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/cfgargs"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("api_methods", parseCaddyfile)
	// After the card-data guard (after request_body) and before
	// authentication (jwt_auth comes before basic_auth): a method the API
	// does not take is refused before any credential is looked at.
	httpcaddyfile.RegisterDirectiveOrder("api_methods", httpcaddyfile.Before, "redir")
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
//	api_methods
//
// It takes no arguments and no block: the methods are the payment API's.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	return cfgargs.Bare(d)
}

// Interface guards
var _ caddyfile.Unmarshaler = (*Handler)(nil)
