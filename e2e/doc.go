// Package e2e holds paygate's end-to-end tests: each starts the real binary
// (internal/testenv) from a generated Caddyfile and talks to it as a client
// or an attacker would, over real HTTP and TLS on 127.0.0.1.
package e2e
