package ratelimit

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/cfgargs"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("redis_rate_limit", parseCaddyfile)
	// Outside a route block the stage has one position, before
	// authentication (jwt_auth comes before basic_auth): the per-IP limit.
	// The per-user stage goes in a route block, after jwt_auth, as the
	// shipped Caddyfiles do.
	httpcaddyfile.RegisterDirectiveOrder("redis_rate_limit", httpcaddyfile.Before, "method")
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
//	redis_rate_limit {
//	    ipv6_prefix <bits>                       # default 64
//	    zone <name> {
//	        key              <template>          # e.g. {paygate.client_ip}, {paygate.user}
//	        rate             <n> <period>        # e.g. 10 1h
//	        burst            <n>
//	        match            <METHOD> </template> # repeatable; default: every request
//	        statuses         <4xx>...            # outcome zone: charged by these responses
//	        distinct         <template>          # charged by each new value, e.g. {paygate.card_fingerprint}
//	        events           <type>...           # outcome zone: these Stripe events count too
//	        on_store_failure deny|allow|local
//	        replicas         <n>                 # local fallback: rate and burst divided by n
//	        shadow
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
		case "ipv6_prefix":
			err = cfgargs.Int(d, &h.IPv6Prefix, 1)
		case "zone":
			var z Zone
			if err = cfgargs.String(d, &z.Name); err == nil {
				err = parseZone(d, &z)
				h.Zones = append(h.Zones, z)
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

// parseZone reads a zone's block.
func parseZone(d *caddyfile.Dispenser, z *Zone) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "key":
			err = cfgargs.String(d, &z.Key)
		case "rate":
			var args []string
			if args, err = cfgargs.Args(d, 2, 2); err == nil {
				n, perr := strconv.ParseInt(args[0], 10, 64)
				period, derr := caddy.ParseDuration(args[1])
				if perr != nil || derr != nil || n < 1 || period <= 0 {
					return d.Errf("rate: want <count> <period>, e.g. 10 1m")
				}
				z.Rate, z.Period = n, caddy.Duration(period)
			}
		case "burst":
			var n int
			if err = cfgargs.Int(d, &n, 1); err == nil {
				z.Burst = int64(n)
			}
		case "match":
			var args []string
			if args, err = cfgargs.Args(d, 2, 2); err == nil {
				z.Match = append(z.Match, Endpoint{Method: args[0], Template: args[1]})
			}
		case "statuses":
			var args []string
			if args, err = cfgargs.Args(d, 1, -1); err == nil {
				for _, a := range args {
					s, serr := strconv.Atoi(a)
					if serr != nil {
						return d.Errf("statuses: %q is not a status code", a)
					}
					z.Statuses = append(z.Statuses, s)
				}
			}
		case "events":
			err = cfgargs.Strings(d, &z.Events)
		case "distinct":
			err = cfgargs.String(d, &z.Distinct)
		case "on_store_failure":
			err = cfgargs.String(d, &z.OnStoreFailure)
		case "replicas":
			var n int
			if err = cfgargs.Int(d, &n, 1); err == nil {
				z.Replicas = int64(n)
			}
		case "shadow":
			if _, err = cfgargs.Args(d, 0, 0); err == nil {
				z.Shadow = true
			}
		default:
			return d.Errf("zone %s: unknown subdirective %q", z.Name, d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Interface guards
var _ caddyfile.Unmarshaler = (*Handler)(nil)
