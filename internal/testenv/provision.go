package testenv

import (
	"context"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// Provision provisions a module for a unit test, with a Caddy context that
// ends with the test, and validates it when it is a caddy.Validator; either
// failing fails the test.
func Provision[M caddy.Provisioner](t testing.TB, m M) M {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := m.Provision(ctx); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if v, ok := any(m).(caddy.Validator); ok {
		if err := v.Validate(); err != nil {
			t.Fatalf("Validate: %v", err)
		}
	}
	return m
}
