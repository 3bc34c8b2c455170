package apiresponse

import (
	"bytes"
	"errors"
	"net/http"
)

// recorder holds a response (its final status, header and up to max bytes
// of body) instead of writing it; flush writes it out. Interim (1xx)
// responses and flushes are not passed on: the client sees nothing until
// the response is complete.
type recorder struct {
	w        http.ResponseWriter
	header   http.Header
	status   int
	body     bytes.Buffer
	max      int64
	overflow bool
}

func newRecorder(w http.ResponseWriter, max int64) *recorder {
	return &recorder{w: w, header: http.Header{}, max: max}
}

// Header returns the header being recorded, not the client's.
func (rec *recorder) Header() http.Header { return rec.header }

// WriteHeader records the final status; interim ones are dropped.
func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 && status >= 200 {
		rec.status = status
	}
}

// errOverflow stops a writer that goes past the limit: reading the rest of
// an endless upstream body would gain nothing.
var errOverflow = errors.New("response body over the limit")

// Write records p, up to the limit; past it the response is marked as
// overflowing and the writer is stopped.
func (rec *recorder) Write(p []byte) (int, error) {
	rec.WriteHeader(http.StatusOK)
	if rec.overflow || int64(rec.body.Len()+len(p)) > rec.max {
		rec.overflow = true
		return 0, errOverflow
	}
	return rec.body.Write(p)
}

// Flush does nothing: the response is written whole, at the end.
func (rec *recorder) Flush() {}

// flush writes the recorded response to the client.
func (rec *recorder) flush() error {
	h := rec.w.Header()
	for k, v := range rec.header {
		h[k] = v
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	rec.w.WriteHeader(status)
	_, err := rec.w.Write(rec.body.Bytes())
	return err
}

// Interface guards
var (
	_ http.ResponseWriter = (*recorder)(nil)
	_ http.Flusher        = (*recorder)(nil)
)
