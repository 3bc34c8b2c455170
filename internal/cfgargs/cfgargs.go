// Package cfgargs reads the arguments of a Caddyfile directive or
// subdirective, with the same checks and error messages in every paygate
// module. Each reader starts on the token whose arguments it reads (the
// directive's or the subdirective's name) and reads to the end of its line;
// an argument count out of range is an error naming that token and the
// count it wants ("key_file: want 1 to 2 arguments, got 3").
package cfgargs

import (
	"fmt"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/dustin/go-humanize"
)

// Args returns the remaining arguments, at least min and at most max of
// them; a negative max means no upper bound.
func Args(d *caddyfile.Dispenser, min, max int) ([]string, error) {
	name := d.Val()
	args := d.RemainingArgs()
	if len(args) < min || max >= 0 && len(args) > max {
		return nil, d.Errf("%s: want %s, got %d", name, count(min, max), len(args))
	}
	return args, nil
}

// count says how many arguments Args wants.
func count(min, max int) string {
	plural := func(n int) string {
		if n == 1 {
			return "1 argument"
		}
		return strconv.Itoa(n) + " arguments"
	}
	switch {
	case max == 0:
		return "no arguments"
	case max < 0:
		return "at least " + plural(min)
	case min == max:
		return plural(min)
	case min == 0:
		return "at most " + plural(max)
	}
	return fmt.Sprintf("%d to %s", min, plural(max))
}

// None requires that no argument follows (a block may).
func None(d *caddyfile.Dispenser) error {
	_, err := Args(d, 0, 0)
	return err
}

// Bare requires that neither an argument nor a block follows: for a
// directive that takes no options at all.
func Bare(d *caddyfile.Dispenser) error {
	name := d.Val()
	if d.NextArg() || d.NextBlock(d.Nesting()) {
		return d.Errf("%s takes no arguments and no block", name)
	}
	return nil
}

// First reads the next argument into dst and leaves the rest of the line,
// and any block, to the caller: for a subdirective whose first argument
// names a module that reads the rest itself.
func First(d *caddyfile.Dispenser, dst *string) error {
	name := d.Val()
	if !d.NextArg() {
		return d.Errf("%s: want at least 1 argument, got 0", name)
	}
	*dst = d.Val()
	return nil
}

// Optional reads at most one argument into dst, which keeps its value when
// there is none.
func Optional(d *caddyfile.Dispenser, dst *string) error {
	args, err := Args(d, 0, 1)
	if err == nil && len(args) == 1 {
		*dst = args[0]
	}
	return err
}

// String reads exactly one argument into dst.
func String(d *caddyfile.Dispenser, dst *string) error {
	args, err := Args(d, 1, 1)
	if err == nil {
		*dst = args[0]
	}
	return err
}

// Strings appends the remaining arguments, at least one, to dst.
func Strings(d *caddyfile.Dispenser, dst *[]string) error {
	args, err := Args(d, 1, -1)
	if err == nil {
		*dst = append(*dst, args...)
	}
	return err
}

// Int reads exactly one integer of at least min into dst.
func Int(d *caddyfile.Dispenser, dst *int, min int) error {
	name := d.Val()
	var s string
	if err := String(d, &s); err != nil {
		return err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min {
		return d.Errf("%s: %q is not an integer of at least %d", name, s, min)
	}
	*dst = n
	return nil
}

// Duration reads exactly one duration of at least min into dst.
func Duration(d *caddyfile.Dispenser, dst *caddy.Duration, min time.Duration) error {
	name := d.Val()
	var s string
	if err := String(d, &s); err != nil {
		return err
	}
	v, err := caddy.ParseDuration(s)
	if err != nil || v < min {
		return d.Errf("%s: %q is not a duration of at least %v", name, s, min)
	}
	*dst = caddy.Duration(v)
	return nil
}

// Size reads exactly one byte size ("64KB", "1MiB", "512") from min to max
// bytes into dst, parsed as Caddy's own size options are (go-humanize).
func Size(d *caddyfile.Dispenser, dst *int64, min, max int64) error {
	name := d.Val()
	var s string
	if err := String(d, &s); err != nil {
		return err
	}
	n, err := humanize.ParseBytes(s)
	if err != nil || n < uint64(min) || n > uint64(max) {
		return d.Errf("%s: %q is not a size from %s to %s", name, s, humanize.IBytes(uint64(min)), humanize.IBytes(uint64(max)))
	}
	*dst = int64(n)
	return nil
}
