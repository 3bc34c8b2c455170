package payments

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/cfgargs"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("payments", parseCaddyfile)
	// Terminal handlers, like respond: last, after every stage that guards
	// them; payment_events (after copy_response) comes right before
	// payments (before respond).
	httpcaddyfile.RegisterDirectiveOrder("payments", httpcaddyfile.Before, "respond")
	httpcaddyfile.RegisterHandlerDirective("payment_events", parseEventsCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("payment_events", httpcaddyfile.After, "copy_response")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Handler)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

func parseEventsCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(EventProcessor)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens.
//
// Syntax:
//
//	payments {
//	    stripe_key          <{env.NAME}|{file.PATH}>
//	    api_base            <url>        # default https://api.stripe.com
//	    catalog             <path>
//	    timeout             <duration>   # per Stripe call, default 10s
//	    max_network_retries <n>          # default 2
//	    behind_tls_proxy                 # a live key on a plain server behind a TLS load balancer
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if _, err := cfgargs.Args(d, 0, 0); err != nil {
		return err
	}
	for d.NextBlock(0) {
		var err error
		switch d.Val() {
		case "stripe_key":
			err = cfgargs.String(d, &h.StripeKey)
		case "api_base":
			err = cfgargs.String(d, &h.APIBase)
		case "catalog":
			err = cfgargs.String(d, &h.Catalog)
		case "timeout":
			err = cfgargs.Duration(d, &h.Timeout, 0)
		case "max_network_retries":
			var n int
			if err = cfgargs.Int(d, &n, 0); err == nil {
				h.MaxNetworkRetries = &n
			}
		case "behind_tls_proxy":
			if _, err = cfgargs.Args(d, 0, 0); err == nil {
				h.BehindTLSProxy = true
			}
		default:
			return d.Errf("unknown subdirective %q", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// UnmarshalCaddyfile sets up the event processor from Caddyfile tokens.
//
// Syntax:
//
//	payment_events
//
// It takes no arguments and no block.
func (p *EventProcessor) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	return cfgargs.Bare(d)
}

// Interface guards
var (
	_ caddyfile.Unmarshaler = (*Handler)(nil)
	_ caddyfile.Unmarshaler = (*EventProcessor)(nil)
)
