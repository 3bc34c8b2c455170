package tlsenforce

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/cfgargs"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("tls_enforce", parseCaddyfile)
	// Right after security_headers (ordered after "log_name"), so its
	// refusal already carries the security headers.
	httpcaddyfile.RegisterDirectiveOrder("tls_enforce", httpcaddyfile.Before, "header")
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
//	tls_enforce [<min_version>] {
//	    min_version <1.2|1.3>
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if err := cfgargs.Optional(d, &h.MinVersion); err != nil {
		return err
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "min_version":
			if err := cfgargs.String(d, &h.MinVersion); err != nil {
				return err
			}
		default:
			return d.Errf("unknown subdirective %q", d.Val())
		}
	}
	return nil
}

// Interface guards
var _ caddyfile.Unmarshaler = (*Handler)(nil)
