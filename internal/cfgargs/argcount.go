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

// None checks that a directive takes neither arguments nor a block; d is on
// the directive's name.
func None(d *caddyfile.Dispenser) error {
	name := d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(0) {
		return d.Errf("%s takes no options, got %q", name, d.Val())
	}
	return nil
}
