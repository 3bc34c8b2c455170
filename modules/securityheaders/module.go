// Package securityheaders provides the security_headers HTTP handler: the
// response headers a payment edge must send on every response (errors
// included), which no upstream can weaken.
package securityheaders

import (
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"sort"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"golang.org/x/net/http/httpguts"

	"github.com/paygate/paygate/internal/reqid"
	"github.com/paygate/paygate/internal/scheme"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler sets paygate's security headers before the rest of the route runs,
// so they are present even on errors produced later, and sets them again when
// the response is written, so an upstream's weaker values (an HSTS max-age of
// 0, a looser CSP, a cacheable API response) never reach the client. It also
// sets X-Request-Id, removes headers that fingerprint the stack
// (X-Powered-By, Server, ...), and is the only source of CORS fields: for the
// configured origins only (see CORS).
//
// Strict-Transport-Security is only sent over TLS, as RFC 6797 requires:
// paygate's own, or a trusted load balancer's that terminated it (the
// scheme package decides, as it does for tls_enforce).
type Handler struct {
	// Preset is the set of headers to start from: "stripe" (the default)
	// admits Stripe.js and Elements and nothing else third-party; "api" is
	// the same without any third party, for routes that serve no pages.
	Preset string `json:"preset,omitempty"`

	// Set overrides or adds headers on top of the preset. An empty value
	// removes the preset's header instead.
	Set map[string]string `json:"set,omitempty"`

	// Remove lists response headers taken out of every response, added to
	// the default list (X-Powered-By, Server, Via, X-AspNet-Version,
	// X-AspNetMvc-Version).
	Remove []string `json:"remove,omitempty"`

	// CORS lists the exact origins (https://host[:port]; no wildcards)
	// whose pages may call the route from a browser with credentials: a
	// request from one gets Access-Control-Allow-Origin naming it, and its
	// preflight is answered here (204), before any later stage. No other
	// origin gets CORS fields, and an upstream's are always removed. Empty:
	// no cross-origin access.
	CORS []string `json:"cors,omitempty"`

	// headers are the preset's fields with Set applied, HSTS aside; hsts
	// is HSTS's value (nil when there is none); removals are the names
	// removed, canonical. Responses share their value slices, which no
	// stage writes into.
	headers  http.Header
	hsts     []string
	removals []string
	cors     map[string]bool
}

// hstsField is the HSTS field's name, canonical.
const hstsField = "Strict-Transport-Security"

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.security_headers",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision merges the preset with the overrides.
func (h *Handler) Provision(caddy.Context) error {
	if h.Preset == "" {
		h.Preset = "stripe"
	}
	preset, ok := presets[h.Preset]
	if !ok {
		return fmt.Errorf("security_headers: unknown preset %q (have %s)", h.Preset, strings.Join(presetNames(), ", "))
	}
	h.headers = make(http.Header, len(preset)+len(h.Set))
	for k, v := range preset {
		h.headers.Set(k, v)
	}
	for k, v := range h.Set {
		if v == "" {
			h.headers.Del(k)
			continue
		}
		h.headers.Set(k, v)
	}
	// HSTS is kept apart: it is only ever sent to a client that used TLS.
	h.hsts = h.headers[hstsField]
	delete(h.headers, hstsField)
	// In Go's canonical form, so that each request deletes them as they
	// are (X-AspNet-Version is X-Aspnet-Version to Go).
	h.removals = make([]string, 0, len(defaultRemovals)+len(corsResponseFields)+len(h.Remove))
	for _, k := range slices.Concat(defaultRemovals, corsResponseFields, h.Remove) {
		h.removals = append(h.removals, textproto.CanonicalMIMEHeaderKey(k))
	}
	var err error
	h.cors, err = corsOrigins(h.CORS)
	return err
}

// Validate checks that the configured header names are well-formed.
func (h *Handler) Validate() error {
	for k, v := range h.Set {
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("security_headers: invalid header name %q", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return fmt.Errorf("security_headers: header %s: value contains a control character", k)
		}
	}
	for _, k := range h.Remove {
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("security_headers: invalid header name %q", k)
		}
	}
	return nil
}

// ServeHTTP sets the headers, then enforces them once more when the response
// is written.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if h.preflight(w, r) {
		return nil
	}
	h.apply(w.Header(), r)
	return next.ServeHTTP(&enforcer{ResponseWriterWrapper: &caddyhttp.ResponseWriterWrapper{ResponseWriter: w}, h: h, r: r}, r)
}

// apply makes hdr carry exactly paygate's values for the managed headers.
func (h *Handler) apply(hdr http.Header, r *http.Request) {
	for k, v := range h.headers {
		hdr[k] = v
	}
	if h.hsts != nil && scheme.Of(r) == "https" {
		hdr[hstsField] = h.hsts
	} else {
		// Whatever an upstream said about HSTS is not its call to make.
		delete(hdr, hstsField)
	}
	if id := reqid.From(r); id != "" {
		hdr.Set(reqid.Header, id)
	}
	for _, k := range h.removals {
		delete(hdr, k)
	}
	h.applyCORS(hdr, r)
}

func presetNames() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
