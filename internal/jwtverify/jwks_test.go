package jwtverify

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/testenv"
)

// jwksServer is a local JWKS endpoint whose keys, status and Cache-Control
// a test changes, and which counts its requests.
type jwksServer struct {
	srv *httptest.Server

	mu           sync.Mutex
	keys         []signingKey
	status       int
	cacheControl string
	body         []byte // replaces the key set when set
	redirect     string // answers 302 to this URL when set
	fetches      int
	release      chan struct{} // when set, responses wait for it
}

func newJWKSServer(t testing.TB, keys ...signingKey) *jwksServer {
	t.Helper()
	s := &jwksServer{keys: keys, status: http.StatusOK, cacheControl: "public, max-age=600"}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func newTLSJWKSServer(t testing.TB, keys ...signingKey) *jwksServer {
	t.Helper()
	s := &jwksServer{keys: keys, status: http.StatusOK}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *jwksServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.fetches++
	release, status, cc, body, redirect := s.release, s.status, s.cacheControl, s.body, s.redirect
	var set []any
	for _, k := range s.keys {
		set = append(set, k.publicJWK(nopTB{}))
	}
	s.mu.Unlock()
	if release != nil {
		<-release
	}
	if redirect != "" {
		http.Redirect(w, r, redirect, http.StatusFound)
		return
	}
	if body == nil {
		body, _ = json.Marshal(map[string]any{"keys": set})
	}
	if cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.WriteHeader(status)
	w.Write(body)
}

func (s *jwksServer) URL() string { return s.srv.URL + "/.well-known/jwks.json" }

func (s *jwksServer) Fetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}

func (s *jwksServer) set(f func(*jwksServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// nopTB lets the server build JWKs outside a test goroutine; publicJWK
// cannot fail for the generated keys.
type nopTB struct{ testing.TB }

func (nopTB) Helper()           {}
func (nopTB) Fatal(args ...any) { panic(fmt.Sprint(args...)) }

// fetchWatcher collects a Remote's fetch results.
type fetchWatcher chan FetchResult

func (w fetchWatcher) onFetch(r FetchResult) { w <- r }

// next waits for the next fetch result.
func (w fetchWatcher) next(t testing.TB) FetchResult {
	t.Helper()
	select {
	case r := <-w:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no JWKS fetch happened")
	}
	return FetchResult{}
}

// none checks that no fetch has completed since the last next.
func (w fetchWatcher) none(t testing.TB) {
	t.Helper()
	select {
	case r := <-w:
		t.Fatalf("unexpected fetch: %+v", r)
	default:
	}
}

// remoteOptions are the timings of the JWKS tests.
func remoteOptions(clock Clock, w fetchWatcher) RemoteOptions {
	return RemoteOptions{
		MinRefresh:    time.Minute,
		MaxRefresh:    time.Hour,
		MaxStale:      time.Hour,
		RetryInterval: 30 * time.Second,
		Clock:         clock,
		OnFetch:       w.onFetch,
	}
}

// startRemote starts a Remote for srv and a verifier (with a cache) on it,
// and waits for the first fetch.
func startRemote(t *testing.T, srv *jwksServer, edit func(*RemoteOptions)) (*Verifier, *fakeClock, fetchWatcher) {
	t.Helper()
	clock := newFakeClock()
	w := make(fetchWatcher, 1000)
	opts := remoteOptions(clock, w)
	if edit != nil {
		edit(&opts)
	}
	algs, err := ParseAlgorithms(DefaultAlgorithms)
	must(t, err)
	r, err := StartRemote(t.Context(), srv.URL(), algs, opts)
	must(t, err)
	v, _ := newTestVerifier(t, func(o *Options) { o.Clock, o.CacheSize = clock, 100 }, r)
	return v, clock, w
}

func TestJWKSRotation(t *testing.T) {
	k := testKeys()
	oldKey, newKey := k["ES256"], k["EdDSA"]
	srv := newJWKSServer(t, oldKey)
	v, clock, w := startRemote(t, srv, nil)
	if r := w.next(t); r.Err != nil || r.Keys != 1 || r.Lifetime != 10*time.Minute {
		t.Fatalf("first fetch: %+v", r)
	}
	claims := with(map[string]any{"exp": t0.Add(24 * time.Hour).Unix()})
	oldTok, newTok := token(t, oldKey, claims, nil), token(t, newKey, claims, nil)
	checkReason(t, v, oldTok, "")

	clock.waitForWaiter(t, 10*time.Minute) // the refresher sleeps until the lifetime ends

	// The identity provider publishes a new key. Within the retry interval
	// of the last fetch, a token with its kid does not cause a fetch.
	srv.set(func(s *jwksServer) { s.keys = []signingKey{oldKey, newKey} })
	clock.Advance(29 * time.Second)
	checkReason(t, v, newTok, ReasonKeyUnknown)
	w.none(t)
	// Past it, the unknown kid makes one fetch, long before the set's
	// 10-minute lifetime ends, and the token is accepted.
	clock.Advance(time.Second)
	checkReason(t, v, newTok, "")
	if r := w.next(t); r.Err != nil || r.Keys != 2 {
		t.Fatalf("refetch: %+v", r)
	}
	if n := srv.Fetches(); n != 2 {
		t.Errorf("fetches = %d, want 2", n)
	}

	// The old key is withdrawn. It stays trusted (and its token cached)
	// until the set's lifetime ends...
	srv.set(func(s *jwksServer) { s.keys = []signingKey{newKey} })
	clock.Advance(10*time.Minute - time.Second)
	clock.waitForWaiter(t, time.Second) // woken at the first fetch's lifetime end, it sleeps again
	checkReason(t, v, oldTok, "")
	// ...and then the background refresh drops it, cache and all.
	clock.Advance(time.Second)
	if r := w.next(t); r.Err != nil || r.Keys != 1 {
		t.Fatalf("refresh: %+v", r)
	}
	checkReason(t, v, oldTok, ReasonKeyUnknown)
	checkReason(t, v, newTok, "")
}

func TestJWKSUnknownKidFlood(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t, k["EdDSA"])
	v, clock, w := startRemote(t, srv, nil)
	w.next(t)
	flood := func() {
		var wg sync.WaitGroup
		for i := range 200 {
			tok := testenv.SignJWT(t, "EdDSA", k["attacker"].private,
				jsonText(t, map[string]any{"alg": "EdDSA", "kid": fmt.Sprintf("unknown-%d", i), "typ": "at+jwt"}),
				jsonText(t, goodClaims()))
			wg.Go(func() {
				if _, err := v.Verify(context.Background(), tok); ReasonOf(err) != ReasonKeyUnknown {
					t.Errorf("unknown kid: err = %v, want %s", err, ReasonKeyUnknown)
				}
			})
		}
		wg.Wait()
	}
	for interval := 1; interval <= 3; interval++ {
		clock.Advance(30 * time.Second)
		flood()
		flood()
		if got, want := srv.Fetches(), 1+interval; got != want {
			t.Fatalf("after %d intervals of floods: %d fetches, want %d", interval, got, want)
		}
	}
}

func TestJWKSFirstRequestWaitsForFirstFetch(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t, k["EdDSA"])
	release := make(chan struct{})
	srv.set(func(s *jwksServer) { s.release = release })
	v, _, w := startRemote(t, srv, nil)
	done := make(chan error)
	go func() {
		_, err := v.Verify(context.Background(), token(t, k["EdDSA"], goodClaims(), nil))
		done <- err
	}()
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("request during the first fetch: %v", err)
	}
	w.next(t)
	if n := srv.Fetches(); n != 1 {
		t.Errorf("fetches = %d, want 1 (the request joins the first fetch)", n)
	}
}

func TestJWKSNeverLoaded(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t, k["EdDSA"])
	srv.set(func(s *jwksServer) { s.status = http.StatusServiceUnavailable })
	v, clock, w := startRemote(t, srv, nil)
	if r := w.next(t); r.Err == nil {
		t.Fatal("first fetch succeeded against a 503")
	}
	tok := token(t, k["EdDSA"], goodClaims(), nil)
	checkReason(t, v, tok, ReasonKeysUnavailable)
	// Retries back off from one second, doubling, up to the retry interval
	// (30 s here); once one succeeds, tokens pass.
	for _, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second} {
		clock.waitForWaiter(t, wait)
		clock.Advance(wait - time.Millisecond)
		w.none(t)
		clock.Advance(time.Millisecond)
		if r := w.next(t); r.Err == nil {
			t.Fatalf("retry after %v succeeded against a 503", wait)
		}
	}
	srv.set(func(s *jwksServer) { s.status = http.StatusOK })
	clock.waitForWaiter(t, 30*time.Second)
	clock.Advance(30 * time.Second)
	if r := w.next(t); r.Err != nil {
		t.Fatalf("retry: %v", r.Err)
	}
	checkReason(t, v, tok, "")
}

func TestRetryBackoff(t *testing.T) {
	for failures, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 6: 30 * time.Second, 1000: 30 * time.Second} {
		if got := retryBackoff(failures, 30*time.Second); got != want {
			t.Errorf("retryBackoff(%d) = %v, want %v", failures, got, want)
		}
	}
}

func TestJWKSStaleness(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t, k["EdDSA"])
	v, clock, w := startRemote(t, srv, nil)
	w.next(t)
	tok := token(t, k["EdDSA"], with(map[string]any{"exp": t0.Add(24 * time.Hour).Unix()}), nil)
	checkReason(t, v, tok, "")

	srv.set(func(s *jwksServer) { s.status = http.StatusInternalServerError })
	// The set's lifetime (10m) ends; the refresh fails; the last good set
	// is kept.
	clock.waitForWaiter(t, 10*time.Minute)
	clock.Advance(10 * time.Minute)
	if r := w.next(t); r.Err == nil {
		t.Fatal("refresh against a 500 succeeded")
	}
	checkReason(t, v, tok, "")
	// Failed refreshes are retried with backoff (1 s, 2 s, 4 s, ... up to
	// the 30 s retry interval); up to MaxStale (1h) past the lifetime the
	// set is still used...
	var elapsed time.Duration
	for failures := 1; elapsed+retryBackoff(failures, 30*time.Second) <= time.Hour; failures++ {
		d := retryBackoff(failures, 30*time.Second)
		clock.waitForWaiter(t, d)
		clock.Advance(d)
		elapsed += d
		if r := w.next(t); r.Err == nil {
			t.Fatal("retry against a 500 succeeded")
		}
	}
	checkReason(t, v, tok, "")
	// ...and after it every token is refused, cached ones too. (The
	// refresher must be asleep before the clock moves: a sleep begun after
	// an Advance would end 30 s later than the next Advance reaches.)
	clock.waitForWaiter(t, 30*time.Second)
	clock.Advance(time.Hour - elapsed + time.Second)
	checkReason(t, v, tok, ReasonKeysUnavailable)

	// When the JWKS answers again, tokens pass again.
	srv.set(func(s *jwksServer) { s.status = http.StatusOK })
	advanceToGoodFetch(t, clock, w)
	checkReason(t, v, tok, "")
}

// advanceToGoodFetch moves the clock to each of the refresher's retries
// (at most the 30 s retry interval apart), each time once it is asleep,
// until a fetch succeeds.
func advanceToGoodFetch(t *testing.T, clock *fakeClock, w fetchWatcher) {
	t.Helper()
	for {
		clock.waitForWaiter(t, time.Millisecond)
		clock.Advance(30 * time.Second)
		if w.next(t).Err == nil {
			return
		}
	}
}

// TestJWKSHealth: Health fails exactly when tokens would be refused for
// want of keys: before the first good fetch, and once the set is stale
// past its lifetime plus MaxStale; a good fetch heals it.
func TestJWKSHealth(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t, k["EdDSA"])
	srv.set(func(s *jwksServer) { s.status = http.StatusServiceUnavailable })
	clock := newFakeClock()
	w := make(fetchWatcher, 1000)
	algs, err := ParseAlgorithms(DefaultAlgorithms)
	must(t, err)
	r, err := StartRemote(t.Context(), srv.URL(), algs, remoteOptions(clock, w))
	must(t, err)
	if res := w.next(t); res.Err == nil {
		t.Fatal("first fetch succeeded against a 503")
	}
	if err := r.Health(); err == nil || !strings.Contains(err.Error(), "not loaded yet") {
		t.Fatalf("Health before any key set = %v, want not loaded yet", err)
	}
	srv.set(func(s *jwksServer) { s.status = http.StatusOK })
	advanceToGoodFetch(t, clock, w)
	if err := r.Health(); err != nil {
		t.Fatalf("Health after a good fetch = %v", err)
	}

	// The set's lifetime is 10m (max-age=600) and MaxStale 1h: while every
	// refresh fails, it stays usable up to 1h10m after the fetch, not a
	// second longer.
	srv.set(func(s *jwksServer) { s.status = http.StatusInternalServerError })
	// The refresher must be asleep until the lifetime ends before the
	// clock moves past it; one that fell asleep after the move would sleep
	// 10 minutes more, past every later Advance.
	clock.waitForWaiter(t, 10*time.Minute)
	clock.Advance(10*time.Minute + time.Hour)
	if err := r.Health(); err != nil {
		t.Fatalf("Health at the stale limit = %v, want nil", err)
	}
	clock.Advance(time.Second)
	if err := r.Health(); err == nil || !strings.Contains(err.Error(), "stale") {
		t.Fatalf("Health past the stale limit = %v, want stale", err)
	}
	srv.set(func(s *jwksServer) { s.status = http.StatusOK })
	advanceToGoodFetch(t, clock, w)
	if err := r.Health(); err != nil {
		t.Fatalf("Health after the JWKS answered again = %v", err)
	}
}

func TestJWKSRedirects(t *testing.T) {
	k := testKeys()
	other := newTLSJWKSServer(t, k["attacker"])
	plain := newJWKSServer(t, k["attacker"])
	tests := []struct {
		name     string
		redirect func(self *jwksServer) string
		wantErr  bool
		target   *jwksServer
	}{
		{name: "same host, https", redirect: func(self *jwksServer) string { return self.srv.URL + "/keys-v2" }},
		{name: "another host", redirect: func(*jwksServer) string { return other.URL() }, wantErr: true, target: other},
		{name: "to http", redirect: func(*jwksServer) string { return plain.URL() }, wantErr: true, target: plain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTLSJWKSServer(t, k["EdDSA"])
			redirect := tt.redirect(srv)
			first := true
			srv.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if first {
					first = false
					http.Redirect(w, r, redirect, http.StatusFound)
					return
				}
				srv.serve(w, r)
			})
			before := 0
			if tt.target != nil {
				before = tt.target.Fetches()
			}
			clock := newFakeClock()
			w := make(fetchWatcher, 10)
			opts := remoteOptions(clock, w)
			opts.Client = srv.srv.Client()
			algs, err := ParseAlgorithms(DefaultAlgorithms)
			must(t, err)
			if _, err := StartRemote(t.Context(), srv.URL(), algs, opts); err != nil {
				t.Fatal(err)
			}
			r := w.next(t)
			if (r.Err != nil) != tt.wantErr {
				t.Fatalf("fetch err = %v, wantErr %v", r.Err, tt.wantErr)
			}
			if tt.target != nil && tt.target.Fetches() != before {
				t.Errorf("the redirect target got a request")
			}
		})
	}
}

func TestJWKSFetchFailuresKeepLastGoodSet(t *testing.T) {
	k := testKeys()
	tests := []struct {
		name string
		edit func(*jwksServer)
	}{
		{name: "not found", edit: func(s *jwksServer) { s.status = http.StatusNotFound }},
		{name: "not JSON", edit: func(s *jwksServer) { s.body = []byte("<html>") }},
		{name: "a single JWK, not a set", edit: func(s *jwksServer) { s.body = []byte(jsonText(t, k["EdDSA"].publicJWK(t))) }},
		{name: "duplicate member", edit: func(s *jwksServer) { s.body = []byte(`{"keys":[],"keys":[]}`) }},
		{name: "no usable key", edit: func(s *jwksServer) { s.keys = []signingKey{k["ES384"]} }},
		{name: "empty set", edit: func(s *jwksServer) { s.keys = nil }},
		{name: "too large", edit: func(s *jwksServer) {
			s.body = []byte(`{"keys":[],"pad":"` + strings.Repeat("a", maxJWKSSize) + `"}`)
		}},
		{name: "redirect to another host", edit: func(s *jwksServer) { s.redirect = "http://localhost:1/jwks.json" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newJWKSServer(t, k["EdDSA"])
			v, clock, w := startRemote(t, srv, nil)
			w.next(t)
			tok := token(t, k["EdDSA"], goodClaims(), nil)
			checkReason(t, v, tok, "")
			srv.set(tt.edit)
			clock.waitForWaiter(t, 10*time.Minute)
			clock.Advance(10 * time.Minute)
			if r := w.next(t); r.Err == nil {
				t.Fatalf("fetch succeeded: %+v", r)
			}
			checkReason(t, v, tok, "")
		})
	}
}

func TestParseKeySet(t *testing.T) {
	k := testKeys()
	member := func(sk signingKey, edit map[string]any) map[string]any {
		var m map[string]any
		must(t, json.Unmarshal([]byte(jsonText(t, sk.publicJWK(t))), &m))
		for name, v := range edit {
			if v == nil {
				delete(m, name)
				continue
			}
			m[name] = v
		}
		return m
	}
	// A 1024-bit modulus (its top bit set).
	weak := map[string]any{"kty": "RSA", "kid": "weak", "e": "AQAB", "n": base64.RawURLEncoding.EncodeToString(append([]byte{0xc1}, make([]byte, 127)...))}
	set := map[string]any{"keys": []any{
		member(k["RS256"], nil),                          // usable
		member(k["ES256"], map[string]any{"alg": nil}),   // usable: ES256 from its curve
		member(k["EdDSA"], map[string]any{"use": "sig"}), // usable
		member(k["PS256"], map[string]any{"use": "enc"}), // encryption key
		member(k["PS256"], map[string]any{"key_ops": []string{"encrypt"}}),
		member(k["ES256"], map[string]any{"alg": "RS256"}),        // alg that does not fit the key
		member(k["ES384"], nil),                                   // ES384 not allowed
		map[string]any{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}, // symmetric
		map[string]any{"kty": "OKP", "crv": "X25519", "x": base64.RawURLEncoding.EncodeToString(make([]byte, 32))},
		map[string]any{"kty": "ML-DSA", "kid": "future"}, // unknown type
		weak, // RSA-1024
	}}
	algs, err := ParseAlgorithms(DefaultAlgorithms)
	must(t, err)
	ring, skipped, err := parseKeySet([]byte(jsonText(t, set)), algs)
	must(t, err)
	var got []string
	for _, key := range ring.keys {
		got = append(got, key.ID+"/"+key.Alg)
	}
	if want := "rsa-1/RS256 ec-1/ES256 ed-1/EdDSA"; strings.Join(got, " ") != want {
		t.Errorf("keys = %q, want %q", got, want)
	}
	if skipped != 8 {
		t.Errorf("skipped = %d, want 8", skipped)
	}
}

func TestCacheLifetime(t *testing.T) {
	const lo, hi = time.Minute, time.Hour
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{name: "none", header: http.Header{}, want: lo},
		{name: "max-age", header: http.Header{"Cache-Control": {"public, max-age=600, must-revalidate"}}, want: 10 * time.Minute},
		{name: "below the floor", header: http.Header{"Cache-Control": {"max-age=5"}}, want: lo},
		{name: "above the ceiling", header: http.Header{"Cache-Control": {"max-age=86400"}}, want: hi},
		{name: "huge", header: http.Header{"Cache-Control": {"max-age=999999999999999999999999"}}, want: hi},
		{name: "upper case", header: http.Header{"Cache-Control": {"MAX-AGE=600"}}, want: 10 * time.Minute},
		{name: "quoted", header: http.Header{"Cache-Control": {`max-age="600"`}}, want: 10 * time.Minute},
		{name: "two field lines", header: http.Header{"Cache-Control": {"public", "max-age=600"}}, want: 10 * time.Minute},
		{name: "less its age", header: http.Header{"Cache-Control": {"max-age=600"}, "Age": {"120"}}, want: 8 * time.Minute},
		{name: "older than its max-age", header: http.Header{"Cache-Control": {"max-age=600"}, "Age": {"900"}}, want: lo},
		{name: "no-store", header: http.Header{"Cache-Control": {"no-store, max-age=600"}}, want: lo},
		{name: "no-cache", header: http.Header{"Cache-Control": {"max-age=600, no-cache"}}, want: lo},
		{name: "negative", header: http.Header{"Cache-Control": {"max-age=-600"}}, want: lo},
		{name: "not a number", header: http.Header{"Cache-Control": {"max-age=ten"}}, want: lo},
		{name: "repeated", header: http.Header{"Cache-Control": {"max-age=600, max-age=3000"}}, want: lo},
		{name: "s-maxage only", header: http.Header{"Cache-Control": {"s-maxage=600"}}, want: lo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cacheLifetime(tt.header, lo, hi); got != tt.want {
				t.Errorf("cacheLifetime = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestStartRemoteRefuses(t *testing.T) {
	asym, err := ParseAlgorithms(DefaultAlgorithms)
	must(t, err)
	hmac, err := ParseAlgorithms([]string{"HS256"})
	must(t, err)
	tests := []struct {
		name string
		url  string
		algs Algorithms
		opts RemoteOptions
	}{
		{name: "http to a remote host", url: "http://id.example.test/jwks.json", algs: asym},
		{name: "no host", url: "https:///jwks.json", algs: asym},
		{name: "another scheme", url: "ftp://id.example.test/jwks.json", algs: asym},
		{name: "unparsable", url: "https://[::1/jwks", algs: asym},
		{name: "HMAC algorithms", url: "https://id.example.test/jwks.json", algs: hmac},
		{name: "floor above ceiling", url: "https://id.example.test/jwks.json", algs: asym, opts: RemoteOptions{MinRefresh: 2 * time.Hour, MaxRefresh: time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := StartRemote(t.Context(), tt.url, tt.algs, tt.opts); err == nil {
				t.Fatal("got no error")
			}
		})
	}
	for _, ok := range []string{"http://127.0.0.1:8080/jwks.json", "http://localhost/jwks", "http://[::1]:1/x", "https://id.example.test/.well-known/jwks.json"} {
		if err := checkJWKSURL(ok); err != nil {
			t.Errorf("checkJWKSURL(%q): %v", ok, err)
		}
	}
}

// refusingClient is an HTTP client whose every request fails, for Remotes
// that must not reach the network.
func refusingClient() *http.Client {
	return &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, fmt.Errorf("no network in tests")
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// selfSignedCert returns a base64 DER certificate for k, as x5c holds it.
func selfSignedCert(t testing.TB, k signingKey) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "attacker"}, NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.private.Public(), k.private)
	must(t, err)
	return base64.StdEncoding.EncodeToString(der)
}
