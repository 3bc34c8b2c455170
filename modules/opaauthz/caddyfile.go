package opaauthz

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/cfgargs"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("opa_authz", parseCaddyfile)
	// After every authentication handler (jwt_auth and basic_auth come
	// before forward_auth), so that the caller is known when the policy
	// runs, and before anything that acts on the request.
	httpcaddyfile.RegisterDirectiveOrder("opa_authz", httpcaddyfile.After, "forward_auth")
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
//	opa_authz {
//	    policy_dir   <dir>                        # or:
//	    bundle       <url> {
//	        polling      <min> [<max>]            # default 60s 120s
//	        public_key   <pem_file> [<algorithm>] # signed bundles required (key ID paygate)
//	        trusted_key  <key_id> <pem_file> [<algorithm>] # repeatable: more keys, by key ID
//	        persist      [<dir>]                  # keep the last good bundle on disk
//	        bearer_token <token>
//	    }
//	    query        <rego_query>                 # default data.paygate.authz.decision
//	    startup_wait <duration>                   # default 10s
//	    max_bundle_age <duration>|off             # default 10x the longest polling delay
//	    claims       <claim...>                   # {http.auth.user.<claim>} -> input.user.claims
//	    route        <template> <resource_type>   # repeatable; replaces the defaults
//	    decision_log console|off|<service_url> {  # default console
//	        console                               # also to the console, with a service
//	        bearer_token    <token>
//	        upload_interval <min> [<max>]         # default 300s 600s
//	        headers         <field...>            # recorded, sensitive values masked
//	        mask_decision   <data_path>           # default /paygate/log/mask
//	    }
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if _, err := cfgargs.Args(d, 0, 0); err != nil {
		return err
	}
	for d.NextBlock(0) {
		var err error
		switch d.Val() {
		case "policy_dir":
			err = cfgargs.String(d, &h.PolicyDir)
		case "bundle":
			if h.Bundle != nil {
				return d.Err("bundle given twice")
			}
			h.Bundle = new(BundleConfig)
			err = h.Bundle.unmarshalCaddyfile(d)
		case "query":
			err = cfgargs.String(d, &h.Query)
		case "startup_wait":
			err = cfgargs.Duration(d, &h.StartupWait, 0)
		case "max_bundle_age":
			err = maxAgeArg(d, &h.MaxBundleAge)
		case "claims":
			err = cfgargs.Strings(d, &h.Claims)
		case "route":
			var args []string
			if args, err = cfgargs.Args(d, 2, 2); err == nil {
				h.Routes = append(h.Routes, Route{Template: args[0], ResourceType: args[1]})
			}
		case "decision_log":
			if h.DecisionLog != nil {
				return d.Err("decision_log given twice")
			}
			h.DecisionLog = new(DecisionLogConfig)
			err = h.DecisionLog.unmarshalCaddyfile(d)
		default:
			return d.Errf("unknown subdirective %q", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// unmarshalCaddyfile reads "bundle <url> { ... }".
func (b *BundleConfig) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if err := cfgargs.String(d, &b.URL); err != nil {
		return err
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "polling":
			err = intervalArgs(d, &b.PollingMin, &b.PollingMax)
		case "trusted_key":
			var args []string
			if args, err = cfgargs.Args(d, 2, 3); err == nil {
				k := TrustedKey{KeyID: args[0], File: args[1]}
				if len(args) == 3 {
					k.Algorithm = args[2]
				}
				b.TrustedKeys = append(b.TrustedKeys, k)
			}
		case "public_key":
			var args []string
			if args, err = cfgargs.Args(d, 1, 2); err == nil {
				b.PublicKey = args[0]
				if len(args) == 2 {
					b.KeyAlgorithm = args[1]
				}
			}
		case "persist":
			var args []string
			if args, err = cfgargs.Args(d, 0, 1); err == nil {
				b.Persist = true
				if len(args) == 1 {
					b.PersistDir = args[0]
				}
			}
		case "bearer_token":
			err = cfgargs.String(d, &b.BearerToken)
		case "allow_unsigned":
			b.AllowUnsigned = true
			err = cfgargs.None(d)
		case "allow_http":
			b.AllowHTTP = true
			err = cfgargs.None(d)
		default:
			return d.Errf("unknown bundle subdirective %q", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// unmarshalCaddyfile reads "decision_log console|off|<url> { ... }".
func (c *DecisionLogConfig) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	args, err := cfgargs.Args(d, 0, 1)
	if err != nil {
		return err
	}
	if len(args) == 1 {
		switch v := args[0]; v {
		case "console":
			on := true
			c.Console = &on
		case "off":
			c.Disabled = true
		default:
			c.Service = v
		}
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if c.Disabled {
			return d.Err("decision_log off takes no block")
		}
		switch d.Val() {
		case "console":
			if _, err = cfgargs.Args(d, 0, 0); err == nil {
				on := true
				c.Console = &on
			}
		case "bearer_token":
			err = cfgargs.String(d, &c.BearerToken)
		case "upload_interval":
			err = intervalArgs(d, &c.UploadMin, &c.UploadMax)
		case "headers":
			err = cfgargs.Strings(d, &c.Headers)
		case "mask_decision":
			err = cfgargs.String(d, &c.MaskDecision)
		default:
			return d.Errf("unknown decision_log subdirective %q", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// maxAgeArg reads "<duration>|off"; off is a negative duration.
func maxAgeArg(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	name := d.Val()
	var arg string
	if err := cfgargs.String(d, &arg); err != nil {
		return err
	}
	if arg == "off" {
		*dst = -1
		return nil
	}
	v, err := caddy.ParseDuration(arg)
	if err != nil || v <= 0 {
		return d.Errf("%s %q: want a positive duration or off", name, arg)
	}
	*dst = caddy.Duration(v)
	return nil
}

// intervalArgs reads "<min> [<max>]" durations; validateInterval checks
// their bounds.
func intervalArgs(d *caddyfile.Dispenser, lo, hi *caddy.Duration) error {
	args, err := cfgargs.Args(d, 1, 2)
	if err != nil {
		return err
	}
	for i, dst := range []*caddy.Duration{lo, hi}[:len(args)] {
		v, err := caddy.ParseDuration(args[i])
		if err != nil {
			return d.Errf("%q is not a duration", args[i])
		}
		*dst = caddy.Duration(v)
	}
	return nil
}

// Interface guards
var _ caddyfile.Unmarshaler = (*Handler)(nil)
