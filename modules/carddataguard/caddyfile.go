package carddataguard

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
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
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "max_body":
			var size string
			if !d.AllArgs(&size) {
				return d.ArgErr()
			}
			n, err := humanize.ParseBytes(size)
			if err != nil {
				return d.Errf("max_body %q: %w", size, err)
			}
			if n == 0 || n > maxMaxBody {
				return d.Errf("max_body %q: must be between 1 byte and 1GiB", size)
			}
			h.MaxBody = int64(n)
		case "skip_header":
			names := d.RemainingArgs()
			if len(names) == 0 {
				return d.ArgErr()
			}
			h.SkipHeaders = append(h.SkipHeaders, names...)
		default:
			return d.Errf("unknown subdirective %q", d.Val())
		}
	}
	return nil
}

// Interface guards
var _ caddyfile.Unmarshaler = (*Handler)(nil)
