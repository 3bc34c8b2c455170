package ratelimit

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/ratezone"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/testenv"
)

// clientIP is the client address of a test request that names none.
const clientIP = "203.0.113.7"

// fakeClock is a clock that moves only when told to, so that the memory
// store's GCRA numbers are exact.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// stage is a Handler set up without Caddy, with observed loggers and a
// count of the requests it handed on.
type stage struct {
	t     *testing.T
	h     *Handler
	store store.Store
	// clock is the memory store's clock; nil on another store.
	clock     *fakeClock
	logs      *observer.ObservedLogs
	audit     *observer.ObservedLogs
	nextCalls atomic.Int64
}

// newStage sets h up on a memory store of its own on a fake clock.
func newStage(t *testing.T, h *Handler) *stage {
	t.Helper()
	c := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	m := store.NewMemory(c.Now)
	t.Cleanup(func() { _ = m.Close() })
	h.now = c.Now
	s := newStageOn(t, h, m)
	s.clock = c
	return s
}

// newStageOn sets h up on s.
func newStageOn(t *testing.T, h *Handler, s store.Store) *stage {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	auditCore, audited := observer.New(zapcore.DebugLevel)
	if err := h.setUp(s, zap.New(core), zap.New(auditCore)); err != nil {
		t.Fatalf("set-up: %v", err)
	}
	t.Cleanup(func() { _ = h.Cleanup() })
	return &stage{t: t, h: h, store: s, logs: logs, audit: audited}
}

// call is one request to a stage.
type call struct {
	// method and target default to GET /v1/payment_intents/pi_1.
	method, target string
	// ip is the client IP as Caddy resolved it; default clientIP.
	ip string
	// iss and user are the authenticated user's issuer and ID; no user
	// when user is "".
	iss, user string
	// next is the rest of the pipeline; nil answers 200.
	next func(w http.ResponseWriter, repl *caddy.Replacer) error
	// gate, when set, is the call's gate: the stage runs ServeGated.
	gate ratezone.Gate
	// hangUp ends the request's context once next has answered, as when
	// the client hangs up before the stage settles.
	hangUp bool
}

// result is what a stage did with a call.
type result struct {
	// header is the response header as the stage and next left it.
	header http.Header
	// err is the API error the stage (or next) returned, or nil.
	err *apierror.Error
	// passed tells whether next ran; route, clientIP and user are the
	// stage's placeholders as next saw them.
	passed               bool
	route, clientIP, who string
}

// serve runs the stage on c. It is safe to call from several goroutines.
func (s *stage) serve(c call) result {
	s.t.Helper()
	method, target := cmp.Or(c.method, http.MethodGet), cmp.Or(c.target, "/v1/payment_intents/pi_1")
	r := httptest.NewRequest(method, "https://pay.example.com"+target, nil)
	w := httptest.NewRecorder()
	repl := caddy.NewReplacer()
	r = caddyhttp.PrepareRequest(r, repl, w, &caddyhttp.Server{})
	caddyhttp.SetVar(r.Context(), caddyhttp.ClientIPVarKey, cmp.Or(c.ip, clientIP))
	if c.user != "" {
		repl.Set("http.auth.user.id", c.user)
		repl.Set("http.auth.user.iss", c.iss)
	}
	ctx, hangUp := context.WithCancel(r.Context())
	defer hangUp()
	r = r.WithContext(ctx)
	var res result
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
		s.nextCalls.Add(1)
		res.passed = true
		res.route, _ = repl.GetString(PlaceholderRoute)
		res.clientIP, _ = repl.GetString(PlaceholderClientIP)
		res.who, _ = repl.GetString(PlaceholderUser)
		if c.hangUp {
			defer hangUp()
		}
		if c.next == nil {
			return nil
		}
		return c.next(w, repl)
	})
	var err error
	if c.gate != nil {
		err = s.h.ServeGated(w, r, next, c.gate)
	} else {
		err = s.h.ServeHTTP(w, r, next)
	}
	res.header = w.Header()
	if err == nil {
		return res
	}
	if res.passed {
		// next's own error, handed back.
		res.err, _ = errors.AsType[*apierror.Error](err)
		return res
	}
	he, ok := errors.AsType[caddyhttp.HandlerError](err)
	if !ok {
		s.t.Errorf("%s %s: error %v is not a caddyhttp.HandlerError", method, target, err)
		return res
	}
	e, ok := errors.AsType[*apierror.Error](err)
	if !ok || e.Status != he.StatusCode {
		s.t.Errorf("%s %s: error %v (status %d) is not an API error of its status", method, target, err, he.StatusCode)
		return res
	}
	res.err = e
	return res
}

// mustPass requires that res passed to next with no error.
func mustPass(t *testing.T, res result) {
	t.Helper()
	if !res.passed || res.err != nil {
		t.Fatalf("passed=%v err=%v, want the request handed on", res.passed, res.err)
	}
}

// mustRefuse requires that res is a 429 rate_limited that never reached
// next, and returns its Retry-After in seconds (at least 1).
func mustRefuse(t *testing.T, res result) int {
	t.Helper()
	if res.passed {
		t.Fatal("a refused request reached the next handler")
	}
	if res.err == nil || res.err.Status != http.StatusTooManyRequests || res.err.Code != "rate_limited" || res.err.Type != apierror.TypeRateLimit {
		t.Fatalf("err = %v, want 429 rate_limited", res.err)
	}
	retry, err := strconv.Atoi(res.err.Header.Get("Retry-After"))
	if err != nil || retry < 1 {
		t.Fatalf("Retry-After %q, want whole seconds, at least 1", res.err.Header.Get("Retry-After"))
	}
	return retry
}

// item returns the parameters of zone's item in a RateLimit or
// RateLimit-Policy field (draft-ietf-httpapi-ratelimit-headers-10: a List
// of Items, each the zone's name as a String with parameters), or nil when
// the field names no such zone.
func item(h http.Header, field, zone string) map[string]string {
	for _, it := range strings.Split(h.Get(field), ", ") {
		params := strings.Split(it, ";")
		if params[0] != strconv.Quote(zone) {
			continue
		}
		m := map[string]string{}
		for _, p := range params[1:] {
			k, v, _ := strings.Cut(p, "=")
			m[k] = v
		}
		return m
	}
	return nil
}

// remaining returns the r parameter of zone's RateLimit item, failing the
// test when the zone has none.
func remaining(t *testing.T, res result, zone string) int {
	t.Helper()
	it := item(res.header, "RateLimit", zone)
	if it == nil {
		t.Fatalf("RateLimit %q has no item for zone %s", res.header.Get("RateLimit"), zone)
	}
	r, err := strconv.Atoi(it["r"])
	if err != nil {
		t.Fatalf("RateLimit %q: zone %s: r is no integer", res.header.Get("RateLimit"), zone)
	}
	return r
}

// hourly is a request zone keyed by client IP admitting one request an
// hour, burst at once.
func hourly(name string, burst int64) Zone {
	return Zone{Name: name, Key: "{paygate.client_ip}", Rate: 1, Period: caddy.Duration(time.Hour), Burst: burst}
}

// errDeclined is a next handler's 402.
var errDeclined = apierror.New(http.StatusPaymentRequired, apierror.TypeCard, "card_declined", "Your card was declined.")

// respond is a next handler that returns status as caddyhttp.Error does.
func respond(status int) func(http.ResponseWriter, *caddy.Replacer) error {
	return func(http.ResponseWriter, *caddy.Replacer) error {
		if status == http.StatusPaymentRequired {
			return caddyhttp.Error(status, errDeclined)
		}
		return caddyhttp.Error(status, apierror.New(status, apierror.TypeAPI, "test_status", "A test status."))
	}
}

// TestFieldsNameEachZone: with several zones, each zone's items in
// RateLimit-Policy and RateLimit carry its own partition key, the hash of
// the zone and its key, also in the fields of a refusal, which name the
// refusing zones only.
func TestFieldsNameEachZone(t *testing.T) {
	zones := []Zone{hourly("ip", 5), hourly("ip_burst", 1), hourly("ip_hour_long_name", 5)}
	s := newStage(t, &Handler{Zones: zones})
	check := func(res result, names ...string) {
		t.Helper()
		for _, field := range []string{"RateLimit-Policy", "RateLimit"} {
			if got := len(strings.Split(res.header.Get(field), ", ")); got != len(names) {
				t.Errorf("%s %q: %d items, want %d", field, res.header.Get(field), got, len(names))
			}
			for _, name := range names {
				sum := sha256.Sum256([]byte(name + "\x00" + clientIP))
				want := ":" + base64.StdEncoding.EncodeToString(sum[:9]) + ":"
				if it := item(res.header, field, name); it == nil || it["pk"] != want {
					t.Errorf("%s %q: zone %s: pk %q, want %q", field, res.header.Get(field), name, it["pk"], want)
				}
			}
		}
	}
	res := s.serve(call{})
	mustPass(t, res)
	check(res, "ip", "ip_burst", "ip_hour_long_name")
	res = s.serve(call{})
	mustRefuse(t, res)
	check(res, "ip_burst")
}

// TestEventsChargeTheZonesCounter: what payment_events counts for a zone
// (ratezone.Count, for a decline Stripe's event tells of) is charged to the
// counter the stage reads for the same key.
func TestEventsChargeTheZonesCounter(t *testing.T) {
	declines := hourly("ip_declines", 5)
	s := newStage(t, &Handler{Zones: []Zone{declines}})
	if r := remaining(t, s.serve(call{}), "ip_declines"); r != 4 {
		t.Fatalf("r=%d before the event, want 4", r)
	}
	z := ratezone.Zone{Name: declines.Name, Limit: store.LimitRequest{Rate: declines.Rate, Period: time.Duration(declines.Period), Burst: declines.Burst}}
	if _, _, err := ratezone.Count(context.Background(), s.store, z, clientIP, "ch_1"); err != nil {
		t.Fatal(err)
	}
	if r := remaining(t, s.serve(call{}), "ip_declines"); r != 2 {
		t.Errorf("r=%d after the event and a second request, want 2", r)
	}
}

// TestBurstThenRefused checks a zone's decisions and its RateLimit fields
// against the GCRA worked by hand. The zone admits 2 requests a minute, 3
// at once: one request is T = 30s of a capacity of 90s; RateLimit's r is
// how many requests fit in the capacity left, t the time until the zone is
// back to its full capacity (rounded up to whole seconds), and a refusal's
// Retry-After the time until one request fits (rounded up, at least 1).
func TestBurstThenRefused(t *testing.T) {
	s := newStage(t, &Handler{Zones: []Zone{{Name: "ip", Key: "{paygate.client_ip}", Rate: 2, Period: caddy.Duration(time.Minute), Burst: 3}}})
	// pk is base64 of 9 bytes of SHA-256("ip\x00203.0.113.7"): a hash of
	// the zone and the client IP, never the IP.
	const pk = "pk=:vf0N7XBnxZZq:"
	// q is the burst, w the time to refill it: 3 requests of 30s.
	const policy = `"ip";q=3;w=90;` + pk
	steps := []struct {
		name    string
		advance time.Duration
		allowed bool
		r, t    int
		retry   int
	}{
		{"first of the burst", 0, true, 2, 30, 0},
		{"second", 0, true, 1, 60, 0},
		{"third, burst spent", 0, true, 0, 90, 0},
		{"refused", 0, false, 0, 90, 30},
		{"refused 10s later", 10 * time.Second, false, 0, 80, 20},
		{"refused 1µs before it fits", 20*time.Second - time.Microsecond, false, 0, 61, 1},
		{"fits again", time.Microsecond, true, 0, 90, 0},
		{"after 75s idle", 75 * time.Second, true, 1, 45, 0},
		{"half a request left is none", 0, true, 0, 75, 0},
		{"refused with 15s to wait", 0, false, 0, 75, 15},
	}
	for _, st := range steps {
		s.clock.Advance(st.advance)
		refusedBefore := testutil.ToFloat64(decisions.WithLabelValues("ip", outcomeRefused))
		calls := s.nextCalls.Load()
		res := s.serve(call{})
		if st.allowed {
			mustPass(t, res)
		} else if retry := mustRefuse(t, res); retry != st.retry {
			t.Errorf("%s: Retry-After %d, want %d", st.name, retry, st.retry)
		}
		if ran := s.nextCalls.Load() - calls; ran != 0 && !st.allowed || ran != 1 && st.allowed {
			t.Errorf("%s: next ran %d times", st.name, ran)
		}
		if got := res.header.Get("RateLimit-Policy"); got != policy {
			t.Errorf("%s: RateLimit-Policy %q, want %q", st.name, got, policy)
		}
		if got, want := res.header.Get("RateLimit"), fmt.Sprintf(`"ip";r=%d;t=%d;%s`, st.r, st.t, pk); got != want {
			t.Errorf("%s: RateLimit %q, want %q", st.name, got, want)
		}
		wantRefused := refusedBefore
		if !st.allowed {
			wantRefused++
		}
		if got := testutil.ToFloat64(decisions.WithLabelValues("ip", outcomeRefused)); got != wantRefused {
			t.Errorf("%s: refused counter %v, want %v", st.name, got, wantRefused)
		}
	}
	refusals := s.audit.FilterField(zap.String("action", "rate_limited")).FilterField(zap.String("reason", "ip"))
	if got := refusals.Len(); got != 4 {
		t.Errorf("%d rate_limited audit events naming zone ip, want 4 (one per refusal)", got)
	}
}

// TestRefusalChargesNoZone: a request refused by one zone charges no other
// zone of the stage (one all-or-nothing store call), and the refusal's
// headers describe the refusing zone only.
func TestRefusalChargesNoZone(t *testing.T) {
	create := hourly("create", 1)
	create.Match = []Endpoint{{http.MethodPost, "/v1/payment_intents"}}
	s := newStage(t, &Handler{Zones: []Zone{create, hourly("ip", 5)}})
	post := call{method: http.MethodPost, target: "/v1/payment_intents"}

	res := s.serve(post)
	mustPass(t, res)
	if r := remaining(t, res, "create"); r != 0 {
		t.Fatalf("create: r=%d, want 0", r)
	}
	if r := remaining(t, res, "ip"); r != 4 {
		t.Fatalf("ip: r=%d, want 4", r)
	}
	notCharged := testutil.ToFloat64(decisions.WithLabelValues("ip", outcomeNotCharged))
	for range 3 {
		res = s.serve(post)
		mustRefuse(t, res)
		if item(res.header, "RateLimit", "ip") != nil || item(res.header, "RateLimit-Policy", "ip") != nil {
			t.Errorf("refusal's headers %v name zone ip, which did not refuse", res.header)
		}
	}
	if got := testutil.ToFloat64(decisions.WithLabelValues("ip", outcomeNotCharged)); got != notCharged+3 {
		t.Errorf("ip not_charged counter %v, want %v", got, notCharged+3)
	}
	// Only ip applies to a GET: it was charged by the first POST alone.
	res = s.serve(call{})
	mustPass(t, res)
	if r := remaining(t, res, "ip"); r != 3 {
		t.Errorf("ip after three refusals and a GET: r=%d, want 3 (the refusals charged it)", r)
	}
}

// TestRoutePlaceholder: {paygate.route} is the route template of the
// payment API's table or "other", never the raw path, so that path
// variants (a trailing slash, "//", %2F, ";x", a query) can neither make
// buckets of their own nor slip out of a zone's match.
func TestRoutePlaceholder(t *testing.T) {
	s := newStage(t, &Handler{Zones: []Zone{{Name: "per_route", Key: "{paygate.client_ip} {paygate.route}",
		Rate: 1, Period: caddy.Duration(time.Hour), Burst: 100}}})
	tests := []struct{ method, target, route string }{
		{"GET", "/v1/payment_intents/pi_1", "/v1/payment_intents/{id}"},
		{"GET", "/v1/payment_intents/pi_2", "/v1/payment_intents/{id}"},
		{"GET", "/v1/payment_intents/pi_2?x=random1", "/v1/payment_intents/{id}"},
		{"GET", "/v1/payment_intents/anything", "/v1/payment_intents/{id}"},
		{"POST", "/v1/payment_intents", "/v1/payment_intents"},
		{"POST", "/v1/payment_intents?x=random2", "/v1/payment_intents"},
		{"POST", "/v1/payment_intents?x=random3", "/v1/payment_intents"},
		{"GET", "/v1/payment_intents", "/v1/payment_intents"},
		{"POST", "/v1/payment_intents/pi_1/confirm", "/v1/payment_intents/{id}/confirm"},
		{"POST", "/v1/payment_intents/", "other"},
		{"POST", "//v1/payment_intents", "other"},
		{"GET", "//v1/payment_intents/pi_1", "other"},
		{"GET", "/v1/payment_intents%2Fpi_1", "other"},
		{"GET", "/v1/payment_intents/pi_1%2Fconfirm", "other"},
		{"GET", "/v1/payment_intents/pi_1;x", "other"},
		{"GET", "/v1/payment_intents;x/pi_1", "other"},
		{"GET", "/v1/payment_intents/pi_1/", "other"},
		{"GET", "/v1/payment_intents/pi_1/../pi_2", "other"},
		{"GET", "/V1/payment_intents/pi_1", "other"},
		{"GET", "/v1/unknown", "other"},
		{"GET", "/", "other"},
	}
	seen := map[string]int{}
	pks := map[string]string{}
	for _, tt := range tests {
		res := s.serve(call{method: tt.method, target: tt.target})
		mustPass(t, res)
		if res.route != tt.route {
			t.Errorf("%s %s: {paygate.route} = %q, want %q", tt.method, tt.target, res.route, tt.route)
			continue
		}
		// Every request of a route spends the one bucket of the route.
		if r, want := remaining(t, res, "per_route"), 99-seen[tt.route]; r != want {
			t.Errorf("%s %s: r=%d, want %d (the %d-th request of route %s)", tt.method, tt.target, r, want, seen[tt.route]+1, tt.route)
		}
		seen[tt.route]++
		pk := item(res.header, "RateLimit", "per_route")["pk"]
		if first, ok := pks[tt.route]; ok && pk != first {
			t.Errorf("%s %s: pk %s, want the route's %s", tt.method, tt.target, pk, first)
		}
		pks[tt.route] = pk
	}
	if len(pks) != 4 {
		t.Errorf("%d partition keys for 4 routes (other included): %v", len(pks), pks)
	}
}

// TestMatch: a zone with endpoints applies to those alone, whatever the
// query, and never to a path variant (which is route "other").
func TestMatch(t *testing.T) {
	create := hourly("create", 2)
	create.Match = []Endpoint{{http.MethodPost, "/v1/payment_intents"}, {http.MethodPost, "/v1/payment_intents/{id}/confirm"}}
	s := newStage(t, &Handler{Zones: []Zone{create}})
	tests := []struct {
		method, target string
		applies        bool
		r              int
	}{
		{"POST", "/v1/payment_intents?x=1", true, 1},
		{"GET", "/v1/payment_intents", false, 0},
		{"GET", "/v1/payment_intents/pi_1/confirm", false, 0},
		{"POST", "/v1/payment_intents/", false, 0},
		{"POST", "//v1/payment_intents", false, 0},
		{"POST", "/v1/payment_intents;x", false, 0},
		{"POST", "/v1/payment_intents/pi_9/confirm", true, 0},
	}
	for _, tt := range tests {
		res := s.serve(call{method: tt.method, target: tt.target})
		mustPass(t, res)
		switch {
		case !tt.applies && res.header.Get("RateLimit") != "":
			t.Errorf("%s %s: RateLimit %q, want none (no zone applies)", tt.method, tt.target, res.header.Get("RateLimit"))
		case tt.applies && remaining(t, res, "create") != tt.r:
			t.Errorf("%s %s: r=%d, want %d", tt.method, tt.target, remaining(t, res, "create"), tt.r)
		}
	}
	mustRefuse(t, s.serve(call{method: http.MethodPost, target: "/v1/payment_intents?x=2"}))
}

func TestGroupIP(t *testing.T) {
	tests := []struct {
		ip   string
		bits int
		want string
	}{
		{"203.0.113.7", 64, "203.0.113.7"},
		{"203.0.113.7", 48, "203.0.113.7"},
		{"::ffff:203.0.113.7", 64, "203.0.113.7"},
		{"::ffff:cb00:7107", 64, "203.0.113.7"},
		{"2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:2:3:4:5:6", 48, "2001:db8:1::/48"},
		{"2001:db8:1:ffff::1", 48, "2001:db8:1::/48"},
		{"2001:db8::1", 128, "2001:db8::1/128"},
		{"fe80::1:2:3:4%eth0", 64, "fe80::/64"},
		{"fe80::1%eth0", 128, "fe80::1/128"},
		{"garbage", 64, "garbage"},
		{"203.0.113.7:443", 64, "203.0.113.7:443"},
		{"", 64, ""},
	}
	for _, tt := range tests {
		if got := groupIP(tt.ip, tt.bits); got != tt.want {
			t.Errorf("groupIP(%q, %d) = %q, want %q", tt.ip, tt.bits, got, tt.want)
		}
	}
}

// TestClientIPBuckets: IPv6 clients of one prefix share a bucket, an
// IPv4-mapped address is its IPv4 one, and without Caddy's client IP the
// connection's address counts.
func TestClientIPBuckets(t *testing.T) {
	s := newStage(t, &Handler{IPv6Prefix: 48, Zones: []Zone{hourly("ip", 5)}})
	tests := []struct{ ip, group string }{
		{"2001:db8:1:2::1", "2001:db8:1::/48"},
		{"2001:db8:1:ffff::2", "2001:db8:1::/48"},
		{"2001:db8:2::1", "2001:db8:2::/48"},
		{"2001:db8:1::3%eth0", "2001:db8:1::/48"},
		{"198.51.100.1", "198.51.100.1"},
		{"::ffff:198.51.100.1", "198.51.100.1"},
	}
	seen := map[string]int{}
	for _, tt := range tests {
		res := s.serve(call{ip: tt.ip})
		mustPass(t, res)
		if res.clientIP != tt.group {
			t.Errorf("%s: {paygate.client_ip} = %q, want %q", tt.ip, res.clientIP, tt.group)
		}
		if r, want := remaining(t, res, "ip"), 4-seen[tt.group]; r != want {
			t.Errorf("%s: r=%d, want %d", tt.ip, r, want)
		}
		seen[tt.group]++
	}

	// No client IP variable: the remote address (httptest's 192.0.2.1).
	r := httptest.NewRequest(http.MethodGet, "https://pay.example.com/v1/payment_intents/pi_1", nil)
	w := httptest.NewRecorder()
	repl := caddy.NewReplacer()
	r = caddyhttp.PrepareRequest(r, repl, w, &caddyhttp.Server{})
	caddyhttp.SetVar(r.Context(), caddyhttp.ClientIPVarKey, "")
	if err := s.h.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })); err != nil {
		t.Fatal(err)
	}
	if got, _ := repl.GetString(PlaceholderClientIP); got != "192.0.2.1" {
		t.Errorf("without a client IP: {paygate.client_ip} = %q, want the remote address 192.0.2.1", got)
	}
}

// TestDefaultIPv6Prefix: a /64 is one client unless configured otherwise.
func TestDefaultIPv6Prefix(t *testing.T) {
	s := newStage(t, &Handler{Zones: []Zone{hourly("ip", 5)}})
	if res := s.serve(call{ip: "2001:db8:1:2:3:4:5:6"}); res.clientIP != "2001:db8:1:2::/64" {
		t.Errorf("{paygate.client_ip} = %q, want 2001:db8:1:2::/64", res.clientIP)
	}
}

// TestUserPlaceholder: a user is their issuer and ID, so that two identity
// providers' equal subs are two buckets; without a user the zone does not
// apply.
func TestUserPlaceholder(t *testing.T) {
	s := newStage(t, &Handler{Zones: []Zone{{Name: "user", Key: "{paygate.user}", Rate: 1, Period: caddy.Duration(time.Hour), Burst: 1}}})
	a := call{iss: "https://idp-a.example", user: "u1"}
	b := call{iss: "https://idp-b.example", user: "u1"}
	res := s.serve(a)
	mustPass(t, res)
	if res.who != "https://idp-a.example u1" {
		t.Errorf("{paygate.user} = %q, want the issuer, a space and the ID", res.who)
	}
	mustPass(t, s.serve(b))
	mustRefuse(t, s.serve(a))
	mustRefuse(t, s.serve(b))
	mustPass(t, s.serve(call{iss: "https://idp-a.example", user: "u2"}))
	// Anonymous: the zone's key is empty, so it does not apply.
	for range 3 {
		res := s.serve(call{})
		mustPass(t, res)
		if res.who != "" || res.header.Get("RateLimit") != "" {
			t.Fatalf("anonymous: {paygate.user} = %q, RateLimit %q; want both empty", res.who, res.header.Get("RateLimit"))
		}
	}
}

// TestEmptyKeySkipsStage: when the stage's key comes out empty (a header
// that is not there) no zone applies; when it is there, every zone does.
func TestEmptyKeySkipsStage(t *testing.T) {
	tenant := Zone{Name: "tenant", Key: "{http.request.header.X-Tenant}", Rate: 1, Period: caddy.Duration(time.Hour), Burst: 1}
	s := newStage(t, &Handler{Zones: []Zone{tenant}})
	for range 3 {
		res := s.serve(call{})
		mustPass(t, res)
		if res.header.Get("RateLimit") != "" {
			t.Fatalf("RateLimit %q for a request without the key", res.header.Get("RateLimit"))
		}
	}
}

// TestZonesShareTheStageKey: zones of one stage with different key
// templates are refused, since a zone's bucket must never depend on which
// other zones apply to a request.
func TestZonesShareTheStageKey(t *testing.T) {
	user := Zone{Name: "user", Key: "{paygate.user}", Rate: 100, Period: caddy.Duration(time.Hour), Burst: 100}
	h := &Handler{Zones: []Zone{user, hourly("ip", 3)}}
	if err := h.Validate(); err == nil || !strings.Contains(err.Error(), "share their key") {
		t.Fatalf("Validate: %v, want the zones to share their key", err)
	}
}

// outcomeZone is a per-IP zone charged by 402s, one an hour, burst at once.
func outcomeZone(burst int64) Zone {
	z := hourly("declines", burst)
	z.Statuses = []int{http.StatusPaymentRequired}
	return z
}

// TestOutcomeZone: a 402 charges the zone after the response, other
// statuses never do, and once spent the zone refuses before next runs.
func TestOutcomeZone(t *testing.T) {
	s := newStage(t, &Handler{Zones: []Zone{outcomeZone(2)}})
	charged := testutil.ToFloat64(decisions.WithLabelValues("declines", outcomeCharged))

	res := s.serve(call{next: respond(http.StatusPaymentRequired)})
	if !res.passed || res.err == nil || res.err.Code != "card_declined" {
		t.Fatalf("passed=%v err=%v, want next's 402 handed back", res.passed, res.err)
	}
	// RateLimit tells the state with the request's own reservation: an
	// outcome zone reserves a unit, kept when the response counts.
	if r := remaining(t, res, "declines"); r != 1 {
		t.Errorf("first decline: r=%d, want 1", r)
	}
	res = s.serve(call{})
	mustPass(t, res)
	if r := remaining(t, res, "declines"); r != 0 {
		t.Errorf("a 200 after a decline: r=%d, want 0 (its own reservation, given back after)", r)
	}
	s.serve(call{next: respond(http.StatusPaymentRequired)})
	calls := s.nextCalls.Load()
	for range 2 {
		mustRefuse(t, s.serve(call{next: respond(http.StatusPaymentRequired)}))
	}
	if s.nextCalls.Load() != calls {
		t.Error("next ran while the outcome zone was spent")
	}
	if got := testutil.ToFloat64(decisions.WithLabelValues("declines", outcomeCharged)); got != charged+2 {
		t.Errorf("outcome_charged counter %v, want %v", got, charged+2)
	}
}

// TestOutcomeZoneStatuses: only the zone's statuses charge it, whether next
// returns them as an error or writes them; a replayed response (the
// idempotency stage's) was counted when it was first made and charges
// nothing.
func TestOutcomeZoneStatuses(t *testing.T) {
	replayed := func(status int) func(http.ResponseWriter, *caddy.Replacer) error {
		return func(w http.ResponseWriter, repl *caddy.Replacer) error {
			w.Header().Set("Idempotent-Replayed", "true")
			return respond(status)(w, repl)
		}
	}
	written := func(status int) func(http.ResponseWriter, *caddy.Replacer) error {
		return func(w http.ResponseWriter, _ *caddy.Replacer) error {
			w.WriteHeader(status)
			return nil
		}
	}
	s := newStage(t, &Handler{Zones: []Zone{outcomeZone(3)}})
	steps := []struct {
		name    string
		next    func(http.ResponseWriter, *caddy.Replacer) error
		charges bool
	}{
		{"500", respond(http.StatusInternalServerError), false},
		{"503", respond(http.StatusServiceUnavailable), false},
		{"502 written", written(http.StatusBadGateway), false},
		{"404", respond(http.StatusNotFound), false},
		{"200", nil, false},
		{"an error without a status", func(http.ResponseWriter, *caddy.Replacer) error { return errors.New("boom") }, false},
		{"402 replayed", replayed(http.StatusPaymentRequired), false},
		{"402 written and replayed", func(w http.ResponseWriter, _ *caddy.Replacer) error {
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(http.StatusPaymentRequired)
			return nil
		}, false},
		{"402 written", written(http.StatusPaymentRequired), true},
		{"402 returned", respond(http.StatusPaymentRequired), true},
	}
	want := 3
	for _, st := range steps {
		s.serve(call{next: st.next})
		if st.charges {
			want--
		}
		res := s.serve(call{})
		mustPass(t, res)
		// The probe's own reservation is one unit (given back after).
		if r := remaining(t, res, "declines"); r != want-1 {
			t.Errorf("after %s: r=%d, want %d", st.name, r, want-1)
		}
	}
}

// TestDistinctZone: a distinct zone is charged by each new value of its
// template within the period, not by repeats nor by responses without a
// value, and refuses once spent.
func TestDistinctZone(t *testing.T) {
	cards := Zone{Name: "cards", Key: "{paygate.client_ip}", Distinct: "{paygate.card_fingerprint}", Rate: 2, Period: caddy.Duration(24 * time.Hour), Burst: 2}
	s := newStage(t, &Handler{Zones: []Zone{cards}})
	withCard := func(fp string) func(http.ResponseWriter, *caddy.Replacer) error {
		return func(_ http.ResponseWriter, repl *caddy.Replacer) error {
			repl.Set("paygate.card_fingerprint", fp)
			return nil
		}
	}
	steps := []struct {
		name string
		fp   string
		r    int // with the request's own reservation
	}{
		{"first card", "fp_a", 1},
		{"same card", "fp_a", 0},
		{"same card again", "fp_a", 0},
		{"no card", "", 0},
		{"second card", "fp_b", 0},
	}
	for _, st := range steps {
		res := s.serve(call{next: withCard(st.fp)})
		mustPass(t, res)
		if r := remaining(t, res, "cards"); r != st.r {
			t.Errorf("%s: r=%d, want %d", st.name, r, st.r)
		}
	}
	mustRefuse(t, s.serve(call{next: withCard("fp_c")}))
	mustRefuse(t, s.serve(call{next: withCard("fp_a")}))
}

// TestDistinctZoneWithStatuses: a distinct zone with statuses counts the
// values of those responses only.
func TestDistinctZoneWithStatuses(t *testing.T) {
	cards := Zone{Name: "declined_cards", Key: "{paygate.client_ip}", Distinct: "{paygate.card_fingerprint}", Statuses: []int{http.StatusPaymentRequired},
		Rate: 1, Period: caddy.Duration(24 * time.Hour), Burst: 1}
	s := newStage(t, &Handler{Zones: []Zone{cards}})
	card := func(fp string, status int) func(http.ResponseWriter, *caddy.Replacer) error {
		return func(w http.ResponseWriter, repl *caddy.Replacer) error {
			repl.Set("paygate.card_fingerprint", fp)
			return respond(status)(w, repl)
		}
	}
	for _, c := range []call{
		{next: card("fp_a", http.StatusOK)},
		{next: card("fp_b", http.StatusNotFound)},
		{next: card("fp_c", http.StatusPaymentRequired)},
	} {
		if res := s.serve(c); !res.passed {
			t.Fatalf("refused (%v) before a 402 was seen", res.err)
		}
	}
	mustRefuse(t, s.serve(call{}))
}

// TestSettlesAfterClientHangsUp: a response's outcome is settled in the
// store also when the client hung up as it was answered: the card of a
// decline is recorded, so that the same card declined again does not
// count twice.
func TestSettlesAfterClientHangsUp(t *testing.T) {
	cards := Zone{Name: "declined_cards", Key: "{paygate.client_ip}", Distinct: "{paygate.card_fingerprint}", Statuses: []int{http.StatusPaymentRequired},
		Rate: 2, Period: caddy.Duration(24 * time.Hour), Burst: 2}
	s := newStage(t, &Handler{Zones: []Zone{cards}})
	decline := func(w http.ResponseWriter, repl *caddy.Replacer) error {
		repl.Set("paygate.card_fingerprint", "fp_a")
		return respond(http.StatusPaymentRequired)(w, repl)
	}
	for _, c := range []call{{next: decline, hangUp: true}, {next: decline}} {
		if res := s.serve(c); !res.passed {
			t.Fatalf("a decline was refused (%v): the card was counted twice", res.err)
		}
	}
	mustPass(t, s.serve(call{}))
	if n := s.logs.FilterMessageSnippet("recording a distinct value failed").Len(); n != 0 {
		t.Errorf("%d distinct values failed to be recorded", n)
	}
}

// TestConcurrentOutcomesReserve: a deferred zone reserves its unit with
// the request, so attempts in flight at once never exceed its budget (a
// card tester sends them in parallel): with room for one decline, a second
// attempt while the first runs is refused and never reaches next, and a
// distinct zone still counts the first attempt's card.
func TestConcurrentOutcomesReserve(t *testing.T) {
	declines := outcomeZone(1)
	cards := Zone{Name: "cards", Key: "{paygate.client_ip}", Distinct: "{paygate.card_fingerprint}", Rate: 3, Period: caddy.Duration(24 * time.Hour), Burst: 3}
	s := newStage(t, &Handler{Zones: []Zone{declines, cards}})
	entered, release := make(chan struct{}), make(chan struct{})
	first := make(chan result)
	go func() {
		first <- s.serve(call{next: func(w http.ResponseWriter, repl *caddy.Replacer) error {
			close(entered)
			<-release
			repl.Set("paygate.card_fingerprint", "fp_a")
			return respond(http.StatusPaymentRequired)(w, repl)
		}})
	}()
	<-entered
	calls := s.nextCalls.Load()
	mustRefuse(t, s.serve(call{next: respond(http.StatusPaymentRequired)}))
	if s.nextCalls.Load() != calls {
		t.Error("a second attempt reached next while the first held the zone's last unit")
	}
	close(release)
	if res := <-first; !res.passed {
		t.Fatalf("first decline refused: %v", res.err)
	}
	// The card was counted: cards has two of three left (a stage with cards
	// alone reads the same bucket; its own reservation shows as one more).
	probe := newStageOn(t, &Handler{Zones: []Zone{cards}}, s.store)
	if r := remaining(t, probe.serve(call{}), "cards"); r != 1 {
		t.Errorf("cards: r=%d, want 1 (fp_a counted, the probe's reservation)", r)
	}
}

// TestHeldUnitsRetryAfter: units held by requests in flight count against
// an outcome zone, but a refusal caused only by them says Retry-After 1;
// once their outcomes are known the holds are let go of (a counted unit
// stays spent, the other comes back), and a refusal by a spent zone says
// the GCRA's wait: on the shared store and on the in-process fallback.
func TestHeldUnitsRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stage func(t *testing.T, z Zone) *stage
	}{
		{"shared", func(t *testing.T, z Zone) *stage { return newStage(t, &Handler{Zones: []Zone{z}}) }},
		{"local", func(t *testing.T, z Zone) *stage {
			z.OnStoreFailure = FailLocal
			return newStageOn(t, &Handler{Zones: []Zone{z}}, closedStore(t))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.stage(t, outcomeZone(2))
			ip := fmt.Sprintf("2001:db8:%x::1", localIPs.Add(1))
			entered, release := make(chan struct{}, 2), make(chan struct{})
			done := make(chan result, 2)
			for _, status := range []int{http.StatusPaymentRequired, http.StatusOK} {
				go func() {
					done <- s.serve(call{ip: ip, next: func(w http.ResponseWriter, repl *caddy.Replacer) error {
						entered <- struct{}{}
						<-release
						return respond(status)(w, repl)
					}})
				}()
			}
			<-entered
			<-entered
			if retry := mustRefuse(t, s.serve(call{ip: ip})); retry != 1 {
				t.Errorf("refused by two requests in flight: Retry-After %d, want 1", retry)
			}
			close(release)
			<-done
			<-done
			// One decline counted, one unit came back: one more decline.
			if res := s.serve(call{ip: ip, next: respond(http.StatusPaymentRequired)}); !res.passed {
				t.Fatalf("refused after one attempt was not declined: %v", res.err)
			}
			if retry := mustRefuse(t, s.serve(call{ip: ip})); retry != 3600 {
				t.Errorf("refused by two declines: Retry-After %d, want 3600", retry)
			}
		})
	}
}

// TestShadowZone: a shadow zone never refuses; it counts what it would
// refuse, and the enforced zones are charged as if it were not there.
func TestShadowZone(t *testing.T) {
	shadow := hourly("new_limit", 1)
	shadow.Shadow = true
	s := newStage(t, &Handler{Zones: []Zone{shadow, hourly("ip", 5)}})
	wouldRefuse := testutil.ToFloat64(decisions.WithLabelValues("new_limit", outcomeShadowRefused))
	for i := range 4 {
		res := s.serve(call{})
		mustPass(t, res)
		if r := remaining(t, res, "ip"); r != 4-i {
			t.Fatalf("request %d: ip r=%d, want %d", i+1, r, 4-i)
		}
	}
	if got := testutil.ToFloat64(decisions.WithLabelValues("new_limit", outcomeShadowRefused)); got != wouldRefuse+3 {
		t.Errorf("shadow_refused counter %v, want %v", got, wouldRefuse+3)
	}
	if got := s.logs.FilterMessage("shadow zone would refuse").FilterField(zap.String("zone", "new_limit")).Len(); got != 3 {
		t.Errorf("%d shadow log lines, want 3", got)
	}
	// An enforced zone still refuses.
	s.serve(call{})
	mustRefuse(t, s.serve(call{}))
}

// TestShadowOutcomeZone: a spent shadow outcome zone lets the request on.
func TestShadowOutcomeZone(t *testing.T) {
	z := outcomeZone(1)
	z.Shadow = true
	s := newStage(t, &Handler{Zones: []Zone{z}})
	s.serve(call{next: respond(http.StatusPaymentRequired)})
	mustPass(t, s.serve(call{}))
}

// closedStore is a memory store that has been closed: every call fails
// with ErrUnavailable, as an unreachable Redis does.
func closedStore(t *testing.T) store.Store {
	t.Helper()
	m := store.NewMemory(time.Now)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	return m
}

// localIPs makes each run of a test that uses the process-wide local
// fallback a client of its own (the fallback's buckets outlive a test).
var localIPs atomic.Int64

func TestStoreFailure(t *testing.T) {
	create := Endpoint{http.MethodPost, "/v1/payment_intents"}
	zone := func(fail string, match ...Endpoint) Zone {
		z := Zone{Name: "z_" + cmp.Or(fail, "default"), Key: "{paygate.client_ip}", Rate: 4, Period: caddy.Duration(time.Hour), Burst: 4,
			Replicas: 2, OnStoreFailure: fail, Match: match}
		return z
	}
	post := call{method: http.MethodPost, target: "/v1/payment_intents"}

	t.Run("deny", func(t *testing.T) {
		s := newStageOn(t, &Handler{Zones: []Zone{zone(FailDeny)}}, closedStore(t))
		before := testutil.ToFloat64(fallbacks.WithLabelValues("z_deny", FailDeny))
		res := s.serve(call{})
		if res.passed || res.err == nil || res.err.Status != http.StatusServiceUnavailable || res.err.Code != "store_unavailable" {
			t.Fatalf("passed=%v err=%v, want 503 store_unavailable", res.passed, res.err)
		}
		if got := testutil.ToFloat64(fallbacks.WithLabelValues("z_deny", FailDeny)); got != before+1 {
			t.Errorf("fallbacks counter %v, want %v", got, before+1)
		}
	})
	t.Run("default for payment creation is deny", func(t *testing.T) {
		s := newStageOn(t, &Handler{Zones: []Zone{zone("", create)}}, closedStore(t))
		if res := s.serve(post); res.passed || res.err == nil || res.err.Code != "store_unavailable" {
			t.Fatalf("passed=%v err=%v, want 503 store_unavailable", res.passed, res.err)
		}
	})
	t.Run("shadow deny admits", func(t *testing.T) {
		z := zone(FailDeny)
		z.Shadow = true
		s := newStageOn(t, &Handler{Zones: []Zone{z}}, closedStore(t))
		mustPass(t, s.serve(call{}))
	})
	t.Run("allow", func(t *testing.T) {
		s := newStageOn(t, &Handler{Zones: []Zone{zone(FailAllow)}}, closedStore(t))
		for range 10 {
			mustPass(t, s.serve(call{}))
		}
	})
	// local: the process's own GCRA with half the rate and burst (two
	// replicas): 2 at once, then one each 30 minutes.
	for _, tc := range []struct {
		name string
		z    Zone
		c    call
	}{
		{"local", zone(FailLocal), call{}},
		{"default elsewhere is local", zone("", Endpoint{http.MethodGet, "/v1/payment_intents/{id}"}), call{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStageOn(t, &Handler{Zones: []Zone{tc.z}}, closedStore(t))
			tc.c.ip = fmt.Sprintf("2001:db8:%x::1", localIPs.Add(1))
			before := testutil.ToFloat64(fallbacks.WithLabelValues(tc.z.Name, FailLocal))
			for range 2 {
				mustPass(t, s.serve(tc.c))
			}
			if retry := mustRefuse(t, s.serve(tc.c)); retry != 1800 {
				t.Errorf("Retry-After %d, want 1800 (30 minutes: 4 an hour over 2 replicas)", retry)
			}
			if got := testutil.ToFloat64(fallbacks.WithLabelValues(tc.z.Name, FailLocal)); got != before+3 {
				t.Errorf("fallbacks counter %v, want %v", got, before+3)
			}
		})
	}
}

// flakyStore is a store whose Limit fails, as an unreachable Redis does,
// while down is set.
type flakyStore struct {
	store.Store
	down atomic.Bool
}

func (f *flakyStore) Limit(ctx context.Context, reqs []store.LimitRequest) ([]store.LimitResult, error) {
	if f.down.Load() {
		return nil, fmt.Errorf("%w: connection refused", store.ErrUnavailable)
	}
	return f.Store.Limit(ctx, reqs)
}

// TestStoreFailureLogs: the stage logs once when the store starts failing
// and once when it decides again, not on every request.
func TestStoreFailureLogs(t *testing.T) {
	m := store.NewMemory(time.Now)
	t.Cleanup(func() { _ = m.Close() })
	flaky := &flakyStore{Store: m}
	s := newStageOn(t, &Handler{Zones: []Zone{{Name: "ip", Key: "{paygate.client_ip}", Rate: 100, Period: caddy.Duration(time.Minute), Burst: 100,
		OnStoreFailure: FailAllow}}}, flaky)
	const failed, recovered = "the store cannot decide rate limits; zones fall back to their on_store_failure", "rate limits decided by the store again"
	count := func(msg string) int { return s.logs.FilterMessage(msg).Len() }

	for _, phase := range []struct {
		down                 bool
		failures, recoveries int
	}{
		{false, 0, 0},
		{true, 1, 0},
		{false, 1, 1},
		{true, 2, 1},
		{false, 2, 2},
	} {
		flaky.down.Store(phase.down)
		for range 3 {
			mustPass(t, s.serve(call{}))
		}
		if count(failed) != phase.failures || count(recovered) != phase.recoveries {
			t.Fatalf("store down=%v: %d failure and %d recovery lines, want %d and %d", phase.down, count(failed), count(recovered), phase.failures, phase.recoveries)
		}
	}
	if e := s.logs.FilterMessage(failed).All()[0]; e.Level != zapcore.ErrorLevel || e.ContextMap()["error"] == nil {
		t.Errorf("failure line %+v, want an error with the cause", e)
	}
}

// TestRedisStore runs the stage on a Redis Cluster, where a call whose keys
// spanned slots would fail: one request decides several zones at once,
// refuses when one is spent and charges no other.
func TestRedisStore(t *testing.T) {
	cluster := testenv.RedisCluster(t)
	s := store.NewRedis(cluster.Client(t), store.RedisOptions{Prefix: "rltest:"})
	t.Cleanup(func() { _ = s.Close() })
	zone := func(name string, burst int64, match ...Endpoint) Zone {
		return Zone{Name: name, Key: "{paygate.user}", Rate: 1, Period: caddy.Duration(time.Hour), Burst: burst, Match: match}
	}
	st := newStageOn(t, &Handler{Zones: []Zone{zone("user", 5), zone("user_route", 2, Endpoint{http.MethodGet, "/v1/payment_intents/{id}"}), zone("ip", 5)}}, s)
	alice := call{iss: "https://idp.example", user: "alice"}
	wantRemaining := func(res result, want map[string]int) {
		t.Helper()
		for zone, r := range want {
			if got := remaining(t, res, zone); got != r {
				t.Errorf("%s: r=%d, want %d", zone, got, r)
			}
		}
	}
	for i := range 2 {
		res := st.serve(alice)
		mustPass(t, res)
		wantRemaining(res, map[string]int{"user": 4 - i, "user_route": 1 - i, "ip": 4 - i})
	}
	for range 2 {
		mustRefuse(t, st.serve(alice))
	}
	// Another route of alice's (user_route does not apply): the refusals
	// charged neither user nor ip.
	alice.target = "/v1/payment_methods"
	res := st.serve(alice)
	mustPass(t, res)
	wantRemaining(res, map[string]int{"user": 2, "ip": 2})
	if l := st.logs.FilterLevelExact(zapcore.ErrorLevel).Len(); l != 0 {
		t.Errorf("%d error lines: %v", l, st.logs.All())
	}
}

func TestValidate(t *testing.T) {
	ok := hourly("ip", 5)
	with := func(change func(z *Zone)) []Zone {
		z := ok
		change(&z)
		return []Zone{z}
	}
	tests := []struct {
		name string
		h    Handler
		want string
	}{
		{"no zone", Handler{}, "at least one zone"},
		{"ipv6_prefix above 128", Handler{IPv6Prefix: 129, Zones: []Zone{ok}}, "ipv6_prefix"},
		{"negative ipv6_prefix", Handler{IPv6Prefix: -1, Zones: []Zone{ok}}, "ipv6_prefix"},
		{"empty name", Handler{Zones: with(func(z *Zone) { z.Name = "" })}, `zone name ""`},
		{"upper-case name", Handler{Zones: with(func(z *Zone) { z.Name = "IP" })}, `zone name "IP"`},
		{"dash in name", Handler{Zones: with(func(z *Zone) { z.Name = "per-ip" })}, `zone name "per-ip"`},
		{"quote in name", Handler{Zones: with(func(z *Zone) { z.Name = `a"b` })}, "zone name"},
		{"name too long", Handler{Zones: with(func(z *Zone) { z.Name = strings.Repeat("a", 33) })}, "zone name"},
		{"duplicate", Handler{Zones: []Zone{ok, hourly("ip", 9)}}, "zone ip is defined twice"},
		{"no key", Handler{Zones: with(func(z *Zone) { z.Key = "" })}, "key is required"},
		{"bad on_store_failure", Handler{Zones: with(func(z *Zone) { z.OnStoreFailure = "open" })}, "on_store_failure must be deny, allow or local"},
		{"negative replicas", Handler{Zones: with(func(z *Zone) { z.Replicas = -1 })}, "replicas"},
		{"replicas above the rate", Handler{Zones: with(func(z *Zone) { z.Rate, z.Replicas = 3, 4 })}, "replicas"},
		{"zero rate", Handler{Zones: with(func(z *Zone) { z.Rate = 0 })}, "rate 0"},
		{"negative rate", Handler{Zones: with(func(z *Zone) { z.Rate = -5 })}, "rate -5"},
		{"zero period", Handler{Zones: with(func(z *Zone) { z.Period = 0 })}, "period"},
		{"rate finer than a microsecond", Handler{Zones: with(func(z *Zone) { z.Rate, z.Period = 2000, caddy.Duration(time.Millisecond) })}, "below 1µs"},
		{"zero burst", Handler{Zones: with(func(z *Zone) { z.Burst = 0 })}, "burst 0"},
		{"burst beyond 100 years", Handler{Zones: with(func(z *Zone) { z.Period, z.Burst = caddy.Duration(365*24*time.Hour), 101 })}, "exceeds"},
		{"500", Handler{Zones: with(func(z *Zone) { z.Statuses = []int{402, 500} })}, "status 500: only 4xx"},
		{"503", Handler{Zones: with(func(z *Zone) { z.Statuses = []int{503} })}, "status 503: only 4xx"},
		{"302", Handler{Zones: with(func(z *Zone) { z.Statuses = []int{302} })}, "status 302"},
		{"600", Handler{Zones: with(func(z *Zone) { z.Statuses = []int{600} })}, "status 600"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.h.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate: %v, want an error containing %q", err, tt.want)
			}
			if err := tt.h.setUp(closedStore(t), zap.NewNop(), zap.NewNop()); err == nil {
				t.Error("set-up succeeded")
			}
		})
	}
	valid := Handler{IPv6Prefix: 128, Zones: []Zone{ok, outcomeZone(3), {Name: "a_0", Key: "{paygate.client_ip}", Rate: 1, Period: caddy.Duration(time.Second), Burst: 1,
		Statuses: []int{400, 499}, OnStoreFailure: FailAllow, Replicas: 1, Shadow: true}}}
	if err := valid.Validate(); err != nil {
		t.Errorf("Validate of a valid stage: %v", err)
	}
}

// TestMatchValidated: a zone's endpoints must be endpoints of the payment
// API's route table.
func TestMatchValidated(t *testing.T) {
	for _, ep := range []Endpoint{
		{http.MethodGet, "/v1/payment_intents"},
		{http.MethodPost, "/v1/nothing"},
		{"post", "/v1/payment_intents"},
		{http.MethodPost, "/v1/payment_intents/"},
		{http.MethodPost, "/v1/payment_intents/{id}"},
		{http.MethodPost, "/v1/payment_intents/pi_1/confirm"},
	} {
		z := hourly("ip", 5)
		z.Match = []Endpoint{{http.MethodPost, "/v1/payment_intents"}, ep}
		h := &Handler{Zones: []Zone{z}}
		err := h.setUp(closedStore(t), zap.NewNop(), zap.NewNop())
		if want := ep.Method + " " + ep.Template + " is not an endpoint"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("match %s %s: %v, want an error containing %q", ep.Method, ep.Template, err, want)
		}
	}
}

// TestEventZones: a zone that counts events must be an outcome zone; the
// stage registers it for payment_events while its configuration runs.
func TestEventZones(t *testing.T) {
	bare := hourly("declines", 2)
	bare.Events = []string{"payment_intent.payment_failed"}
	if err := (&Handler{Zones: []Zone{bare}}).Validate(); err == nil || !strings.Contains(err.Error(), "outcome zone only") {
		t.Fatalf("Validate: %v, want events refused on a zone without statuses", err)
	}
	z := outcomeZone(2)
	z.Distinct, z.Events = "{paygate.decline_id}", []string{"payment_intent.payment_failed"}
	s := newStage(t, &Handler{Zones: []Zone{z}})
	zs := ratezone.ForEvent("payment_intent.payment_failed")
	if len(zs) != 1 || zs[0].Name != "declines" || !zs[0].Distinct || zs[0].Limit.Burst != 2 {
		t.Fatalf("registered %+v, want the declines zone", zs)
	}
	if err := s.h.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if zs := ratezone.ForEvent("payment_intent.payment_failed"); len(zs) != 0 {
		t.Fatalf("after Cleanup: %+v", zs)
	}
}
