package testenv

import (
	"net"
	"testing"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. Another
// process may take it before the caller binds it; StartPaygate retries with
// new ports when that happens.
func FreePort(t testing.TB) int {
	t.Helper()
	return freePorts(t, 1)[0]
}

// freePorts is reservePorts for a test: it fails t when no port is free.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports, err := reservePorts(n)
	if err != nil {
		t.Fatalf("testenv: find a free port: %v", err)
	}
	return ports
}

// reservePorts returns n distinct free ports on 127.0.0.1: each stays bound
// until all are chosen, so the kernel cannot hand out one of them twice.
func reservePorts(n int) ([]int, error) {
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}
