// Package scheme tells which scheme a client used to reach paygate: "https"
// when the request arrived over TLS, or when a proxy that Caddy's
// trusted_proxies vouches for terminated TLS and says so in
// X-Forwarded-Proto. Every stage that needs the client's scheme (TLS
// enforcement, the cookie credential's own origin) asks here, so they never
// disagree.
package scheme

import (
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Of returns "https" or "http", the scheme the client used.
func Of(r *http.Request) string {
	if r.TLS != nil || ForwardedHTTPS(r) {
		return "https"
	}
	return "http"
}

// ForwardedHTTPS reports whether a proxy that Caddy's trusted_proxies trusts
// says the client reached it over HTTPS: the last X-Forwarded-Proto value,
// the one the nearest (trusted) proxy set, is "https". From any other peer
// the header is ignored.
func ForwardedHTTPS(r *http.Request) bool {
	trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool)
	if !trusted {
		return false
	}
	values := r.Header.Values("X-Forwarded-Proto")
	if len(values) == 0 {
		return false
	}
	last := values[len(values)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	return strings.EqualFold(strings.TrimSpace(last), "https")
}
