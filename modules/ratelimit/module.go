// Package ratelimit provides the http.handlers.redis_rate_limit module
// (directive redis_rate_limit): GCRA rate limits in the shared store, exact
// across any number of replicas, each stage instance deciding every zone
// that applies to a request in one atomic store call.
//
// A zone counts requests (all of them, or those matching its endpoints) or,
// when it names response statuses, outcomes: a decline (402), a 401, a 404.
// An outcome zone refuses matching requests once its budget is spent and is
// charged after a response with one of its statuses. Put one stage before
// authentication (per client IP: forged tokens and 401s spend the IP's
// budget) and one after it (per user, per route, payment velocity,
// declines), in the idempotency stage's limits block, which decides its
// zones in the same store round trip as a key's lease, so that a replay
// never charges a velocity budget (ServeGated).
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/payapi"
	"github.com/paygate/paygate/internal/ratezone"
	"github.com/paygate/paygate/internal/store"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Placeholders the stage adds for key templates, besides Caddy's own.
const (
	// PlaceholderClientIP is the client IP as Caddy resolved it
	// (trusted_proxies), an IPv6 address reduced to its IPv6Prefix.
	PlaceholderClientIP = ratezone.SubjectIP
	// PlaceholderUser is the authenticated user qualified by the token's
	// issuer, so that two identity providers' equal subs never share a
	// bucket; empty without an authenticated user.
	PlaceholderUser = ratezone.SubjectUser
	// PlaceholderRoute is the request's route template in the payment
	// API's table (never the raw path), or "other".
	PlaceholderRoute = "paygate.route"
)

// Failure modes: what a zone does when the store cannot decide.
const (
	FailDeny  = "deny"
	FailAllow = "allow"
	FailLocal = "local"
)

const defaultIPv6Prefix = 64

// Handler enforces the zones that apply to each request.
type Handler struct {
	// Zones are the limits; at least one.
	Zones []Zone `json:"zones,omitempty"`

	// IPv6Prefix is the prefix length IPv6 clients are grouped by in
	// {paygate.client_ip}: a /64 is one subscriber. Default: 64.
	IPv6Prefix int `json:"ipv6_prefix,omitempty"`

	zones  []*zone
	table  *payapi.Table
	store  store.Store
	logger *zap.Logger
	audit  *zap.Logger
	// degraded is set while the store fails, to log each change once.
	degraded *atomic.Bool
	// owed holds the units to give back to the shared store (reserved by
	// deferred zones, or charged to a request that a gate's caller answered
	// itself); flushing runs until stop is closed, and closes flushed.
	owed          *owed
	stop, flushed chan struct{}
	// now is the clock of owed units' ages.
	now func() time.Time
}

// Zone is one limit.
type Zone struct {
	// Name names the zone in metrics, logs and RateLimit headers; unique
	// within a stage.
	Name string `json:"name"`
	// Key is the template of the zone's counter key, e.g.
	// "{paygate.client_ip}" or "{paygate.user}"; the same for every zone of
	// a stage (one atomic call decides them all). When it comes out empty
	// (no user before authentication) no zone applies.
	Key string `json:"key"`
	// Rate units per Period on average, Burst at once from idle.
	Rate   int64          `json:"rate"`
	Period caddy.Duration `json:"period"`
	Burst  int64          `json:"burst"`
	// Match limits the zone to these endpoints of the payment API's route
	// table; empty: every request.
	Match []Endpoint `json:"match,omitempty"`
	// Statuses makes the zone outcome-driven: it is charged after a
	// response with one of these statuses (4xx only: paygate's outages
	// never count), and refuses matching requests while it is spent.
	Statuses []int `json:"statuses,omitempty"`
	// Events are Stripe event types (payment_intent.payment_failed) that
	// count in this outcome zone too, as payment_events processes them,
	// for the subject (user, client IP) of the payment they are about;
	// with Distinct {paygate.decline_id}, a decline counted by its 402 is
	// not counted again by its event.
	Events []string `json:"events,omitempty"`
	// Distinct makes the zone count distinct values of this template
	// after each response (with Statuses, only responses with one of
	// them): it is charged the first time a value (e.g.
	// {paygate.card_fingerprint}, which the payment handler sets from the
	// card Stripe used or declined) is seen for the zone's key within
	// Period, and refuses matching requests while it is spent. Rate
	// distinct values per Period, Burst at once.
	Distinct string `json:"distinct,omitempty"`
	// OnStoreFailure is deny (503 store_unavailable), allow, or local (an
	// in-process GCRA with the same parameters divided by Replicas).
	// Default: deny on a zone that matches a payment-creating endpoint
	// (POST /v1/payment_intents), else local.
	OnStoreFailure string `json:"on_store_failure,omitempty"`
	// Replicas divides the rate and burst of the local fallback, so that
	// the replicas together admit what the shared limit would. Default: 1.
	Replicas int64 `json:"replicas,omitempty"`
	// Shadow counts and logs what the zone would refuse, and refuses
	// nothing: for rolling out a new limit.
	Shadow bool `json:"shadow,omitempty"`
}

// Endpoint names an endpoint of the route table.
type Endpoint struct {
	Method   string `json:"method"`
	Template string `json:"template"`
}

// zone is a provisioned Zone.
type zone struct {
	Zone
	match    map[Endpoint]bool
	statuses map[int]bool
	fail     string
	// quoted is the name as a Structured Field string, policy the zone's
	// RateLimit-Policy item up to its partition key.
	quoted, policy string
	// outcomes are the zone's decision counters, by outcome.
	outcomes map[string]prometheus.Counter
}

// observe counts one of the zone's decisions.
func (z *zone) observe(outcome string) { z.outcomes[outcome].Inc() }

// deferred reports whether the zone is charged after the response (an
// outcome or distinct-value zone) rather than by the request.
func (z *zone) deferred() bool { return len(z.statuses) > 0 || z.Distinct != "" }

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.redis_rate_limit",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision checks the zones and finds the store.
func (h *Handler) Provision(ctx caddy.Context) error {
	if err := registerMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("redis_rate_limit: %w", err)
	}
	s, err := store.FromContext(ctx)
	if err != nil {
		return fmt.Errorf("redis_rate_limit: %w", err)
	}
	return h.setUp(s, ctx.Logger(), audit.Logger(ctx))
}

// setUp is Provision without Caddy's context.
func (h *Handler) setUp(s store.Store, logger, auditLogger *zap.Logger) error {
	h.store, h.logger, h.audit, h.table = s, logger, auditLogger, payapi.Default()
	h.degraded = new(atomic.Bool)
	if h.now == nil {
		h.now = time.Now
	}
	if err := h.Validate(); err != nil {
		return err
	}
	if h.IPv6Prefix == 0 {
		h.IPv6Prefix = defaultIPv6Prefix
	}
	h.zones = make([]*zone, len(h.Zones))
	for i, cfg := range h.Zones {
		z := &zone{Zone: cfg, match: map[Endpoint]bool{}, statuses: map[int]bool{}, fail: cfg.OnStoreFailure}
		creates := false
		for _, ep := range cfg.Match {
			if !h.takes(ep) {
				return fmt.Errorf("redis_rate_limit: zone %s: %s %s is not an endpoint of the payment API's route table", cfg.Name, ep.Method, ep.Template)
			}
			z.match[ep] = true
			creates = creates || ep.Method == http.MethodPost && ep.Template == "/v1/payment_intents"
		}
		for _, s := range cfg.Statuses {
			z.statuses[s] = true
		}
		if z.fail == "" {
			z.fail = FailLocal
			if creates {
				z.fail = FailDeny
			}
		}
		if z.Replicas == 0 {
			z.Replicas = 1
		}
		z.quoted = strconv.Quote(z.Name)
		window := max(ceilSeconds(time.Duration(z.Period)/time.Duration(z.Rate)*time.Duration(z.Burst)), 1)
		z.policy = z.quoted + ";q=" + strconv.FormatInt(z.Burst, 10) + ";w=" + strconv.FormatInt(window, 10) + ";pk=:"
		z.outcomes = make(map[string]prometheus.Counter, len(outcomes))
		for _, o := range outcomes {
			z.outcomes[o] = decisions.WithLabelValues(z.Name, o)
		}
		h.zones[i] = z
	}
	h.registerEventZones()
	h.owed, h.stop, h.flushed = newOwed(), make(chan struct{}), make(chan struct{})
	go h.flushEvery(h.stop, h.flushed)
	return nil
}

// registerEventZones lets payment_events count events in the zones that
// name them.
func (h *Handler) registerEventZones() {
	var zs []ratezone.Zone
	for _, z := range h.zones {
		if len(z.Events) == 0 {
			continue
		}
		events := make(map[string]bool, len(z.Events))
		for _, t := range z.Events {
			events[t] = true
		}
		zs = append(zs, ratezone.Zone{Name: z.Name, KeyTemplate: z.Key, Distinct: z.Distinct != "", Events: events, Shadow: z.Shadow,
			Limit: store.LimitRequest{Rate: z.Rate, Period: time.Duration(z.Period), Burst: z.Burst, Cost: 1}})
	}
	if len(zs) > 0 {
		ratezone.Register(h, zs)
	}
}

// Cleanup stops the zones of this configuration from counting events, and
// gives back the units still owed.
func (h *Handler) Cleanup() error {
	ratezone.Unregister(h)
	if h.stop != nil {
		close(h.stop)
		<-h.flushed
		h.stop = nil
	}
	return nil
}

// takes reports whether the table has the endpoint.
func (h *Handler) takes(ep Endpoint) bool {
	for _, rt := range h.table.Routes() {
		if rt.Template != ep.Template {
			continue
		}
		for _, e := range rt.Endpoints {
			if e.Method == ep.Method {
				return true
			}
		}
	}
	return false
}

// Validate refuses an incomplete or unenforceable configuration.
func (h *Handler) Validate() error {
	if len(h.Zones) == 0 {
		return errors.New("redis_rate_limit: at least one zone is required")
	}
	if h.IPv6Prefix < 0 || h.IPv6Prefix > 128 {
		return errors.New("redis_rate_limit: ipv6_prefix must be 1 to 128")
	}
	seen := map[string]bool{}
	for _, z := range h.Zones {
		switch {
		case !validName(z.Name):
			return fmt.Errorf("redis_rate_limit: zone name %q: want 1 to 32 of a-z, 0-9 and _", z.Name)
		case seen[z.Name]:
			return fmt.Errorf("redis_rate_limit: zone %s is defined twice", z.Name)
		case z.Key == "":
			return fmt.Errorf("redis_rate_limit: zone %s: key is required", z.Name)
		case z.Key != h.Zones[0].Key:
			return fmt.Errorf("redis_rate_limit: zone %s: key %s differs from zone %s's %s: the zones of one stage share their key, so that one atomic call decides them all; put zones with another key in another redis_rate_limit", z.Name, z.Key, h.Zones[0].Name, h.Zones[0].Key)
		case z.OnStoreFailure != "" && z.OnStoreFailure != FailDeny && z.OnStoreFailure != FailAllow && z.OnStoreFailure != FailLocal:
			return fmt.Errorf("redis_rate_limit: zone %s: on_store_failure must be deny, allow or local", z.Name)
		case z.Replicas < 0 || z.Replicas > z.Rate && z.Rate > 0:
			return fmt.Errorf("redis_rate_limit: zone %s: replicas must be 1 to the rate", z.Name)
		}
		seen[z.Name] = true
		req := store.LimitRequest{Key: "x", Rate: z.Rate, Period: time.Duration(z.Period), Burst: z.Burst, Cost: 1}
		if err := req.Validate(); err != nil {
			return fmt.Errorf("redis_rate_limit: zone %s: %w", z.Name, err)
		}
		if len(z.Events) > 0 && len(z.Statuses) == 0 {
			return fmt.Errorf("redis_rate_limit: zone %s: events count in an outcome zone only (give it statuses)", z.Name)
		}
		for _, s := range z.Statuses {
			if s < 400 || s > 499 {
				return fmt.Errorf("redis_rate_limit: zone %s: status %d: only 4xx outcomes are counted (paygate's own outages never are)", z.Name, s)
			}
		}
	}
	return nil
}

// validName: lower-case letters, digits and '_', 1 to 32 of them.
func validName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// errRateLimited is the 429 body.
var errRateLimited = apierror.New(http.StatusTooManyRequests, apierror.TypeRateLimit, "rate_limited",
	"Too many requests. Please retry later.")

// applied is one zone's part of a request.
type applied struct {
	z *zone
	// key is the zone's counter key value (before hashing).
	key string
	req store.LimitRequest
	// by is the store that charged the zone for this request (the shared
	// one, or the local fallback), or nil.
	by store.Store
}

// ServeHTTP decides every zone that applies in one store call; a refusal
// is 429 (or 503 when a deny zone cannot be decided); outcome zones are
// charged after the response.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	return h.serve(w, r, next, nil)
}

// ServeGated is ServeHTTP with the zones' first store decision made by
// gate, the store call of the stage that holds this one (idempotency's
// lease), so that both take one round trip. What differs: a gate error is
// returned as it is (no on_store_failure fallback admits a request the
// gate could not decide), and when the gate does not proceed the stage
// returns at once, leaving the answer to its caller. A request no zone
// applies to (no user, another route) reaches next without the gate.
func (h *Handler) ServeGated(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, gate ratezone.Gate) error {
	return h.serve(w, r, next, gate)
}

// serve is ServeHTTP and ServeGated: gate, when not nil, makes the first
// store decision.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, gate ratezone.Gate) error {
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl == nil {
		return next.ServeHTTP(w, r)
	}
	endpoint := Endpoint{Method: r.Method, Template: h.setPlaceholders(r, repl)}
	key := repl.ReplaceAll(h.zones[0].Key, "")
	if key == "" {
		return next.ServeHTTP(w, r)
	}
	// Every counter is tagged by the key, so the call is atomic on Redis
	// Cluster too; the key is hashed, so the store never holds an IP or a
	// user ID.
	var zones []applied
	var digest string
	for _, z := range h.zones {
		if len(z.match) > 0 && !z.match[endpoint] {
			continue
		}
		if digest == "" {
			digest = store.Digest(key)
		}
		zones = append(zones, applied{z: z, key: key, req: store.LimitRequest{Key: ratezone.DigestCounterKey(digest, z.Name),
			Rate: z.Rate, Period: time.Duration(z.Period), Burst: z.Burst, Cost: 1, Hold: z.deferred()}})
	}
	if len(zones) == 0 {
		return next.ServeHTTP(w, r)
	}

	results, proceed, err := h.decide(r.Context(), key, zones, gate)
	if !proceed {
		// The gate failed, or its caller answers.
		return err
	}
	if err != nil {
		if gone := apierror.ClientGone(r); gone != nil {
			return gone
		}
		if results, err = h.fallback(zones, err); err != nil {
			return err
		}
	}
	var refused []int
	for i, res := range results {
		if res.Allowed {
			continue
		}
		if zones[i].z.Shadow {
			zones[i].z.observe(outcomeShadowRefused)
			h.logger.Info("shadow zone would refuse", zap.String("zone", zones[i].z.Name))
			continue
		}
		refused = append(refused, i)
	}
	if len(refused) > 0 {
		return h.refuse(w, r, zones, results, refused)
	}
	for _, a := range zones {
		a.z.observe(outcomeAllowed)
	}
	setHeaders(w.Header(), zones, results, allIndexes(len(zones)))
	if !hasOutcomeZones(zones) {
		return next.ServeHTTP(w, r)
	}
	rec := caddyhttp.NewResponseRecorder(w, nil, nil)
	err = next.ServeHTTP(rec, r)
	h.settle(r, repl, zones, responseStatus(r, rec, err), rec.Header().Get("Idempotent-Replayed") != "")
	return err
}

// decide runs the one store call (gate's, when there is one), which also
// gives back what key is owed; a refusal caused only by shadow zones is
// decided again without them, so that the others are charged as if the
// shadow zones were not there. proceed is false when gate failed (err) or
// did not proceed: the caller answers.
func (h *Handler) decide(ctx context.Context, key string, zones []applied, gate ratezone.Gate) (results []store.LimitResult, proceed bool, err error) {
	reqs := make([]store.LimitRequest, len(zones))
	for i, a := range zones {
		reqs[i] = a.req
	}
	back := h.owed.take(key)
	first := gate
	if first == nil {
		first = h.limit
	}
	results, proceed, err = first(ctx, withOwed(reqs, back))
	if err != nil {
		h.owed.restore(key, back, h.now())
		return nil, gate == nil, err
	}
	if !proceed {
		// The gate's caller answers (a replay, a key in flight): what the
		// call charged is owed back, with the key's next call or a flush,
		// so that such a request costs no round trip of its own.
		if len(results) >= len(zones) && store.Admitted(results[:len(zones)]) {
			h.owed.add(key, reqs, h.now())
		}
		return nil, false, nil
	}
	results = results[:len(zones)]
	if h.degraded.CompareAndSwap(true, false) {
		h.logger.Info("rate limits decided by the store again")
	}
	if store.Admitted(results) {
		for i := range zones {
			zones[i].by = h.store
		}
		return results, true, nil
	}
	onlyShadow, anyRefused := true, false
	for i, res := range results {
		if !res.Allowed {
			anyRefused = true
			onlyShadow = onlyShadow && zones[i].z.Shadow
		}
	}
	if !anyRefused || !onlyShadow {
		return results, true, nil
	}
	var enforced []store.LimitRequest
	var at []int
	for i, a := range zones {
		if !a.z.Shadow {
			enforced = append(enforced, a.req)
			at = append(at, i)
		}
	}
	if len(enforced) == 0 {
		return results, true, nil
	}
	again, err := h.store.Limit(ctx, enforced)
	if err != nil {
		return nil, true, err
	}
	for j, i := range at {
		results[i] = again[j]
		if store.Admitted(again) {
			zones[i].by = h.store
		}
	}
	return results, true, nil
}

// limit is the first store call of a request no gate decides.
func (h *Handler) limit(ctx context.Context, reqs []store.LimitRequest) ([]store.LimitResult, bool, error) {
	results, err := h.store.Limit(ctx, reqs)
	return results, true, err
}

// local is the in-process store of the local fallback; it outlives config
// reloads, so a reload keeps its buckets.
var local = sync.OnceValue(func() store.Store { return store.NewMemory(time.Now) })

// fallback decides when the store failed: a deny zone makes the request a
// 503, allow zones admit, local zones ask the in-process store with their
// share of the limit.
func (h *Handler) fallback(zones []applied, cause error) ([]store.LimitResult, error) {
	if !h.degraded.Swap(true) {
		h.logger.Error("the store cannot decide rate limits; zones fall back to their on_store_failure", zap.Error(cause))
	}
	results := make([]store.LimitResult, len(zones))
	var reqs []store.LimitRequest
	var at []int
	for i, a := range zones {
		fallbacks.WithLabelValues(a.z.Name, a.z.fail).Inc()
		switch a.z.fail {
		case FailDeny:
			if !a.z.Shadow {
				e := apierror.StoreUnavailable.WithCause(fmt.Errorf("rate limit zone %s: %w", a.z.Name, cause))
				return nil, caddyhttp.Error(e.Status, e)
			}
			results[i] = store.LimitResult{Allowed: true}
		case FailAllow:
			results[i] = store.LimitResult{Allowed: true}
		case FailLocal:
			req := a.req
			req.Rate = max(req.Rate/a.z.Replicas, 1)
			req.Burst = max(req.Burst/a.z.Replicas, 1)
			reqs = append(reqs, req)
			at = append(at, i)
		}
	}
	if len(reqs) > 0 {
		// The memory store takes any keys in one call; its failure would
		// be a bug, and then the zones admit.
		res, err := local().Limit(context.Background(), reqs)
		for j, i := range at {
			results[i] = store.LimitResult{Allowed: true}
			if err == nil {
				results[i] = res[j]
				if store.Admitted(res) {
					zones[i].by = local()
				}
			}
		}
	}
	return results, nil
}

// refuse answers 429 for the refused zones.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, zones []applied, results []store.LimitResult, refused []int) error {
	var retry time.Duration
	names := make([]string, 0, len(refused))
	for _, i := range refused {
		retry = max(retry, results[i].RetryAfter)
		names = append(names, zones[i].z.Name)
		zones[i].z.observe(outcomeRefused)
	}
	for i, a := range zones {
		if !slices.Contains(refused, i) {
			a.z.observe(outcomeNotCharged)
		}
	}
	// A 429's fields name the zones that refused, not those of earlier
	// stages that admitted.
	delete(w.Header(), policyField)
	delete(w.Header(), limitField)
	setHeaders(w.Header(), zones, results, refused)
	audit.Log(h.audit, r, audit.Event{Action: "rate_limited", Outcome: audit.Denied, Reason: strings.Join(names, ",")})
	seconds := max(ceilSeconds(retry), 1)
	e := errRateLimited.WithHeader("Retry-After", strconv.FormatInt(seconds, 10)).
		WithCause(fmt.Errorf("rate limited by %s", strings.Join(names, ",")))
	return caddyhttp.Error(e.Status, e)
}

// setHeaders adds the IETF RateLimit-Policy and RateLimit fields
// (draft-ietf-httpapi-ratelimit-headers-10) for the zones at indexes (a
// second stage adds its own to the first's): the quota q is the burst and
// the window w the time the zone takes to refill it from empty (burst
// emission intervals), so that r, what remains, never exceeds q; t is when
// the zone is full again; the partition key pk is a hash of the zone's
// key, never the key itself.
func setHeaders(h http.Header, zones []applied, results []store.LimitResult, indexes []int) {
	// Both fields in one buffer, the policies first, made into one string.
	buf := make([]byte, 0, 160*len(indexes))
	// Where each zone's partition key starts in its policy, so that the
	// RateLimit item copies it instead of hashing again.
	var small [16]int
	pkAt := small[:0]
	for n, i := range indexes {
		if n > 0 {
			buf = append(buf, ", "...)
		}
		a := zones[i]
		buf = append(buf, a.z.policy...)
		pkAt = append(pkAt, len(buf))
		buf = append(partitionKey(buf, a.z.Name, a.key), ':')
	}
	split := len(buf)
	for n, i := range indexes {
		a, res := zones[i], results[i]
		if n > 0 {
			buf = append(buf, ", "...)
		}
		buf = append(append(buf, a.z.quoted...), ";r="...)
		buf = append(strconv.AppendInt(buf, res.Remaining, 10), ";t="...)
		buf = append(strconv.AppendInt(buf, ceilSeconds(res.ResetAfter), 10), ";pk=:"...)
		buf = append(append(buf, buf[pkAt[n]:pkAt[n]+partitionKeyLen]...), ':')
	}
	fields := string(buf)
	h[policyField] = append(h[policyField], fields[:split])
	h[limitField] = append(h[limitField], fields[split:])
}

// The RateLimit fields' names in Go's canonical form.
var (
	policyField = textproto.CanonicalMIMEHeaderKey("RateLimit-Policy")
	limitField  = textproto.CanonicalMIMEHeaderKey("RateLimit")
)

// ceilSeconds is d in whole seconds, rounded up.
func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// partitionKey appends to dst the draft's partition key: 9 bytes of a hash
// of the zone and its key, base64 (a Structured Field byte sequence),
// partitionKeyLen bytes.
func partitionKey(dst []byte, zone, key string) []byte {
	var buf [128]byte
	sum := sha256.Sum256(append(append(append(buf[:0], zone...), 0), key...))
	return base64.StdEncoding.AppendEncode(dst, sum[:9])
}

// partitionKeyLen is the length of a partition key.
const partitionKeyLen = 12

func allIndexes(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

func hasOutcomeZones(zones []applied) bool {
	for _, a := range zones {
		if a.z.deferred() {
			return true
		}
	}
	return false
}

// responseStatus is the status of the response next gave: the one
// paygate_error answers its error with (a JWKS outage is a 503, though
// Caddy's authentication handler returns it as a 401), or the one it wrote.
func responseStatus(r *http.Request, rec caddyhttp.ResponseRecorder, err error) int {
	if err != nil {
		return apierror.Answer(r, err).Status
	}
	if s := rec.Status(); s != 0 {
		return s
	}
	return http.StatusOK
}

// settle keeps the unit a deferred zone held with the request when the
// response counts in it, and gives it back otherwise; either way the hold
// is let go of (with the key's next store call, see owed; at once on the
// in-process fallback): an outcome zone counts a response with one of its
// statuses; a distinct zone (whose statuses, if any, include status) a
// value not seen yet for its key within its period (one more store call
// per value); a replayed response counts in none, it was counted when it
// ran. Holding a unit with the request is what keeps concurrent attempts
// within the budget; counting it apart while held is what keeps a refusal's
// Retry-After to the units spent.
func (h *Handler) settle(r *http.Request, repl *caddy.Replacer, zones []applied, status int, replay bool) {
	ctx := settleContext{parent: r.Context()}
	defer ctx.stop()
	var back, counted, inProcess []store.LimitRequest
	for _, a := range zones {
		if a.by == nil || !a.z.deferred() {
			continue
		}
		counts := !replay && h.counts(&ctx, repl, a, status)
		if counts {
			a.z.observe(outcomeCharged)
		}
		switch {
		case a.by == local():
			// The in-process store lets go of the hold at once, and takes
			// the unit back unless it counts.
			req := a.req
			req.Hold, req.Release = false, req.Cost
			if counts {
				req.Cost = 0
			}
			inProcess = append(inProcess, req)
		case counts:
			counted = append(counted, a.req)
		default:
			back = append(back, a.req)
		}
	}
	// Given back and let go of with the key's next store call, or by a
	// flush.
	h.owed.add(zones[0].key, back, h.now())
	h.owed.letGo(zones[0].key, counted, h.now())
	if len(inProcess) > 0 {
		if err := local().Refund(ctx.get(), inProcess); err != nil {
			h.logger.Warn("giving back reserved rate-limit units failed; they return with time", zap.Int("status", status), zap.Error(err))
		}
	}
}

// settleContext is the context of settle's store calls, made when the first
// one needs it: most requests settle without any (a status that no outcome
// zone counts, units owed to Redis), and a context with a deadline costs a
// timer.
type settleContext struct {
	parent context.Context
	ctx    context.Context
	cancel context.CancelFunc
}

// get returns the context: the request's values, without its end (the
// request is over, its context may be gone; the settling is not), bounded
// by 2 s.
func (s *settleContext) get() context.Context {
	if s.ctx == nil {
		s.ctx, s.cancel = context.WithTimeout(context.WithoutCancel(s.parent), 2*time.Second)
	}
	return s.ctx
}

// stop releases the context, if one was made.
func (s *settleContext) stop() {
	if s.cancel != nil {
		s.cancel()
	}
}

// counts reports whether a response with status counts in a deferred zone.
func (h *Handler) counts(ctx *settleContext, repl *caddy.Replacer, a applied, status int) bool {
	if len(a.z.statuses) > 0 && !a.z.statuses[status] {
		return false
	}
	if a.z.Distinct == "" {
		return true
	}
	value := repl.ReplaceAll(a.z.Distinct, "")
	if value == "" {
		// No value to tell it apart: an outcome zone's matching response
		// still counts (a decline without a charge ID), a bare distinct
		// zone's does not (a request without a card).
		return len(a.z.statuses) > 0
	}
	fresh, err := a.by.PutIfAbsent(ctx.get(), ratezone.SeenKey(a.req.Key, value), nil, time.Duration(a.z.Period))
	if err != nil {
		h.logger.Warn("recording a distinct value failed; counted as new", zap.String("zone", a.z.Name), zap.Error(err))
		return true
	}
	return fresh
}

// setPlaceholders adds the stage's placeholders to the request's replacer
// and returns the route template.
func (h *Handler) setPlaceholders(r *http.Request, repl *caddy.Replacer) string {
	ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	if ip == "" {
		ip, _, _ = net.SplitHostPort(r.RemoteAddr)
	}
	repl.Set(PlaceholderClientIP, groupIP(ip, h.IPv6Prefix))
	user := ""
	if id, _ := repl.GetString("http.auth.user.id"); id != "" {
		iss, _ := repl.GetString("http.auth.user.iss")
		user = iss + " " + id
	}
	repl.Set(PlaceholderUser, user)
	route := "other"
	if m, err := h.table.MatchRequest(r); err == nil && m.Route != nil {
		route = m.Route.Template
	}
	repl.Set(PlaceholderRoute, route)
	return route
}

// groupIP reduces an IPv6 address to its prefix (an IPv4 one, or an
// IPv4-mapped IPv6 one, stays whole); text that is no IP stays as it is.
func groupIP(s string, bits int) string {
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return s
	}
	if addr.Is4() {
		// As written: ParseAddr takes an IPv4 address in its one form.
		return s
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return addr.String()
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return addr.String()
	}
	return p.String()
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ ratezone.Gated              = (*Handler)(nil)
)
