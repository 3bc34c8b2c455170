package testenv

import (
	"testing"

	"github.com/paygate/paygate/internal/freeport"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. Another
// process may take it before the caller binds it; StartPaygate retries with
// new ports when that happens.
func FreePort(t testing.TB) int {
	t.Helper()
	return freePorts(t, 1)[0]
}

// freePorts is freeport.Reserve for a test: it fails t when no port is free.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports, err := freeport.Reserve(n)
	if err != nil {
		t.Fatalf("testenv: find a free port: %v", err)
	}
	return ports
}
