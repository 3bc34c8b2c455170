package paygateapp

import (
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/paygate/paygate/internal/cfgargs"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("paygate", parseGlobalOption)
}

func parseGlobalOption(d *caddyfile.Dispenser, _ any) (any, error) {
	app := new(App)
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "paygate", Value: caddyconfig.JSON(app, nil)}, nil
}

// UnmarshalCaddyfile sets up the app from the global option block.
//
// Syntax:
//
//	paygate {
//	    store memory
//	    store redis <url>
//	    store redis {
//	        url           <redis://...|rediss://...|unix://...>
//	        sentinel      <master> <addr...>
//	        sentinel_auth <username> <password>
//	        cluster       <addr...>
//	        username      <acl user>
//	        password      <password>
//	        db            <n>
//	        tls {
//	            ca_file     <pem file>
//	            server_name <name>
//	        }
//	        pool_size     <n>
//	        timeout       <duration>
//	        dial_timeout  <duration>
//	        key_prefix    <prefix>
//	        auto_pipeline off
//	    }
//	    health_interval <duration>
//	}
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // option name
	if err := cfgargs.None(d); err != nil {
		return err
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "store":
			if err := a.unmarshalStore(d); err != nil {
				return err
			}
		case "health_interval":
			if err := cfgargs.Duration(d, &a.HealthInterval, time.Nanosecond); err != nil {
				return err
			}
		default:
			return d.Errf("unknown subdirective %q", d.Val())
		}
	}
	return nil
}

func (a *App) unmarshalStore(d *caddyfile.Dispenser) error {
	args, err := cfgargs.Args(d, 1, 2)
	if err != nil {
		return err
	}
	a.StoreConfig = &StoreConfig{Backend: args[0]}
	switch a.StoreConfig.Backend {
	case "memory":
		if len(args) > 1 || d.NextBlock(d.Nesting()) {
			return d.Err("store memory takes no options")
		}
		return nil
	case "redis":
	default:
		return d.Errf("unknown store backend %q (want memory or redis)", a.StoreConfig.Backend)
	}
	r := new(RedisConfig)
	a.StoreConfig.Redis = r
	if len(args) == 2 {
		r.URL = args[1]
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := r.unmarshalOption(d); err != nil {
			return err
		}
	}
	return nil
}

func (r *RedisConfig) unmarshalOption(d *caddyfile.Dispenser) error {
	var err error
	switch d.Val() {
	case "url":
		err = cfgargs.String(d, &r.URL)
	case "sentinel": // <master> <addr...>
		var args []string
		if args, err = cfgargs.Args(d, 2, -1); err == nil {
			r.SentinelMaster, r.SentinelAddrs = args[0], args[1:]
		}
	case "sentinel_auth": // <username> <password>
		var args []string
		if args, err = cfgargs.Args(d, 2, 2); err == nil {
			r.SentinelUsername, r.SentinelPassword = args[0], args[1]
		}
	case "cluster":
		err = cfgargs.Strings(d, &r.ClusterAddrs)
	case "username":
		err = cfgargs.String(d, &r.Username)
	case "password":
		err = cfgargs.String(d, &r.Password)
	case "db":
		err = cfgargs.Int(d, &r.DB, 0)
	case "pool_size":
		err = cfgargs.Int(d, &r.PoolSize, 0)
	case "timeout":
		err = cfgargs.Duration(d, &r.Timeout, time.Nanosecond)
	case "dial_timeout":
		err = cfgargs.Duration(d, &r.DialTimeout, time.Nanosecond)
	case "key_prefix":
		err = cfgargs.String(d, &r.KeyPrefix)
	case "auto_pipeline": // off
		var v string
		if err = cfgargs.String(d, &v); err == nil && v != "off" {
			err = d.Errf("auto_pipeline: want off (on is the default), got %q", v)
		}
		r.NoAutoPipeline = true
	case "tls":
		r.TLS = new(RedisTLS)
		if err := cfgargs.None(d); err != nil {
			return err
		}
		for nesting := d.Nesting(); d.NextBlock(nesting); {
			switch d.Val() {
			case "ca_file":
				err = cfgargs.String(d, &r.TLS.CAFile)
			case "server_name":
				err = cfgargs.String(d, &r.TLS.ServerName)
			default:
				return d.Errf("unknown tls option %q", d.Val())
			}
			if err != nil {
				return err
			}
		}
	default:
		return d.Errf("unknown redis option %q", d.Val())
	}
	return err
}

// Interface guards
var _ caddyfile.Unmarshaler = (*App)(nil)
