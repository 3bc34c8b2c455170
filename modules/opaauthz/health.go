package opaauthz

import (
	"fmt"
	"net/url"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/paygate/paygate/internal/health"
)

// defaultPollingMax is OPA's longest delay between two bundle downloads
// when none is configured.
const defaultPollingMax = 120 * time.Second

// maxBundleAgePolls is the default of MaxBundleAge in polls: ten of the
// longest polling delay, so that a service that is down for a few polls, or
// a refused bundle that its publisher replaces soon, does not take every
// replica out of service.
const maxBundleAgePolls = 10

// maxBundleAge is the bound on the active bundle's age, or 0 when there is
// none (a policy directory, or MaxBundleAge negative).
func (h *Handler) maxBundleAge() time.Duration {
	switch {
	case h.Bundle == nil || h.MaxBundleAge < 0:
		return 0
	case h.MaxBundleAge > 0:
		return time.Duration(h.MaxBundleAge)
	}
	return maxBundleAgePolls * h.Bundle.longestPoll()
}

// longestPoll is the longest delay between two downloads, as OPA is
// configured with it (see interval).
func (b *BundleConfig) longestPoll() time.Duration {
	switch {
	case b.PollingMax != 0:
		return time.Duration(b.PollingMax)
	case b.PollingMin != 0:
		return 2 * time.Duration(b.PollingMin)
	}
	return defaultPollingMax
}

// source names where the policy comes from, for the readiness check: the
// policy directory, or the bundle's URL without its query, which may hold
// a credential (a pre-signed URL).
func (h *Handler) source() string {
	repl := caddy.NewReplacer()
	if h.Bundle == nil {
		return repl.ReplaceKnown(h.PolicyDir, "")
	}
	raw := repl.ReplaceKnown(h.Bundle.URL, "")
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

// health is the readiness check "policy". It fails while no policy is
// active or the active one's query cannot be prepared (every request is
// refused then), and when the active bundle was last confirmed current
// longer than the bound ago. Confirmed means activated, or answered with
// 304 Not Modified: a bundle that has not changed is confirmed at every
// poll, while one the service cannot serve, or serves only in versions that
// are refused, grows old. It reports the active revision and, in
// age_seconds, the time since that confirmation (for a policy directory,
// since it was loaded).
func (h *Handler) health() health.Status {
	snap := h.engine.snap.Load()
	if snap == nil {
		reason := "no policy active"
		if r := h.engine.lastRefusal.Load(); r != nil {
			reason += "; last bundle attempt: " + r.summary()
		}
		return health.Status{Reason: reason}
	}
	age := h.now().Sub(time.Unix(0, h.engine.confirmed.Load()))
	s := health.Status{OK: true, Details: map[string]any{
		"revision":    snap.revision,
		"age_seconds": int64(age.Seconds()),
	}}
	switch maxAge := h.maxBundleAge(); {
	case snap.err != nil:
		s.OK, s.Reason = false, "the active policy's query cannot be prepared; every request is refused"
	case maxAge > 0 && age > maxAge:
		s.OK, s.Reason = false, fmt.Sprintf("the active bundle was last confirmed current %s ago, longer than max_bundle_age %s: bundle updates keep failing", age.Round(time.Second), maxAge)
		if r := h.engine.lastRefusal.Load(); r != nil {
			s.Reason += "; last attempt: " + r.summary()
		}
	}
	return s
}

// summary says which check refused a bundle, with the service's HTTP
// status for a failed download; the log line "policy bundle refused" has
// the cause.
func (r bundleRefusal) summary() string {
	if r.httpCode != "" {
		return r.check + " (HTTP " + r.httpCode + ")"
	}
	return r.check
}
