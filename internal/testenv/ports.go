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
	ports, err := reservePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return ports[0]
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
