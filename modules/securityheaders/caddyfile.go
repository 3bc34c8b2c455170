package securityheaders

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
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
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		h.Preset = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "preset":
			if !d.NextArg() {
				return d.ArgErr()
			}
			h.Preset = d.Val()
		case "set", "omit":
			sub := d.Val()
			if !d.NextArg() {
				return d.ArgErr()
			}
			field, value := d.Val(), ""
			if sub == "set" {
				if !d.NextArg() {
					return d.ArgErr()
				}
				value = d.Val()
			}
			if h.Set == nil {
				h.Set = make(map[string]string)
			}
			h.Set[field] = value
		case "strip":
			fields := d.RemainingArgs()
			if len(fields) == 0 {
				return d.ArgErr()
			}
			h.Remove = append(h.Remove, fields...)
			continue
		default:
			return d.Errf("unknown subdirective %q", d.Val())
		}
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	return nil
}

// Interface guards
var _ caddyfile.Unmarshaler = (*Handler)(nil)
