package testenv

import "net/http"

// Sink is an http.ResponseWriter for benchmarks: it keeps the headers and
// the status, and drops the body, so that measuring a handler does not
// measure a recorder's buffer.
type Sink struct {
	H      http.Header
	Status int
}

// NewSink returns an empty Sink.
func NewSink() *Sink { return &Sink{H: http.Header{}} }

// Header implements http.ResponseWriter.
func (s *Sink) Header() http.Header { return s.H }

// WriteHeader implements http.ResponseWriter.
func (s *Sink) WriteHeader(status int) { s.Status = status }

// Write implements http.ResponseWriter, dropping p.
func (s *Sink) Write(p []byte) (int, error) { return len(p), nil }
