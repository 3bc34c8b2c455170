package carddataguard

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/cfgargs"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("card_data_guard", parseCaddyfile)
	// After request_body, so that a site's own body size limit applies
	// before the guard buffers a body; that also puts it after
	// security_headers and tls_enforce (ordered before "header"), so that its
	// refusals carry the security headers and plain HTTP is refused first.
	httpcaddyfile.RegisterDirectiveOrder("card_data_guard", httpcaddyfile.After, "request_body")
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
//	card_data_guard {
//	    max_body    <size>       # default 64KiB; 64KB is 64000 bytes
//	    skip_header <field...>   # more credential headers not to scan
//	    skip_cookie <name...>    # cookies whose value is not scanned (the token cookie)
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if err := cfgargs.None(d); err != nil {
		return err
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "max_body":
			if err := cfgargs.Size(d, &h.MaxBody, 1, maxMaxBody); err != nil {
				return err
			}
		case "skip_header":
			if err := cfgargs.Strings(d, &h.SkipHeaders); err != nil {
				return err
			}
		case "skip_cookie":
			if err := cfgargs.Strings(d, &h.SkipCookies); err != nil {
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
