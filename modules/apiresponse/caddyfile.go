package apiresponse

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/cfgargs"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("api_response", parseCaddyfile)
	// After every request stage and ahead of handle/route blocks, payments
	// and reverse_proxy, whose responses it holds.
	httpcaddyfile.RegisterDirectiveOrder("api_response", httpcaddyfile.Before, "invoke")
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
//	api_response {
//	    max_body         <size>
//	    max_header_bytes <size>
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if err := cfgargs.None(d); err != nil {
		return err
	}
	for d.NextBlock(0) {
		var err error
		switch d.Val() {
		case "max_body":
			err = cfgargs.Size(d, &h.MaxBody, 1, 1<<30)
		case "max_header_bytes":
			err = cfgargs.Size(d, &h.MaxHeaderBytes, 1, 1<<20)
		default:
			err = d.Errf("unknown subdirective %q", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Interface guards
var _ caddyfile.Unmarshaler = (*Handler)(nil)
