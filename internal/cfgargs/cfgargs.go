// Package cfgargs reads the arguments of a Caddyfile subdirective, with the
// same checks and error messages in every paygate module.
package cfgargs

import (
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// String reads exactly one argument into dst.
func String(d *caddyfile.Dispenser, dst *string) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// Strings appends the remaining arguments, at least one, to dst.
func Strings(d *caddyfile.Dispenser, dst *[]string) error {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return d.ArgErr()
	}
	*dst = append(*dst, args...)
	return nil
}

// Int reads exactly one integer of at least min into dst.
func Int(d *caddyfile.Dispenser, dst *int, min int) error {
	var s string
	if err := String(d, &s); err != nil {
		return err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min {
		return d.Errf("%q is not an integer of at least %d", s, min)
	}
	*dst = n
	return nil
}

// Duration reads exactly one duration of at least min into dst.
func Duration(d *caddyfile.Dispenser, dst *caddy.Duration, min time.Duration) error {
	var s string
	if err := String(d, &s); err != nil {
		return err
	}
	v, err := caddy.ParseDuration(s)
	if err != nil || v < min {
		return d.Errf("%q is not a duration of at least %v", s, min)
	}
	*dst = caddy.Duration(v)
	return nil
}
