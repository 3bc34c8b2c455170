// Package urlpolicy is the one rule for URLs paygate fetches trust from (a
// JWKS, a policy bundle): https, or plain http only to a loopback host, a
// sidecar on the same machine that no one on the network can read or alter.
package urlpolicy

import (
	"net"
	"net/url"
	"strings"
)

// Secure reports whether u is https, or http to a loopback host.
func Secure(u *url.URL) bool {
	switch u.Scheme {
	case "https":
		return true
	case "http":
		return isLoopback(u.Hostname())
	}
	return false
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
