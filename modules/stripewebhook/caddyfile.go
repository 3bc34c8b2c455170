package stripewebhook

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/cfgargs"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("stripe_webhook", parseCaddyfile)
	// After every stage that guards the route (headers, TLS, limits) and
	// before what it forwards to: payment_events (after copy_response) and
	// reverse_proxy (after respond).
	httpcaddyfile.RegisterDirectiveOrder("stripe_webhook", httpcaddyfile.Before, "abort")
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
//	stripe_webhook {
//	    secret      <{env.NAME}|{file.PATH}>...  # repeatable; at least one
//	    tolerance   <duration>                   # default 5m, past and future
//	    max_body    <size>                       # default 512KiB
//	    api_version accept|strict                # default accept (mismatch logged)
//	    events      <type>...                    # repeatable; default: what payment_events processes
//	    mode        test|live                    # default test
//	    account     <acct_...>                   # Connect: the one account processed
//	    lease       <duration>                   # default 60s, longer than timeout
//	    timeout     <duration>                   # default 20s
//	    retention   <duration>                   # default 72h, at least 72h
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if err := cfgargs.None(d); err != nil {
		return err
	}
	for d.NextBlock(0) {
		var err error
		switch d.Val() {
		case "secret":
			err = cfgargs.Strings(d, &h.Secrets)
		case "tolerance":
			err = cfgargs.Duration(d, &h.Tolerance, 0)
		case "max_body":
			err = cfgargs.Size(d, &h.MaxBody, 1, maxMaxBody)
		case "api_version":
			err = cfgargs.String(d, &h.APIVersion)
		case "events":
			err = cfgargs.Strings(d, &h.Events)
		case "mode":
			err = cfgargs.String(d, &h.Mode)
		case "account":
			err = cfgargs.String(d, &h.Account)
		case "lease":
			err = cfgargs.Duration(d, &h.Lease, 0)
		case "timeout":
			err = cfgargs.Duration(d, &h.Timeout, 0)
		case "retention":
			err = cfgargs.Duration(d, &h.Retention, 0)
		default:
			return d.Errf("unknown subdirective %q", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return h.checkConfig()
}

// Interface guards
var _ caddyfile.Unmarshaler = (*Handler)(nil)
