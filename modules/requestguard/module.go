// Package requestguard provides the request_guard HTTP handler: the request
// hygiene every pipeline needs before any other stage reads the request.
// It removes identity and routing headers only paygate or a trusted proxy
// may set, in every spelling; keeps a client from naming headers as
// hop-by-hop in Connection so that they are dropped on the way to the
// upstream; answers oversized header sections with paygate's own 431; bounds
// the query; and, on the API, refuses what could be framed or read two ways:
// chunked bodies (411) and bodies that are not UTF-8 JSON (415).
package requestguard

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/headerstrip"
	"github.com/paygate/paygate/internal/mediatype"
	"github.com/paygate/paygate/internal/redact"
	"github.com/paygate/paygate/internal/reqid"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Presets.
const (
	// PresetAPI applies every check: for the payment API.
	PresetAPI = "api"
	// PresetPage strips headers, cleans Connection and bounds the header
	// section and the query, but takes any body framing and content type:
	// for pages and the application behind a catch-all.
	PresetPage = "page"
)

// Defaults of the limits.
const (
	// DefaultMaxHeaderBytes is the default of Handler.MaxHeaderBytes: 16 KiB.
	// Set the server's max_header_size larger (the shipped configs use 64
	// KiB) so that paygate, not Go, answers requests between the two.
	DefaultMaxHeaderBytes = 16 << 10
	// DefaultMaxQueryParams is the default of Handler.MaxQueryParams.
	DefaultMaxQueryParams = 100
)

// DefaultStripHeaders are removed from every request, in every spelling:
// identity headers that authentication proxies set (a client sending them
// would be believed by an upstream that trusts them), client-address
// headers that CDNs and load balancers set (the upstream learns the client's
// address from the X-Forwarded-For that Caddy's proxy writes by its
// trusted_proxies; a client's own Forwarded or X-Real-IP would be believed
// by a fraud check or an allow-list), headers that make frameworks route or
// authorise by another URL or method than the one paygate checked, and
// method overrides.
var DefaultStripHeaders = []string{
	"X-User-Id", "X-User", "X-User-Email", "X-Forwarded-User", "X-Forwarded-Email",
	"X-Forwarded-Preferred-Username", "X-Forwarded-Groups", "X-Forwarded-Access-Token",
	"X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Preferred-Username",
	"X-Auth-Request-Groups", "X-Auth-Request-Access-Token", "Remote-User", "X-Remote-User",
	"X-Remote-Email", "X-Remote-Groups",
	"Forwarded", "X-Real-IP", "True-Client-IP", "X-Client-IP", "CF-Connecting-IP",
	"Fastly-Client-IP", "X-Cluster-Client-IP", "X-Forwarded-Uri", "X-Forwarded-Method",
	"X-Original-URL", "X-Original-URI", "X-Rewrite-URL", "X-Forwarded-Prefix",
	"X-Original-Method", "X-Envoy-Original-Path", "X-Envoy-Original-Method",
	"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override",
}

// Errors the guard answers with.
var (
	errHeaderTooLarge = apierror.New(http.StatusRequestHeaderFieldsTooLarge, apierror.TypeInvalidRequest,
		"request_headers_too_large", "The request headers are too large.")
	errTooManyParams = apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest,
		"too_many_query_parameters", "The query string has too many parameters.")
	errRepeatedParam = apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest,
		"repeated_query_parameter", "A query parameter was given more than once.")
	errBadQuery = apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest,
		"invalid_query", "The query string could not be read.")
	errTrailers = apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest,
		"trailers_not_accepted", "Request trailers are not accepted.")
	errLengthRequired = apierror.New(http.StatusLengthRequired, apierror.TypeInvalidRequest,
		"content_length_required", "Request bodies must be sent with a Content-Length.").
		WithHeader("Connection", "close")
)

// Handler is the request hygiene stage. Place it first in a pipeline, after
// security_headers (so its refusals carry them).
type Handler struct {
	// Preset is "api" (the default: every check) or "page" (no body framing
	// or content-type checks, repeated query parameters allowed).
	Preset string `json:"preset,omitempty"`

	// StripHeaders replaces DefaultStripHeaders: the request headers removed
	// in every spelling (any case, '_' for '-') before any other stage or
	// the upstream reads them, and never accepted as hop-by-hop names in
	// Connection.
	StripHeaders []string `json:"strip_headers,omitempty"`

	// MaxHeaderBytes bounds the request's header section (names, values and
	// separators), in bytes; a larger one gets 431 in paygate's error shape.
	// Default: 16384 (16 KiB).
	MaxHeaderBytes int64 `json:"max_header_bytes,omitempty"`

	// MaxQueryParams bounds the number of query parameters; more get 400
	// too_many_query_parameters. Default: 100.
	MaxQueryParams int `json:"max_query_params,omitempty"`

	protected headerstrip.Names
	api       bool
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.request_guard",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision applies the defaults.
func (h *Handler) Provision(caddy.Context) error {
	if h.Preset == "" {
		h.Preset = PresetAPI
	}
	if h.StripHeaders == nil {
		h.StripHeaders = DefaultStripHeaders
	}
	if h.MaxHeaderBytes == 0 {
		h.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if h.MaxQueryParams == 0 {
		h.MaxQueryParams = DefaultMaxQueryParams
	}
	h.api = h.Preset == PresetAPI
	// The request ID is paygate's too: a client can neither send its own nor
	// have paygate's dropped.
	h.protected = headerstrip.NewNames(append([]string{reqid.Header}, h.StripHeaders...)...)
	return nil
}

// Validate checks the configuration.
func (h *Handler) Validate() error {
	if h.Preset != PresetAPI && h.Preset != PresetPage {
		return fmt.Errorf("request_guard: preset %q: want %s or %s", h.Preset, PresetAPI, PresetPage)
	}
	if h.MaxHeaderBytes < 0 || h.MaxQueryParams < 0 {
		return errors.New("request_guard: limits must not be negative")
	}
	return nil
}

// ServeHTTP applies the checks, then passes the cleaned request on.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if r.ProtoMajor == 1 && r.ProtoMinor == 0 {
		// HTTP/1.0 ignores Transfer-Encoding (Go frames such a body by
		// Content-Length, or as empty), so bytes after the body could be
		// read as a second request on a kept-alive connection: never keep
		// one alive.
		w.Header().Set("Connection", "close")
	}
	if headerBytes(r) > h.MaxHeaderBytes {
		return refuse(errHeaderTooLarge, fmt.Errorf("request header section over %d bytes", h.MaxHeaderBytes))
	}
	if err := h.checkTrailers(r.Trailer); err != nil {
		return err
	}
	// The stripped headers go, and so does a client's X-Request-Id: the
	// upstream gets paygate's, the one its answer and every log line carry.
	h.protected.Strip(r.Header)
	if id := reqid.From(r); id != "" {
		r.Header.Set(reqid.Header, id)
	}
	h.protected.UnlistFromConnection(r.Header)
	if err := h.checkQuery(r.URL.RawQuery); err != nil {
		return err
	}
	if h.api {
		if err := checkBody(r); err != nil {
			return err
		}
	}
	return next.ServeHTTP(w, r)
}

// checkTrailers refuses request trailers, which arrive after the body,
// where no stage looks (the card-data guard, the identity and method-override
// clean-up) and which an upstream may merge into the header: on the API any
// trailer at all (its clients never need one), elsewhere a trailer named
// like a stripped header. A trailer is known by its announcement: Go's
// HTTP/2 server drops an unannounced one, and chunked HTTP/1.1 bodies, the
// only ones with trailers, are refused on the API and never have their
// unannounced trailers passed on.
func (h *Handler) checkTrailers(trailer http.Header) error {
	for name := range trailer {
		if h.api || h.protected.Has(name) {
			return refuse(errTrailers, fmt.Errorf("request announces trailer %s", redact.String(name)))
		}
	}
	return nil
}

// checkQuery bounds the number of parameters and, on the API, refuses a
// malformed query or a parameter given twice (every API parameter takes
// one value; two could be read as either by different layers).
func (h *Handler) checkQuery(raw string) error {
	if raw == "" {
		return nil
	}
	if n := strings.Count(raw, "&") + 1; n > h.MaxQueryParams {
		return refuse(errTooManyParams, fmt.Errorf("%d query parameters, over %d", n, h.MaxQueryParams))
	}
	if !h.api {
		return nil
	}
	values, err := url.ParseQuery(raw)
	if err != nil {
		return refuse(errBadQuery, err)
	}
	for name, v := range values {
		if len(v) > 1 {
			return refuse(errRepeatedParam, fmt.Errorf("query parameter %q given %d times", name, len(v)))
		}
	}
	return nil
}

// checkBody refuses a body the API could read another way than the
// upstream: chunked framing (with Content-Length as well, Go's server has
// already dropped the latter, so it cannot be told apart; the connection
// is closed so that nothing after the body is served), and any content type
// but UTF-8 JSON.
func checkBody(r *http.Request) error {
	if len(r.TransferEncoding) > 0 {
		return refuse(errLengthRequired, fmt.Errorf("Transfer-Encoding %q", r.TransferEncoding))
	}
	if r.ContentLength == 0 {
		return nil
	}
	if err := mediatype.CheckJSON(r.Header.Values("Content-Type")); err != nil {
		return refuse(apierror.UnsupportedMediaType, err)
	}
	return nil
}

// headerBytes is the size of r's header section as sent: each field's
// name, value, ": " and CRLF, and the Host header Go keeps apart.
func headerBytes(r *http.Request) int64 {
	n := int64(len(r.Host) + len("Host: \r\n"))
	for name, values := range r.Header {
		for _, v := range values {
			n += int64(len(name) + len(v) + 4)
		}
	}
	return n
}

func refuse(e *apierror.Error, cause error) error {
	e = e.WithCause(cause)
	return caddyhttp.Error(e.Status, e)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
