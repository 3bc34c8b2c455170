package jwtauth

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"

	"github.com/paygate/paygate/internal/cfgargs"
	"github.com/paygate/paygate/internal/claimname"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("jwt_auth", parseCaddyfile)
	// Where Caddy puts its own authentication: after paygate's
	// security_headers, tls_enforce, card_data_guard and api_methods
	// (ordered before "redir"), before anything that needs to know the user.
	httpcaddyfile.RegisterDirectiveOrder("jwt_auth", httpcaddyfile.Before, "basic_auth")
}

// parseCaddyfile returns Caddy's authentication handler with the jwt
// provider.
func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	p := new(Provider)
	if err := p.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return caddyauth.Authentication{
		ProvidersRaw: caddy.ModuleMap{"jwt": caddyconfig.JSON(p, nil)},
	}, nil
}

// UnmarshalCaddyfile sets up the provider from Caddyfile tokens.
//
// Syntax:
//
//	jwt_auth [<matcher>] {
//	    issuer              <iss>
//	    audience            <aud...>
//	    jwks                <url...>
//	    key_file            <path> [<alg>]
//	    secret              <secret> [HS256|HS384|HS512]
//	    algorithms          <alg...>
//	    skew                <duration>
//	    typ                 <type>
//	    require             <claim...>
//	    max_token_size      <bytes>
//	    cache_size          <entries>|off
//	    cookie              <__Host-name>
//	    trusted_origins     <origin...>
//	    claim               <claim> [<placeholder>]
//	    identity_header     <field> <claim>
//	    strip_credential
//	    realm               <realm>
//	    jwks_min_refresh    <duration>
//	    jwks_max_refresh    <duration>
//	    jwks_max_stale      <duration>
//	    jwks_retry_interval <duration>
//	    jwks_timeout        <duration>
//	}
func (p *Provider) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if err := cfgargs.None(d); err != nil {
		return err
	}
	for d.NextBlock(0) {
		var err error
		switch sub := d.Val(); sub {
		case "issuer":
			err = cfgargs.String(d, &p.Issuer)
		case "typ":
			err = cfgargs.String(d, &p.Type)
		case "cookie":
			err = cfgargs.String(d, &p.Cookie)
		case "realm":
			err = cfgargs.String(d, &p.Realm)
		case "audience":
			err = cfgargs.Strings(d, &p.Audiences)
		case "jwks":
			err = cfgargs.Strings(d, &p.JWKSURLs)
		case "algorithms":
			err = cfgargs.Strings(d, &p.Algorithms)
		case "require":
			err = cfgargs.Strings(d, &p.RequiredClaims)
		case "trusted_origins":
			err = cfgargs.Strings(d, &p.TrustedOrigins)
		case "key_file":
			args, err := cfgargs.Args(d, 1, 2)
			if err != nil {
				return err
			}
			kf := KeyFile{Path: args[0]}
			if len(args) == 2 {
				kf.Algorithm = args[1]
			}
			p.KeyFiles = append(p.KeyFiles, kf)
		case "secret":
			args, err := cfgargs.Args(d, 1, 2)
			if err != nil {
				return err
			}
			p.Secret = args[0]
			if len(args) == 2 {
				p.SecretAlgorithm = args[1]
			}
		case "claim":
			args, err := cfgargs.Args(d, 1, 2)
			if err != nil {
				return err
			}
			key := args[len(args)-1]
			if !claimname.Valid(key) {
				return d.Errf("claim %s: %q is not a snake_case placeholder name; give one as the second argument", args[0], key)
			}
			if p.Placeholders == nil {
				p.Placeholders = make(map[string]string)
			}
			p.Placeholders[key] = args[0]
		case "identity_header":
			args, err := cfgargs.Args(d, 2, 2)
			if err != nil {
				return err
			}
			if p.IdentityHeaders == nil {
				p.IdentityHeaders = make(map[string]string)
			}
			p.IdentityHeaders[args[0]] = args[1]
		case "strip_credential":
			err = cfgargs.None(d)
			p.StripCredential = true
		case "max_token_size":
			err = cfgargs.Int(d, &p.MaxTokenSize, 1)
		case "cache_size":
			var size string
			if err := cfgargs.String(d, &size); err != nil {
				return err
			}
			if size == "off" {
				p.DisableCache = true
				break
			}
			n, err := strconv.Atoi(size)
			if err != nil || n < 0 {
				return d.Errf("cache_size %q: want a number of entries or off", size)
			}
			p.CacheSize, p.DisableCache = n, n == 0
		case "skew":
			err = cfgargs.Duration(d, &p.Skew, 0)
		case "jwks_min_refresh":
			err = cfgargs.Duration(d, &p.JWKSMinRefresh, 0)
		case "jwks_max_refresh":
			err = cfgargs.Duration(d, &p.JWKSMaxRefresh, 0)
		case "jwks_max_stale":
			err = cfgargs.Duration(d, &p.JWKSMaxStale, 0)
		case "jwks_retry_interval":
			err = cfgargs.Duration(d, &p.JWKSRetryInterval, 0)
		case "jwks_timeout":
			err = cfgargs.Duration(d, &p.JWKSTimeout, 0)
		default:
			return d.Errf("unknown subdirective %q", sub)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Interface guards
var _ caddyfile.Unmarshaler = (*Provider)(nil)
