package cfgargs

import "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

// Between reads the remaining arguments, min to max of them: Between(d, 0,
// 0) for a directive or subdirective that takes none, Between(d, 1, 2) for
// "<a> [<b>]".
func Between(d *caddyfile.Dispenser, min, max int) ([]string, error) {
	args := d.RemainingArgs()
	if len(args) < min || len(args) > max {
		return nil, d.ArgErr()
	}
	return args, nil
}
