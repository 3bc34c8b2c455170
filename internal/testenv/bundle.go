package testenv

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// BundlePath is where a BundleServer serves its bundle.
const BundlePath = "/bundles/paygate.tar.gz"

// BundleServer is an OPA bundle service for the bundles bundletest.Build
// makes: it serves the current bundle at BundlePath with its ETag, answers
// 304 to a matching If-None-Match and 404 while it has no bundle. Its zero
// value is ready to use as an http.Handler.
type BundleServer struct {
	mu        sync.Mutex
	etag      string
	body      []byte
	downloads int
	auth      string
}

// StartBundleServer starts a BundleServer on 127.0.0.1, closed when t ends,
// and returns it with the bundle's URL.
func StartBundleServer(t testing.TB) (*BundleServer, string) {
	t.Helper()
	s := new(BundleServer)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL + BundlePath
}

// Set makes body, a bundle tarball, the one served under etag; a nil body
// takes the bundle away.
func (s *BundleServer) Set(etag string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.etag, s.body = `"`+etag+`"`, body
}

// Downloads is how many times the bundle was sent in full (not 304).
func (s *BundleServer) Downloads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.downloads
}

// Authorization is the Authorization header of the last request.
func (s *BundleServer) Authorization() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auth
}

// ServeHTTP serves the bundle.
func (s *BundleServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth = r.Header.Get("Authorization")
	if s.body == nil || r.URL.Path != BundlePath {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("ETag", s.etag)
	if r.Header.Get("If-None-Match") == s.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.downloads++
	w.Header().Set("Content-Type", "application/gzip")
	_, _ = w.Write(s.body)
}
