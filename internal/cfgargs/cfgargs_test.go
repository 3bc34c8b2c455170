package cfgargs

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// dispenser is positioned on the subdirective "opt" followed by input (its
// arguments, and maybe a block and more lines).
func dispenser(input string) *caddyfile.Dispenser {
	d := caddyfile.NewTestDispenser("opt " + input)
	d.Next()
	return d
}

func TestReaders(t *testing.T) {
	str := func(read func(*caddyfile.Dispenser, *string) error) func(d *caddyfile.Dispenser) (any, error) {
		return func(d *caddyfile.Dispenser) (any, error) {
			s := "unset"
			err := read(d, &s)
			return s, err
		}
	}
	args := func(min, max int) func(d *caddyfile.Dispenser) (any, error) {
		return func(d *caddyfile.Dispenser) (any, error) { return Args(d, min, max) }
	}
	tests := []struct {
		name, input string
		read        func(d *caddyfile.Dispenser) (any, error)
		want        any
		wantErr     string // "": no error
	}{
		{"args in range", "a b", args(1, 2), []string{"a", "b"}, ""},
		{"args too few", "", args(1, 2), nil, "opt: want 1 to 2 arguments, got 0"},
		{"args too many", "a b c", args(1, 2), nil, "opt: want 1 to 2 arguments, got 3"},
		{"args exactly", "a", args(2, 2), nil, "opt: want 2 arguments, got 1"},
		{"args unbounded", "a b c d", args(2, -1), []string{"a", "b", "c", "d"}, ""},
		{"args at least", "a", args(2, -1), nil, "opt: want at least 2 arguments, got 1"},
		{"args at most", "a b", args(0, 1), nil, "opt: want at most 1 argument, got 2"},
		{"args stop at a block", "a {\nb\n}", args(1, 1), []string{"a"}, ""},
		{"args stop at the line end", "a\nb", args(1, 1), []string{"a"}, ""},
		{"none", "{\nx\n}", func(d *caddyfile.Dispenser) (any, error) { return nil, None(d) }, nil, ""},
		{"none with one", "a", func(d *caddyfile.Dispenser) (any, error) { return nil, None(d) }, nil, "opt: want no arguments, got 1"},
		{"bare", "\nnext", func(d *caddyfile.Dispenser) (any, error) { return nil, Bare(d) }, nil, ""},
		{"bare with an argument", "a", func(d *caddyfile.Dispenser) (any, error) { return nil, Bare(d) }, nil, "opt takes no arguments and no block"},
		{"bare with a block", "{\nx\n}", func(d *caddyfile.Dispenser) (any, error) { return nil, Bare(d) }, nil, "opt takes no arguments and no block"},
		{"first", "a b c", func(d *caddyfile.Dispenser) (any, error) {
			var s string
			err := First(d, &s)
			return s + "|" + strings.Join(d.RemainingArgs(), " "), err
		}, "a|b c", ""},
		{"first missing", "", str(First), nil, "opt: want at least 1 argument, got 0"},
		{"optional", "a", str(Optional), "a", ""},
		{"optional absent", "", str(Optional), "unset", ""},
		{"optional extra", "a b", str(Optional), nil, "opt: want at most 1 argument, got 2"},
		{"string", "a", str(String), "a", ""},
		{"string missing", "", str(String), nil, "opt: want 1 argument, got 0"},
		{"string extra", "a b", str(String), nil, "opt: want 1 argument, got 2"},
		{"strings", "a b", func(d *caddyfile.Dispenser) (any, error) { s := []string{"x"}; err := Strings(d, &s); return s, err }, []string{"x", "a", "b"}, ""},
		{"strings missing", "", func(d *caddyfile.Dispenser) (any, error) { var s []string; return nil, Strings(d, &s) }, nil, "opt: want at least 1 argument, got 0"},
		{"int", "7", func(d *caddyfile.Dispenser) (any, error) { var n int; err := Int(d, &n, 1); return n, err }, 7, ""},
		{"int below min", "0", func(d *caddyfile.Dispenser) (any, error) { var n int; return n, Int(d, &n, 1) }, nil, `opt: "0" is not an integer of at least 1`},
		{"int not a number", "x", func(d *caddyfile.Dispenser) (any, error) { var n int; return n, Int(d, &n, 0) }, nil, `opt: "x" is not an integer`},
		{"int missing", "", func(d *caddyfile.Dispenser) (any, error) { var n int; return n, Int(d, &n, 0) }, nil, "opt: want 1 argument, got 0"},
		{"duration", "2s", func(d *caddyfile.Dispenser) (any, error) {
			var v caddy.Duration
			err := Duration(d, &v, 0)
			return time.Duration(v), err
		}, 2 * time.Second, ""},
		{"duration below min", "0s", func(d *caddyfile.Dispenser) (any, error) {
			var v caddy.Duration
			return nil, Duration(d, &v, time.Nanosecond)
		}, nil, `opt: "0s" is not a duration of at least 1ns`},
		{"duration invalid", "soon", func(d *caddyfile.Dispenser) (any, error) { var v caddy.Duration; return nil, Duration(d, &v, 0) }, nil, `opt: "soon" is not a duration`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.read(dispenser(tt.input))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
}
