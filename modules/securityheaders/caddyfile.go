package securityheaders

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/cfgargs"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("security_headers", parseCaddyfile)
	// First of paygate's stages: headers set before anything else runs are
	// on every response, including the errors of every later stage. Each
	// paygate directive has an anchor of its own (a side of a standard
	// directive), so that their order never depends on init order.
	httpcaddyfile.RegisterDirectiveOrder("security_headers", httpcaddyfile.After, "log_name")
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
//	security_headers [<preset>] {
//	    preset <stripe|api>
//	    set    <field> <value>   # override or add a header
//	    omit   <field>           # do not send this preset header
//	    strip  <field...>        # remove from every response
//	    cors   <origin...>       # exact origins allowed cross-origin, with credentials
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if err := cfgargs.Optional(d, &h.Preset); err != nil {
		return err
	}
	for d.NextBlock(0) {
		var err error
		switch d.Val() {
		case "preset":
			err = cfgargs.String(d, &h.Preset)
		case "set":
			var args []string
			if args, err = cfgargs.Args(d, 2, 2); err == nil {
				h.setHeader(args[0], args[1])
			}
		case "omit":
			var field string
			if err = cfgargs.String(d, &field); err == nil {
				h.setHeader(field, "")
			}
		case "strip":
			err = cfgargs.Strings(d, &h.Remove)
		case "cors":
			// No origin at all is allowed: an environment variable left
			// empty ({$PAYGATE_CORS_ORIGINS}) means no cross-origin access.
			h.CORS = append(h.CORS, d.RemainingArgs()...)
		default:
			return d.Errf("unknown subdirective %q", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// setHeader records a set (value) or an omit ("") of field.
func (h *Handler) setHeader(field, value string) {
	if h.Set == nil {
		h.Set = make(map[string]string)
	}
	h.Set[field] = value
}

// Interface guards
var _ caddyfile.Unmarshaler = (*Handler)(nil)
