package jwtauth

import (
	"net/http"
	"strings"

	"github.com/paygate/paygate/internal/origin"
	"github.com/paygate/paygate/internal/scheme"
)

// Where a credential came from.
const (
	sourceHeader = "header"
	sourceCookie = "cookie"
)

// Reasons a request is refused before its token is looked at; with
// jwtverify.Reasons they make up the reason label of the failure metric.
const (
	reasonMissing   = "credential_missing"
	reasonMalformed = "credential_malformed"
	reasonConflict  = "credential_conflict"
	reasonCrossSite = "cross_site_request"
	// reasonIdentity: a claim sent upstream as a header holds characters a
	// header value cannot carry.
	reasonIdentity = "identity_invalid"
)

// credential is the token a request presents and where it was found.
type credential struct {
	token  string
	source string
}

// extractCredential finds the request's token: an Authorization header
// with the Bearer scheme (exactly one such header), or the cookie named
// cookieName when it is set. Nothing else is read: not the query string, not
// a form field. It returns a reason code when there is no token, when the
// header is malformed, or when the header and the cookie (or two copies of
// the cookie) carry different tokens.
func extractCredential(h http.Header, cookieName string) (credential, string) {
	var fromHeader string
	switch auth := h.Values("Authorization"); len(auth) {
	case 0:
	case 1:
		scheme, token, ok := strings.Cut(auth[0], " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || !isB64Token(token) {
			return credential{}, reasonMalformed
		}
		fromHeader = token
	default:
		return credential{}, reasonMalformed
	}
	var fromCookie string
	if cookieName != "" {
		for _, c := range cookieValues(h, cookieName) {
			if c == "" {
				continue
			}
			if !isB64Token(c) {
				return credential{}, reasonMalformed
			}
			if fromCookie != "" && fromCookie != c {
				return credential{}, reasonConflict
			}
			fromCookie = c
		}
	}
	switch {
	case fromHeader != "" && fromCookie != "" && fromHeader != fromCookie:
		return credential{}, reasonConflict
	case fromHeader != "":
		return credential{token: fromHeader, source: sourceHeader}, ""
	case fromCookie != "":
		return credential{token: fromCookie, source: sourceCookie}, ""
	}
	return credential{}, reasonMissing
}

// isB64Token reports whether s is an RFC 6750 b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			return false
		}
	}
	return true
}

// cookieValues returns the value of every cookie named name in the Cookie
// headers, in order.
func cookieValues(h http.Header, name string) []string {
	r := http.Request{Header: h}
	cookies := r.CookiesNamed(name)
	values := make([]string, len(cookies))
	for i, c := range cookies {
		values[i] = c.Value
	}
	return values
}

// isSafeMethod reports whether m cannot change state (RFC 9110 §9.2.1),
// which is what makes a cross-site request harmless.
func isSafeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// crossSite reports whether a state-changing request may have been sent by
// another site, which must not be able to use the cookie (CSRF). The Origin
// header decides when present: the request's own origin and trusted ones
// pass, anything else ("null" included) does not. Without Origin,
// Sec-Fetch-Site must say same-origin; a request with neither is refused,
// since a browser that sends the cookie sends one of them.
func crossSite(r *http.Request, trusted map[string]bool) bool {
	if isSafeMethod(r.Method) {
		return false
	}
	switch origins := r.Header.Values("Origin"); len(origins) {
	case 0:
		return r.Header.Get("Sec-Fetch-Site") != "same-origin"
	case 1:
		o, ok := origin.Normalize(origins[0])
		return !ok || (o != ownOrigin(r) && !trusted[o])
	}
	return true
}

// ownOrigin is the origin the request was sent to: its Host with the scheme
// the client used, which behind a trusted TLS-terminating proxy is the one
// the proxy reports.
func ownOrigin(r *http.Request) string {
	o, _ := origin.Normalize(scheme.Of(r) + "://" + r.Host)
	return o
}
