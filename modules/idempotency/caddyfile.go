package idempotency

import (
	"github.com/caddyserver/caddy/v2/caddyconfig"
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
//	    limits {                                  # a redis_rate_limit block: the per-user zones,
//	        zone <name> { ... }                   # decided with the lease; a replay never charges
//	    }
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
		case "limits":
			err = h.unmarshalLimits(d)
		default:
			return d.Errf("unknown subdirective %q", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return h.checkConfig()
}

// unmarshalLimits reads the limits block with redis_rate_limit's own
// parser, so that its syntax is exactly the directive's.
func (h *Handler) unmarshalLimits(d *caddyfile.Dispenser) error {
	if h.LimitsRaw != nil {
		return d.Err("limits is given twice")
	}
	const id = "http.handlers." + limitsHandler
	mod, err := caddyfile.UnmarshalModule(d, id)
	if err != nil {
		return err
	}
	var warnings []caddyconfig.Warning
	h.LimitsRaw = caddyconfig.JSONModuleObject(mod, "handler", limitsHandler, &warnings)
	if len(warnings) > 0 {
		return d.Errf("limits: %s", warnings[0].Message)
	}
	return nil
}

// Interface guards
var _ caddyfile.Unmarshaler = (*Handler)(nil)
