// Package carddataguard provides the card_data_guard HTTP handler: a request
// that carries a payment card number, in its path, query, headers or body, is
// refused with 400 card_data_not_accepted before any later stage or the
// upstream sees it. Card data goes from the browser to Stripe directly
// (Stripe Elements); it never passes through the integrator's servers, and a
// client that sends it anyway is told so. The number is never echoed or
// logged: the refusal says only where it was found.
package carddataguard

import (
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/net/http/httpguts"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/cardscan"
	"github.com/paygate/paygate/internal/metrics"
	"github.com/paygate/paygate/internal/reqid"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// DefaultMaxBody is the default of Handler.MaxBody: 64 KiB.
const DefaultMaxBody = 64 << 10

// maxMaxBody bounds Handler.MaxBody: a body is held in memory while it is
// scanned.
const maxMaxBody = 1 << 30

// unscannedHeaders are never scanned. Credential headers carry opaque
// tokens (JWTs, session cookies, HMAC signatures) whose characters may
// happen to form a Luhn-valid digit run. Datadog's tracing headers, which
// browsers send on API calls when RUM is set up, carry random 64-bit IDs in
// decimal: 19 digits that would pass for a card number one time in thirty.
var unscannedHeaders = []string{
	"Authorization", "Proxy-Authorization", "Stripe-Signature",
	"X-Datadog-Trace-Id", "X-Datadog-Parent-Id",
}

// Errors the guard returns.
var (
	errCardData = apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, "card_data_not_accepted",
		"Card details must not be sent to this API. Collect them with Stripe Elements, which sends them to Stripe directly.")
	errBodyTooLarge = apierror.New(http.StatusRequestEntityTooLarge, apierror.TypeInvalidRequest, "body_too_large",
		"The request body is too large.")
	errEncodedBody = apierror.New(http.StatusUnsupportedMediaType, apierror.TypeInvalidRequest, "unsupported_content_encoding",
		"Request bodies must not be compressed.")
)

// Where a card number was found; the values label the metric.
const (
	locPath   = "path"
	locQuery  = "query"
	locHeader = "header"
	locBody   = "body"
)

// Handler refuses requests that carry a card number: 13 to 19 digits,
// optionally grouped by single spaces or dashes, in a known issuer range,
// with a valid Luhn check digit (see internal/cardscan). It scans the path
// and the query (also URL-decoded), every header name, every header value
// but the credential ones (Authorization, Proxy-Authorization,
// Stripe-Signature), Datadog's trace IDs and SkipHeaders, every cookie but
// the values of SkipCookies, and the body as it is read, as written and
// decoded, whatever its content type (JSON, form, multipart, text). A body
// is read up to MaxBody bytes and handed on unchanged to the next handler;
// a larger one is refused with 413 rather than passed on unscanned, and a
// compressed one (a Content-Encoding other than identity) with 415, since
// its bytes cannot be scanned.
//
// A refusal is audited (action card_data_refused, reason
// card_number_in_<location>) and counted in
// paygate_card_data_refused_total{location}, location being one of path,
// query, header, body. Neither holds the number.
type Handler struct {
	// MaxBody is the largest request body, in bytes, that is read and
	// scanned; a larger body is refused with 413. Default: 65536 (64 KiB).
	MaxBody int64 `json:"max_body,omitempty"`

	// SkipHeaders names request headers that carry opaque credentials or
	// numeric IDs and are not scanned, in addition to Authorization,
	// Proxy-Authorization, Stripe-Signature, X-Datadog-Trace-Id and
	// X-Datadog-Parent-Id, which never are. Their names are scanned all the
	// same. Default: none.
	SkipHeaders []string `json:"skip_headers,omitempty"`

	// SkipCookies names cookies whose values are not scanned: the session
	// or token cookie (jwt_auth's cookie), whose opaque value is checked by
	// its own stage. Every other cookie of the Cookie header is scanned,
	// name and value, like any header. Default: none.
	SkipCookies []string `json:"skip_cookies,omitempty"`

	skip        map[string]bool
	skipCookies map[string]bool
	audit       *zap.Logger
	refused     *prometheus.CounterVec
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.card_data_guard",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision applies the defaults and registers the metric.
func (h *Handler) Provision(ctx caddy.Context) error {
	if h.MaxBody == 0 {
		h.MaxBody = DefaultMaxBody
	}
	h.skip = make(map[string]bool, len(unscannedHeaders)+len(h.SkipHeaders))
	for _, name := range append(append([]string{}, unscannedHeaders...), h.SkipHeaders...) {
		h.skip[textproto.CanonicalMIMEHeaderKey(name)] = true
	}
	h.skipCookies = make(map[string]bool, len(h.SkipCookies))
	for _, name := range h.SkipCookies {
		h.skipCookies[name] = true
	}
	h.audit = audit.Logger(ctx)
	if err := metrics.Register(ctx.GetMetricsRegistry(), refusedTotal); err != nil {
		return fmt.Errorf("card_data_guard: registering metrics: %w", err)
	}
	for _, loc := range locations {
		refusedTotal.WithLabelValues(loc) // exported as 0 before the first refusal
	}
	h.refused = refusedTotal
	return nil
}

// Validate checks the limit and the header names.
func (h *Handler) Validate() error {
	if h.MaxBody < 0 || h.MaxBody > maxMaxBody {
		return fmt.Errorf("card_data_guard: max_body %d: must be between 1 byte and 1GiB", h.MaxBody)
	}
	for _, name := range h.SkipHeaders {
		if !httpguts.ValidHeaderFieldName(name) {
			return fmt.Errorf("card_data_guard: skip_headers: invalid header name %q", name)
		}
	}
	return nil
}

// ServeHTTP refuses a request that carries a card number and passes on the
// others, their body unchanged.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if loc, where := h.scanHead(r); loc != "" {
		return h.refuse(r, loc, where)
	}
	if err := h.scanBody(r); err != nil {
		return err
	}
	if name, found := scanTrailer(r.Trailer); found {
		return h.refuse(r, locHeader, "trailer "+name)
	}
	return next.ServeHTTP(w, r)
}

// scanTrailer looks for a card number in the request's trailers, which
// scanBody has received by reading the body to its end; it returns the
// trailer's name.
func scanTrailer(trailer http.Header) (string, bool) {
	for name, values := range trailer {
		if cardscan.Contains(name) || slices.ContainsFunc(values, cardscan.Contains) {
			return name, true
		}
	}
	return "", false
}

// scanHead looks for a card number in the request line and headers; it
// returns the location and a description of where, or "".
func (h *Handler) scanHead(r *http.Request) (string, string) {
	if cardscan.Contains(r.URL.EscapedPath()) {
		return locPath, "the request path"
	}
	if cardscan.Contains(r.URL.RawQuery) {
		return locQuery, "the query string"
	}
	if cardscan.Contains(r.Host) {
		return locHeader, "header Host"
	}
	for name, values := range r.Header {
		if cardscan.Contains(name) {
			return locHeader, "a header name"
		}
		if h.skip[name] || isOwnRequestID(r, name, values) {
			continue
		}
		for _, v := range values {
			if name == "Cookie" && !h.cookieHasCard(v) || name != "Cookie" && !cardscan.Contains(v) {
				continue
			}
			return locHeader, "header " + name
		}
	}
	return "", ""
}

// isOwnRequestID reports whether the field is the X-Request-Id that
// request_guard set for the upstream: paygate's own ID, a UUID whose digit
// groups form a Luhn-valid number now and then, not a client's text.
func isOwnRequestID(r *http.Request, name string, values []string) bool {
	return name == reqid.Header && len(values) == 1 && values[0] == reqid.From(r)
}

// cookieHasCard scans one Cookie header line cookie by cookie, leaving out
// the values of SkipCookies; the line is split as it is sent, not as Go's
// cookie parser reads it, so that a cookie Go would drop is scanned too.
func (h *Handler) cookieHasCard(line string) bool {
	for _, part := range strings.Split(line, ";") {
		name, value, _ := strings.Cut(part, "=")
		if cardscan.Contains(name) || !h.skipCookies[textproto.TrimString(name)] && cardscan.Contains(value) {
			return true
		}
	}
	return false
}

// refuse records the refusal and returns the error that renders it.
func (h *Handler) refuse(r *http.Request, loc, where string) error {
	h.refused.WithLabelValues(loc).Inc()
	audit.Log(h.audit, r, audit.Event{
		Action:  "card_data_refused",
		Outcome: audit.Denied,
		Reason:  "card_number_in_" + loc,
	})
	e := errCardData.WithCause(fmt.Errorf("card number in %s", where))
	return caddyhttp.Error(e.Status, e)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
