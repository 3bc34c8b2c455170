package jwtverify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/paygate/paygate/internal/urlpolicy"

	"github.com/paygate/paygate/internal/strictjson"
)

// maxJWKSSize bounds a JWKS response body; real ones are a few kilobytes.
const maxJWKSSize = 512 << 10

// maxRedirects bounds the redirects followed while fetching a JWKS.
const maxRedirects = 3

// Defaults of RemoteOptions.
const (
	DefaultMinRefresh    = 5 * time.Minute
	DefaultMaxRefresh    = 24 * time.Hour
	DefaultMaxStale      = time.Hour
	DefaultRetryInterval = 30 * time.Second
	DefaultFetchTimeout  = 10 * time.Second
)

// firstRetry is the wait before the first retry of a failed scheduled
// fetch; each further failure doubles it, up to RetryInterval. An identity
// provider that was down for a moment is back in use within seconds, one
// that stays down is asked at most once per RetryInterval.
const firstRetry = time.Second

// RemoteOptions tunes a Remote. Zero durations take the defaults above.
type RemoteOptions struct {
	// Client fetches the JWKS; nil means a plain client. Whatever the
	// client, redirects are followed only to https on the same host, and
	// Timeout bounds every fetch.
	Client *http.Client
	// MinRefresh is the floor under the lifetime a response's Cache-Control
	// max-age gives the set, and the lifetime when it gives none.
	MinRefresh time.Duration
	// MaxRefresh is the ceiling over that lifetime.
	MaxRefresh time.Duration
	// MaxStale is how long past its lifetime the last good set is still used
	// while refreshing fails; after that, tokens are refused (fail closed).
	MaxStale time.Duration
	// RetryInterval is the least time between a fetch and the next one that
	// is not a scheduled refresh (the refetch when a token names an unknown
	// kid), and the longest wait between retries of failed fetches, which
	// back off from one second, doubling.
	RetryInterval time.Duration
	// Timeout bounds one fetch.
	Timeout time.Duration
	// Clock is the time source; nil means the wall clock.
	Clock Clock
	// OnFetch, when set, is called after every fetch.
	OnFetch func(FetchResult)
}

// FetchResult is the outcome of one JWKS fetch.
type FetchResult struct {
	// URL is the JWKS URL.
	URL string
	// Keys is how many keys were usable, Skipped how many were not (another
	// use, a disallowed algorithm, an unknown key type).
	Keys, Skipped int
	// Lifetime is how long the set is fresh.
	Lifetime time.Duration
	// Err is why the fetch failed; the last good set stays in use.
	Err error
}

// Remote is a JWKS URL and its last good key set. It refreshes the set in
// the background when its lifetime (Cache-Control max-age, within
// MinRefresh and MaxRefresh) ends; refetches it when a token names an
// unknown kid, at most once per RetryInterval and with concurrent requests
// sharing one fetch; keeps the last good set when a fetch fails, for at most
// MaxStale past its lifetime, and then fails closed.
//
// jwx's jwk.Cache (httprc v1) was not used: it cannot bound staleness, its
// Refresh neither shares a fetch between callers nor is rate-limited (and
// each call schedules one more perpetual refresh), it reads response bodies
// without a limit, and its scheduler runs on the wall clock in whole
// seconds. Key parsing and typing are jwx's (jwk.Parse).
type Remote struct {
	url    string
	algs   Algorithms
	opts   RemoteOptions
	client *http.Client
	ctx    context.Context

	mu          sync.Mutex
	ring        *keyring
	expires     time.Time // end of ring's lifetime
	lastAttempt time.Time
	failures    int           // fetches that failed in a row
	inflight    chan struct{} // closed when the running fetch is done
}

// StartRemote is NewRemote followed by Start.
func StartRemote(ctx context.Context, rawURL string, algs Algorithms, opts RemoteOptions) (*Remote, error) {
	r, err := NewRemote(ctx, rawURL, algs, opts)
	if err != nil {
		return nil, err
	}
	r.Start()
	return r, nil
}

// NewRemote validates rawURL (https, or http to a loopback address), the
// algorithms and the options, and returns the Remote without fetching
// anything: "paygate validate --offline" stops there. Tokens are refused
// with ReasonKeysUnavailable until a fetch succeeds.
func NewRemote(ctx context.Context, rawURL string, algs Algorithms, opts RemoteOptions) (*Remote, error) {
	if err := checkJWKSURL(rawURL); err != nil {
		return nil, err
	}
	if algs.HMAC() {
		return nil, errors.New("a JWKS cannot be used with HMAC algorithms")
	}
	opts = withDefaults(opts)
	if opts.MinRefresh > opts.MaxRefresh {
		return nil, fmt.Errorf("minimum refresh %s is above the maximum %s", opts.MinRefresh, opts.MaxRefresh)
	}
	client := &http.Client{}
	if opts.Client != nil {
		c := *opts.Client
		client = &c
	}
	client.Timeout = opts.Timeout
	client.CheckRedirect = checkRedirect
	return &Remote{url: rawURL, algs: algs, opts: opts, client: client, ctx: ctx}, nil
}

// Start fetches the set in the background, at once and then whenever it is
// due, until the context given to NewRemote ends; a request that arrives
// during the first fetch waits for it. Call it once.
func (r *Remote) Start() {
	go r.run()
}

func withDefaults(o RemoteOptions) RemoteOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.MinRefresh, DefaultMinRefresh)
	def(&o.MaxRefresh, DefaultMaxRefresh)
	def(&o.MaxStale, DefaultMaxStale)
	def(&o.RetryInterval, DefaultRetryInterval)
	def(&o.Timeout, DefaultFetchTimeout)
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	return o
}

// checkJWKSURL accepts https URLs, and http ones only to loopback (a local
// identity provider in development).
func checkJWKSURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("JWKS URL: %w", err)
	}
	switch {
	case u.Host == "":
		return fmt.Errorf("JWKS URL %q has no host", rawURL)
	case urlpolicy.Secure(u):
		return nil
	}
	return fmt.Errorf("JWKS URL %q must be https (http only to loopback)", rawURL)
}

// checkRedirect follows a JWKS redirect only to https on the same host: a
// redirect elsewhere would let whoever controls it choose our keys.
func checkRedirect(req *http.Request, via []*http.Request) error {
	switch {
	case len(via) >= maxRedirects:
		return fmt.Errorf("more than %d redirects", maxRedirects)
	case req.URL.Scheme != "https":
		return fmt.Errorf("redirect to %s not followed: not https", req.URL.Redacted())
	case !strings.EqualFold(req.URL.Host, via[0].URL.Host):
		return fmt.Errorf("redirect to %s not followed: another host", req.URL.Redacted())
	}
	return nil
}

// keyring returns the last good set unless it is older than its lifetime
// plus MaxStale.
func (r *Remote) keyring(now time.Time) (*keyring, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.ring == nil:
		return nil, fmt.Errorf("JWKS %s not loaded yet", r.url)
	case now.After(r.expires.Add(r.opts.MaxStale)):
		return nil, fmt.Errorf("JWKS %s: last good copy is stale (expired %s ago)", r.url, now.Sub(r.expires).Round(time.Second))
	}
	return r.ring, nil
}

// Health returns nil while the key set can verify tokens, or why it
// cannot: it was never loaded, or it is stale (older than its lifetime plus
// MaxStale), the same test every token meets.
func (r *Remote) Health() error {
	_, err := r.keyring(r.opts.Clock.Now())
	return err
}

// refresh joins the running fetch, or starts one unless the last began
// less than RetryInterval ago, and waits for it or for ctx.
func (r *Remote) refresh(ctx context.Context) {
	done := r.begin(true)
	if done == nil {
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// begin returns the done channel of the running fetch, or starts one and
// returns its channel; with limited, it returns nil instead when the last
// fetch began less than RetryInterval ago.
func (r *Remote) begin(limited bool) <-chan struct{} {
	now := r.opts.Clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inflight != nil {
		return r.inflight
	}
	if limited && !r.lastAttempt.IsZero() && now.Sub(r.lastAttempt) < r.opts.RetryInterval {
		return nil
	}
	done := make(chan struct{})
	r.inflight, r.lastAttempt = done, now
	go r.fetch(done)
	return done
}

// run refreshes the set whenever it is due, until r.ctx ends.
func (r *Remote) run() {
	for {
		if wait := r.untilDue(); wait > 0 {
			select {
			case <-r.ctx.Done():
				return
			case <-r.opts.Clock.After(wait):
			}
			continue
		}
		select {
		case <-r.ctx.Done():
			return
		case <-r.begin(false):
		}
	}
}

// untilDue returns how long until the next scheduled fetch: at once at
// first, after the retry backoff when fetches are failing, else when the
// set's lifetime ends.
func (r *Remote) untilDue() time.Duration {
	now := r.opts.Clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.lastAttempt.IsZero():
		return 0
	case r.failures > 0:
		return r.lastAttempt.Add(retryBackoff(r.failures, r.opts.RetryInterval)).Sub(now)
	}
	return r.expires.Sub(now)
}

// retryBackoff is the wait after the given number of failed fetches in a
// row: firstRetry, doubling, at most ceiling.
func retryBackoff(failures int, ceiling time.Duration) time.Duration {
	d := firstRetry
	for i := 1; i < failures && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// fetch gets the set once, swaps it in on success, and closes done.
func (r *Remote) fetch(done chan struct{}) {
	ctx, cancel := context.WithTimeout(r.ctx, r.opts.Timeout)
	defer cancel()
	ring, skipped, lifetime, err := r.get(ctx)
	now := r.opts.Clock.Now()
	r.mu.Lock()
	if err != nil {
		r.failures++
	} else {
		r.failures = 0
		r.ring, r.expires = ring, now.Add(lifetime)
	}
	r.inflight = nil
	close(done)
	r.mu.Unlock()
	if r.opts.OnFetch != nil {
		res := FetchResult{URL: r.url, Skipped: skipped, Lifetime: lifetime, Err: err}
		if ring != nil {
			res.Keys = len(ring.keys)
		}
		r.opts.OnFetch(res)
	}
}

func (r *Remote) get(ctx context.Context) (*keyring, int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("JWKS %s: %w", r.url, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("JWKS fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, 0, fmt.Errorf("JWKS %s: status %d", r.url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("JWKS %s: %w", r.url, err)
	}
	if len(body) > maxJWKSSize {
		return nil, 0, 0, fmt.Errorf("JWKS %s: larger than %d bytes", r.url, maxJWKSSize)
	}
	ring, skipped, err := parseKeySet(body, r.algs)
	if err != nil {
		return nil, skipped, 0, fmt.Errorf("JWKS %s: %w", r.url, err)
	}
	return ring, skipped, cacheLifetime(resp.Header, r.opts.MinRefresh, r.opts.MaxRefresh), nil
}

// parseKeySet reads a JWK set strictly (one JSON object with a keys array,
// no duplicate members) and keeps the keys usable with algs, counting the
// others. A set without a usable key is an error: the last good set is kept
// rather than replaced by nothing.
func parseKeySet(body []byte, algs Algorithms) (*keyring, int, error) {
	obj, err := strictjson.ReadObject(body, maxDepth)
	if err != nil {
		return nil, 0, err
	}
	listed, ok := obj["keys"].([]any)
	if !ok {
		return nil, 0, errors.New(`no "keys" array`)
	}
	set, err := jwk.Parse(body, jwk.WithIgnoreParseError(true))
	if err != nil {
		return nil, 0, fmt.Errorf("JWK set: %w", err)
	}
	keys := make([]*Key, 0, set.Len())
	for i := range set.Len() {
		k, _ := set.Key(i)
		if key, err := newKey(k, "", algs); err == nil {
			keys = append(keys, key)
		}
	}
	skipped := len(listed) - len(keys)
	if len(keys) == 0 {
		return nil, skipped, fmt.Errorf("none of %d keys is usable", len(listed))
	}
	return newKeyring(keys), skipped, nil
}

// cacheLifetime is how long a response stays fresh: its Cache-Control
// max-age less its Age, within [floor, ceiling]; floor when it has no
// max-age or says no-store or no-cache.
func cacheLifetime(h http.Header, floor, ceiling time.Duration) time.Duration {
	maxAge, ok := parseMaxAge(strings.Join(h.Values("Cache-Control"), ","))
	if !ok {
		return floor
	}
	if age, ok := parseSeconds(strings.TrimSpace(h.Get("Age"))); ok {
		maxAge -= age
	}
	return max(floor, min(maxAge, ceiling))
}

// parseMaxAge returns the max-age of a Cache-Control value; no-store and
// no-cache, and a malformed or repeated max-age, mean there is none.
func parseMaxAge(cc string) (time.Duration, bool) {
	var maxAge time.Duration
	found := false
	for _, d := range strings.Split(cc, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(name) {
		case "no-store", "no-cache":
			return 0, false
		case "max-age":
			s, ok := parseSeconds(strings.Trim(value, `"`))
			if !ok || found {
				return 0, false
			}
			maxAge, found = s, true
		}
	}
	return maxAge, found
}

// maxDelta caps delta-seconds (RFC 9111 §1.2.2 suggests 2^31).
const maxDelta = 1 << 31

// parseSeconds parses delta-seconds: digits only, capped at maxDelta.
func parseSeconds(s string) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = min(n*10+int(c-'0'), maxDelta)
	}
	return time.Duration(n) * time.Second, true
}
