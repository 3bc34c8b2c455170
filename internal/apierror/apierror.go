// Package apierror is paygate's one error shape and its one renderer:
//
//	{"error": {"type": "...", "code": "...", "message": "...", "request_id": "..."}}
//
// Handlers return an *Error (wrapped by caddyhttp.Error) and never write
// error bodies themselves; the paygate_error handler, placed in the site's
// handle_errors route, renders it with Write. Message is safe to show a user
// and never names the internal cause, which only goes to the log.
package apierror

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Error types, as in Stripe's API plus the ones an edge needs.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAuthentication = "authentication_error"
	TypePermission     = "permission_error"
	TypeRateLimit      = "rate_limit_error"
	TypeIdempotency    = "idempotency_error"
	TypeCard           = "card_error"
	TypeAPI            = "api_error"
)

// Error is an API error: what the client sees, plus the internal cause.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Type is one of the Type* constants.
	Type string
	// Code is a stable machine-readable code, e.g. "tls_required"; it doubles
	// as a metric label, so the set of codes is fixed.
	Code string
	// Message is safe to show to an end user.
	Message string
	// DeclineCode is Stripe's decline_code for card errors (e.g.
	// "insufficient_funds"), sent as "decline_code"; empty otherwise.
	DeclineCode string
	// Header holds extra response headers, e.g. Retry-After.
	Header http.Header
	// Cause is the internal reason; it is logged, never sent.
	Cause error
}

// New returns an API error without a cause.
func New(status int, typ, code, message string) *Error {
	return &Error{Status: status, Type: typ, Code: code, Message: message}
}

// WithCause returns a copy of e carrying cause for the log.
func (e *Error) WithCause(cause error) *Error {
	c := *e
	c.Cause = cause
	return &c
}

// WithHeader returns a copy of e that also sets the response header key.
func (e *Error) WithHeader(key, value string) *Error {
	c := *e
	c.Header = e.Header.Clone()
	if c.Header == nil {
		c.Header = make(http.Header)
	}
	c.Header.Set(key, value)
	return &c
}

// Error is what the log shows: the code and the internal cause.
func (e *Error) Error() string {
	if e.Cause == nil {
		return e.Code
	}
	return e.Code + ": " + e.Cause.Error()
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Cause }

// RetryAfter is the Retry-After (in seconds) of every 503 paygate answers
// without one of its own: long enough for a store failover or a policy
// activation, short enough that a client's (and Stripe's) retry comes soon.
const RetryAfter = "2"

// Errors every stage may return.
var (
	TLSRequired      = New(http.StatusForbidden, TypeInvalidRequest, "tls_required", "This API is only served over HTTPS.")
	TLSVersionTooLow = New(http.StatusForbidden, TypeInvalidRequest, "tls_version_too_low", "This API requires a newer TLS version.")
	StoreUnavailable = New(http.StatusServiceUnavailable, TypeAPI, "store_unavailable", "The service is temporarily unavailable. Please retry.")
	// AuthUnavailable is the answer when a credential cannot be checked at
	// all (the identity provider's keys cannot be fetched): the token may be
	// fine, so the client must retry, not re-authenticate.
	AuthUnavailable = New(http.StatusServiceUnavailable, TypeAPI, "authentication_unavailable", "The service is temporarily unavailable. Please retry.")
	// UnsupportedMediaType answers a request body that is not UTF-8 JSON.
	UnsupportedMediaType = New(http.StatusUnsupportedMediaType, TypeInvalidRequest, "unsupported_media_type", "Request bodies must be JSON (Content-Type: application/json).")
	// ResourceMissing is the one answer for an object that does not exist
	// and for one the caller may not see: no stage may tell them apart.
	ResourceMissing = New(http.StatusNotFound, TypeInvalidRequest, "resource_missing", "No such resource.")
)

// forStatus is what a client sees for an error that is not an *Error, such
// as Caddy's own (a 413 from a body limit, a 502 from a proxy): a generic,
// cause-free error chosen by status.
func forStatus(status int) *Error {
	switch {
	case status == http.StatusUnauthorized:
		return New(status, TypeAuthentication, "unauthorized", "Authentication is required.")
	case status == http.StatusForbidden:
		return New(status, TypePermission, "forbidden", "You are not allowed to do this.")
	case status == http.StatusNotFound:
		return ResourceMissing
	case status == http.StatusMethodNotAllowed:
		return New(status, TypeInvalidRequest, "method_not_allowed", "This method is not allowed here.")
	case status == http.StatusRequestTimeout:
		return New(status, TypeInvalidRequest, "request_timeout", "The request took too long to arrive.")
	case status == http.StatusRequestEntityTooLarge:
		return New(status, TypeInvalidRequest, "body_too_large", "The request body is too large.")
	case status == http.StatusTooManyRequests:
		return New(status, TypeRateLimit, "rate_limited", "Too many requests. Please retry later.")
	case status == http.StatusBadGateway, status == http.StatusServiceUnavailable, status == http.StatusGatewayTimeout:
		return New(status, TypeAPI, "upstream_unavailable", "The service is temporarily unavailable. Please retry.")
	case status >= 400 && status < 500:
		return New(status, TypeInvalidRequest, "bad_request", "The request could not be processed.")
	default:
		return New(http.StatusInternalServerError, TypeAPI, "internal_error", "An internal error occurred.")
	}
}

// Resolve returns the API error a client should see for err: the *Error in
// its chain, else a generic one for status.
func Resolve(err error, status int) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return forStatus(status)
}

// ResolveRequest is Resolve for the error r's handlers returned: when err
// holds no *Error, the one a stage recorded with SetPending comes before the
// generic one.
func ResolveRequest(r *http.Request, err error, status int) *Error {
	var e *Error
	if !errors.As(err, &e) {
		e = pendingOf(r)
	}
	if e != nil {
		return e
	}
	return forStatus(status)
}

// Answer is the API error paygate_error answers r with for err, the error
// r's handlers returned: ResolveRequest with the status of err's
// caddyhttp.HandlerError (500 for an error that holds none). A stage that
// counts what a request was answered reads the status from here: a
// provider's failure that Caddy's authentication handler returned as a
// bare 401 is answered, and counted, as the error the provider recorded
// with SetPending.
func Answer(r *http.Request, err error) *Error {
	status := http.StatusInternalServerError
	if he, ok := errors.AsType[caddyhttp.HandlerError](err); ok && he.StatusCode != 0 {
		status = he.StatusCode
	}
	return ResolveRequest(r, err, status)
}

type body struct {
	Error bodyError `json:"error"`
}

type bodyError struct {
	Type        string `json:"type"`
	Code        string `json:"code"`
	Message     string `json:"message"`
	DeclineCode string `json:"decline_code,omitempty"`
	RequestID   string `json:"request_id,omitempty"`
}

// Write renders e as the response: its status, headers and JSON body.
func Write(w http.ResponseWriter, e *Error, requestID string) {
	// Marshalling a struct of strings cannot fail.
	b, _ := json.Marshal(body{Error: bodyError{Type: e.Type, Code: e.Code, Message: e.Message, DeclineCode: e.DeclineCode, RequestID: requestID}})
	h := w.Header()
	for k, v := range e.Header {
		h[k] = v
	}
	// Headers a failed upstream may have left behind describe another body.
	for _, k := range []string{"Content-Encoding", "Content-Range", "Etag", "Last-Modified", "Content-Disposition"} {
		h.Del(k)
	}
	if e.Status == http.StatusServiceUnavailable && h.Get("Retry-After") == "" {
		h.Set("Retry-After", RetryAfter)
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status)
	fmt.Fprintf(w, "%s\n", b)
}
