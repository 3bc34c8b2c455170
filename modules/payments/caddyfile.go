package payments

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("payments", parseCaddyfile)
	// A terminal handler, like respond: last, after every stage that
	// guards it.
	httpcaddyfile.RegisterDirectiveOrder("payments", httpcaddyfile.Before, "respond")
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
//	payments [api|events] {
//	    stripe_key          <{env.NAME}|{file.PATH}>
//	    api_base            <url>        # default https://api.stripe.com
//	    catalog             <path>
//	    timeout             <duration>   # per Stripe call, default 10s
//	    max_network_retries <n>          # default 2
//	}
//
// The block is for the api mode (the default); events mode takes none.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		h.Mode = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		sub := d.Val()
		if !d.NextArg() {
			return d.ArgErr()
		}
		val := d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
		switch sub {
		case "stripe_key":
			h.StripeKey = val
		case "api_base":
			h.APIBase = val
		case "catalog":
			h.Catalog = val
		case "timeout":
			t, err := caddy.ParseDuration(val)
			if err != nil {
				return d.Errf("timeout %q: %w", val, err)
			}
			h.Timeout = caddy.Duration(t)
		case "max_network_retries":
			n, err := strconv.Atoi(val)
			if err != nil {
				return d.Errf("max_network_retries %q: %w", val, err)
			}
			h.MaxNetworkRetries = &n
		default:
			return d.Errf("unknown subdirective %q", sub)
		}
	}
	return nil
}

// Interface guards
var _ caddyfile.Unmarshaler = (*Handler)(nil)
