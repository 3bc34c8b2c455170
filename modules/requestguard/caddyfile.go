package requestguard

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/cfgargs"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("request_guard", parseCaddyfile)
	// Right after the response-header directive, ahead of request_body and
	// every stage that reads the request.
	httpcaddyfile.RegisterDirectiveOrder("request_guard", httpcaddyfile.After, "header")
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
//	request_guard [api|page] {
//	    strip_headers    <name...>
//	    max_header_bytes <size>
//	    max_query_params <n>
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if err := cfgargs.Optional(d, &h.Preset); err != nil {
		return err
	}
	if h.Preset != "" && h.Preset != PresetAPI && h.Preset != PresetPage {
		return d.Errf("preset %q: want %s or %s", h.Preset, PresetAPI, PresetPage)
	}
	for d.NextBlock(0) {
		var err error
		switch d.Val() {
		case "strip_headers":
			err = cfgargs.Strings(d, &h.StripHeaders)
		case "max_header_bytes":
			err = cfgargs.Size(d, &h.MaxHeaderBytes, 1, 1<<20)
		case "max_query_params":
			err = cfgargs.Int(d, &h.MaxQueryParams, 1)
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
