package securityheaders

import (
	"io"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// enforcer re-applies the handler's headers at the moment the response head
// is written, whichever way it is written (WriteHeader, Write, ReadFrom or
// Flush), overriding what later handlers or an upstream put there.
type enforcer struct {
	*caddyhttp.ResponseWriterWrapper
	h           *Handler
	r           *http.Request
	wroteHeader bool
}

func (e *enforcer) WriteHeader(status int) {
	if e.wroteHeader {
		return
	}
	// 1xx responses are informational; the final head comes later.
	if status >= 200 {
		e.wroteHeader = true
	}
	e.h.apply(e.ResponseWriterWrapper.Header(), e.r)
	e.ResponseWriterWrapper.WriteHeader(status)
}

func (e *enforcer) Write(b []byte) (int, error) {
	e.ensureHeader()
	return e.ResponseWriterWrapper.Write(b)
}

func (e *enforcer) ReadFrom(r io.Reader) (int64, error) {
	e.ensureHeader()
	return e.ResponseWriterWrapper.ReadFrom(r)
}

func (e *enforcer) Flush() {
	e.ensureHeader()
	_ = http.NewResponseController(e.ResponseWriterWrapper.ResponseWriter).Flush()
}

func (e *enforcer) ensureHeader() {
	if !e.wroteHeader {
		e.WriteHeader(http.StatusOK)
	}
}

// Interface guards
var (
	_ http.ResponseWriter = (*enforcer)(nil)
	_ http.Flusher        = (*enforcer)(nil)
	_ io.ReaderFrom       = (*enforcer)(nil)
)
