package securityheaders

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/paygate/paygate/internal/origin"
	"github.com/paygate/paygate/internal/urlpolicy"
)

// corsResponseFields are the CORS fields of a response: paygate's alone to
// send, so an upstream's (an application that reflects any Origin with
// credentials, or says "*") never reaches a browser.
var corsResponseFields = []string{
	"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods",
	"Access-Control-Allow-Headers", "Access-Control-Expose-Headers", "Access-Control-Max-Age",
	"Access-Control-Allow-Private-Network",
}

// CORS answers for an allowed origin: the methods and request headers the
// payment API takes, the response headers a client reads, and how long a
// browser may keep a preflight's answer.
var (
	corsAllowMethods  = []string{"GET, POST, DELETE"}
	corsAllowHeaders  = []string{"Authorization, Content-Type, Idempotency-Key"}
	corsExposeHeaders = []string{"X-Request-Id, Idempotent-Replayed, Retry-After, RateLimit, RateLimit-Policy"}
	corsMaxAge        = []string{"600"}
	corsTrue          = []string{"true"}
)

// corsOrigins reads the configured origins: each an exact https origin
// (http only on a loopback host, for development), normalised.
func corsOrigins(configured []string) (map[string]bool, error) {
	allowed := make(map[string]bool, len(configured))
	for _, o := range configured {
		n, ok := origin.Normalize(o)
		if !ok || strings.Contains(n, "*") {
			return nil, fmt.Errorf("security_headers: cors origin %q is not scheme://host[:port] (wildcards are never allowed)", o)
		}
		u, _ := url.Parse(n)
		if !urlpolicy.Secure(u) {
			return nil, fmt.Errorf("security_headers: cors origin %q: want https (http only on a loopback host)", o)
		}
		allowed[n] = true
	}
	return allowed, nil
}

// allowedOrigin returns the request's Origin when it is one the handler
// allows, normalised, or "": a request with no Origin, two, "null", or any
// other origin gets no CORS fields, which a browser reads as a refusal.
func (h *Handler) allowedOrigin(r *http.Request) string {
	if len(h.cors) == 0 {
		return ""
	}
	values := r.Header.Values("Origin")
	if len(values) != 1 {
		return ""
	}
	if o, ok := origin.Normalize(values[0]); ok && h.cors[o] {
		return o
	}
	return ""
}

// applyCORS sets the CORS fields of a response to a request from an allowed
// origin, and marks every response of a handler with an allow-list as
// varying by Origin, so that no cache hands one origin's answer to another.
func (h *Handler) applyCORS(hdr http.Header, r *http.Request) {
	if len(h.cors) == 0 {
		return
	}
	addVary(hdr, "Origin")
	o := h.allowedOrigin(r)
	if o == "" {
		return
	}
	hdr["Access-Control-Allow-Origin"] = []string{o}
	hdr["Access-Control-Allow-Credentials"] = corsTrue
	hdr["Access-Control-Expose-Headers"] = corsExposeHeaders
}

// isPreflight reports whether r is a CORS preflight (RFC: Fetch, CORS
// protocol): OPTIONS with an Origin and the method the real request will
// use.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// preflight answers a preflight from an allowed origin, 204 with what the
// API takes; it reports false, answering nothing, for any other request,
// which goes on through the route (on the API, a 405 without CORS fields:
// the browser refuses the real request).
func (h *Handler) preflight(w http.ResponseWriter, r *http.Request) bool {
	if !isPreflight(r) || h.allowedOrigin(r) == "" {
		return false
	}
	hdr := w.Header()
	h.apply(hdr, r)
	hdr["Access-Control-Allow-Methods"] = corsAllowMethods
	hdr["Access-Control-Allow-Headers"] = corsAllowHeaders
	hdr["Access-Control-Max-Age"] = corsMaxAge
	addVary(hdr, "Access-Control-Request-Method")
	addVary(hdr, "Access-Control-Request-Headers")
	w.WriteHeader(http.StatusNoContent)
	return true
}

// addVary adds field to hdr's Vary unless it is there already (apply runs
// twice on a response: before the route, and when the head is written).
func addVary(hdr http.Header, field string) {
	for _, v := range hdr.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, field) {
				return
			}
		}
	}
	hdr.Add("Vary", field)
}
