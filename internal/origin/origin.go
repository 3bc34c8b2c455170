// Package origin reads web origins (RFC 6454) as browsers send them in
// Origin headers and as operators configure them: the one normal form that
// jwt_auth's cross-site guard and security_headers' CORS allow-list compare.
package origin

import (
	"net/url"
	"strings"
)

// Normalize returns an origin (RFC 6454) as scheme://host[:port] in
// lower case without the scheme's default port, or false when s is not a
// serialised http(s) origin.
func Normalize(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" && !(scheme == "http" && port == "80") && !(scheme == "https" && port == "443") {
		host += ":" + port
	}
	return scheme + "://" + host, true
}
