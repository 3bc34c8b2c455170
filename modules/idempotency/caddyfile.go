package idempotency

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/cfgargs"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("idempotency", parseCaddyfile)
	// After the policy stage (opa_authz comes after forward_auth), so that
	// only an authorized user's request takes a key, and before
	// api_response (before invoke), so that what is stored is what the
	// client got.
	httpcaddyfile.RegisterDirectiveOrder("idempotency", httpcaddyfile.After, "request_header")
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
//	idempotency {
//	    seal_key     <{env.NAME}|{file.PATH}>...  # repeatable; the first seals
//	    route        <METHOD> </template> [required|optional]  # repeatable; default: every POST of the API
//	    retention    <duration>                   # default 24h
//	    lease        <duration>                   # default 30s, renewed every third
//	    max_response <size>                       # default 64KiB
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if err := cfgargs.None(d); err != nil {
		return err
	}
	for d.NextBlock(0) {
		var err error
		switch d.Val() {
		case "seal_key":
			err = cfgargs.Strings(d, &h.SealKeys)
		case "route":
			var args []string
			if args, err = cfgargs.Args(d, 2, 3); err == nil {
				rt := Route{Method: args[0], Template: args[1]}
				if len(args) == 3 {
					rt.Key = args[2]
				}
				h.Routes = append(h.Routes, rt)
			}
		case "retention":
			err = cfgargs.Duration(d, &h.Retention, 0)
		case "lease":
			err = cfgargs.Duration(d, &h.Lease, minLease)
		case "max_response":
			err = cfgargs.Size(d, &h.MaxResponse, 1, maxMaxResponse)
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
