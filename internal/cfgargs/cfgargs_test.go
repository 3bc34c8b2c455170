package cfgargs

import (
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// dispenser is positioned on the subdirective "opt" with args.
func dispenser(args string) *caddyfile.Dispenser {
	d := caddyfile.NewTestDispenser("opt " + args)
	d.Next()
	return d
}

func TestReaders(t *testing.T) {
	tests := []struct {
		name, args string
		read       func(d *caddyfile.Dispenser) (any, error)
		want       any
		wantErr    bool
	}{
		{"string", "a", func(d *caddyfile.Dispenser) (any, error) { var s string; return s, String(d, &s) }, "a", false},
		{"string missing", "", func(d *caddyfile.Dispenser) (any, error) { var s string; return s, String(d, &s) }, nil, true},
		{"string extra", "a b", func(d *caddyfile.Dispenser) (any, error) { var s string; return s, String(d, &s) }, nil, true},
		{"strings", "a b", func(d *caddyfile.Dispenser) (any, error) { var s []string; err := Strings(d, &s); return len(s), err }, 2, false},
		{"strings missing", "", func(d *caddyfile.Dispenser) (any, error) { var s []string; return nil, Strings(d, &s) }, nil, true},
		{"int", "7", func(d *caddyfile.Dispenser) (any, error) { var n int; err := Int(d, &n, 1); return n, err }, 7, false},
		{"int below min", "0", func(d *caddyfile.Dispenser) (any, error) { var n int; return n, Int(d, &n, 1) }, nil, true},
		{"int not a number", "x", func(d *caddyfile.Dispenser) (any, error) { var n int; return n, Int(d, &n, 0) }, nil, true},
		{"duration", "2s", func(d *caddyfile.Dispenser) (any, error) {
			var v caddy.Duration
			err := Duration(d, &v, 0)
			return time.Duration(v), err
		}, 2 * time.Second, false},
		{"duration below min", "0s", func(d *caddyfile.Dispenser) (any, error) {
			var v caddy.Duration
			return nil, Duration(d, &v, time.Nanosecond)
		}, nil, true},
		{"duration invalid", "soon", func(d *caddyfile.Dispenser) (any, error) { var v caddy.Duration; return nil, Duration(d, &v, 0) }, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.read(dispenser(tt.args))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %v, want an error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
