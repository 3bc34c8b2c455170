package testenv

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// RecordedRequest is one request as an Upstream received it.
type RecordedRequest struct {
	Method string
	// URL is the request URI as received (path and query).
	URL *url.URL
	// Host is the Host header, which Go keeps apart from Header.
	Host   string
	Header http.Header
	// Trailer holds the request's trailers, received after its body.
	Trailer http.Header
	Body    []byte
	Time    time.Time
}

// Upstream is an HTTP server on 127.0.0.1 standing in for the application
// behind paygate; it records every request it receives, in order.
type Upstream struct {
	// URL is the server's base URL, http://127.0.0.1:<port>.
	URL string

	handler  http.Handler
	mu       sync.Mutex
	requests []RecordedRequest
}

// StartUpstream starts an Upstream that records each request and then passes
// it to h. A nil h answers 200 with {"ok":true,"method":...,"path":...}. The
// server is closed when the test ends.
func StartUpstream(t testing.TB, h http.Handler) *Upstream {
	t.Helper()
	if h == nil {
		h = http.HandlerFunc(okJSON)
	}
	u := &Upstream{handler: h}
	srv := httptest.NewServer(u)
	t.Cleanup(srv.Close)
	u.URL = srv.URL
	return u
}

// okJSON is the default upstream handler.
func okJSON(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "method": r.Method, "path": r.URL.Path})
}

// ServeHTTP records r and hands it, with its body restored, to the handler.
func (u *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := RecordedRequest{
		Method:  r.Method,
		URL:     cloneURL(r.URL),
		Host:    r.Host,
		Header:  r.Header.Clone(),
		Trailer: r.Trailer.Clone(),
		Body:    body,
		Time:    time.Now(),
	}
	u.mu.Lock()
	u.requests = append(u.requests, rec)
	u.mu.Unlock()
	u.handler.ServeHTTP(w, r)
}

// Requests returns a copy of the requests received so far, oldest first.
func (u *Upstream) Requests() []RecordedRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]RecordedRequest, len(u.requests))
	for i, r := range u.requests {
		r.URL = cloneURL(r.URL)
		r.Header = r.Header.Clone()
		r.Body = bytes.Clone(r.Body)
		out[i] = r
	}
	return out
}

// Count returns how many requests the Upstream has received.
func (u *Upstream) Count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.requests)
}

func cloneURL(u *url.URL) *url.URL {
	c := *u
	return &c
}
