// Package freeport finds free TCP ports on loopback, for the test harness
// (internal/testenv) and the load benchmark (cmd/paygate-bench), which
// start servers on ports of their choosing.
package freeport

import "net"

// Reserve returns n distinct free ports on 127.0.0.1: each stays bound
// until all are chosen, so the kernel cannot hand out one of them twice.
// Another process may take one before the caller binds it.
func Reserve(n int) ([]int, error) {
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
