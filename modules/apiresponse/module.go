// Package apiresponse provides the api_response HTTP handler: on an API
// route it holds the upstream's whole response before the client sees any
// of it, so that what reaches the client is either a complete answer or
// paygate's own error. An upstream 5xx body (a stack trace, an internal
// address) is replaced by paygate's generic error; a response whose headers
// or body are over their limits, or that breaks off before its last byte
// (a reset connection, a crashed application), becomes a 502 instead of a
// truncated 200. Pages and downloads, which may stream, do not use it.
package apiresponse

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/reqid"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Defaults of the limits.
const (
	// DefaultMaxBody is the default of Handler.MaxBody: 1 MiB, far above any
	// answer of the payment API.
	DefaultMaxBody = 1 << 20
	// DefaultMaxHeaderBytes is the default of Handler.MaxHeaderBytes: 32 KiB.
	DefaultMaxHeaderBytes = 32 << 10
)

// Errors the handler answers with; the cause goes to the log.
var (
	errTruncated = apierror.New(http.StatusBadGateway, apierror.TypeAPI, "upstream_unavailable",
		"The service is temporarily unavailable. Please retry.")
	errTooLarge = apierror.New(http.StatusBadGateway, apierror.TypeAPI, "upstream_response_invalid",
		"The service answered in a way that could not be passed on.")
)

// Handler buffers the response of the handlers after it (the payment
// handler, or reverse_proxy to the application) and writes it only once it
// is complete and within limits.
type Handler struct {
	// MaxBody is the largest response body held, in bytes; a larger response
	// is answered with 502 upstream_response_invalid. Default: 1048576 (1 MiB).
	MaxBody int64 `json:"max_body,omitempty"`

	// MaxHeaderBytes bounds the response's header fields, names and values
	// together, in bytes; a larger head is answered with 502
	// upstream_response_invalid. Default: 32768 (32 KiB). Set the proxy
	// transport's max_response_header too, so that a huge head is not even
	// read.
	MaxHeaderBytes int64 `json:"max_header_bytes,omitempty"`

	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.api_response",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision applies the defaults.
func (h *Handler) Provision(ctx caddy.Context) error {
	if h.MaxBody == 0 {
		h.MaxBody = DefaultMaxBody
	}
	if h.MaxHeaderBytes == 0 {
		h.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	h.logger = ctx.Logger()
	return nil
}

// Validate refuses limits that cannot work.
func (h *Handler) Validate() error {
	if h.MaxBody < 0 || h.MaxHeaderBytes < 0 {
		return errors.New("api_response: limits must not be negative")
	}
	return nil
}

// ServeHTTP runs the next handler into a buffer and writes its response
// when it is complete; a failure before that becomes paygate's error.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) (err error) {
	rec := newRecorder(w, h.MaxBody)
	defer func() {
		// reverse_proxy aborts a response whose body breaks off with
		// http.ErrAbortHandler, to cut the client's connection; nothing has
		// reached the client yet, so it gets a whole 502 instead.
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			if rec.overflow {
				err = h.fail(r, errTooLarge, fmt.Errorf("the upstream response body is over %d bytes", h.MaxBody))
				return
			}
			err = h.fail(r, errTruncated, errors.New("the upstream response broke off before its end"))
		}
	}()
	nextErr := next.ServeHTTP(rec, r)
	switch {
	case rec.overflow:
		return h.fail(r, errTooLarge, fmt.Errorf("the upstream response body is over %d bytes", h.MaxBody))
	case nextErr != nil:
		// Nothing was written: handle_errors renders it, and the recorded
		// head of a failed response is dropped with the rest.
		return nextErr
	case headerBytes(rec.header) > h.MaxHeaderBytes:
		return h.fail(r, errTooLarge, fmt.Errorf("the upstream response header is over %d bytes", h.MaxHeaderBytes))
	case rec.status >= 500:
		// Replaced whatever it says; the status stays, so that a 503 is
		// still retried and a 500 still reads as a bug.
		e := apierror.Resolve(nil, rec.status)
		return h.fail(r, e, fmt.Errorf("the upstream answered %d (%d bytes of body dropped)", rec.status, rec.body.Len()))
	}
	return rec.flush()
}

// fail logs why a response was replaced and returns e for handle_errors.
func (h *Handler) fail(r *http.Request, e *apierror.Error, cause error) error {
	if c := h.logger.Check(zapcore.WarnLevel, "upstream response replaced"); c != nil {
		c.Write(zap.String(reqid.LogField, reqid.From(r)), zap.Int("status", e.Status), zap.String("cause", cause.Error()))
	}
	return caddyhttp.Error(e.Status, e.WithCause(cause))
}

// headerBytes is the size of h's fields as they would be sent, roughly:
// names, values and separators.
func headerBytes(h http.Header) int64 {
	var n int64
	for name, values := range h {
		for _, v := range values {
			n += int64(len(name) + len(v) + 4)
		}
	}
	return n
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
