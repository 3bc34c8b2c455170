package opaauthz

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// The collectors are created once per process (see internal/metrics) and
// labelled by bounded sets only: results are the result constants,
// activation outcomes are "success" and "failure", and revisions are those
// of the policies active right now.
var (
	decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paygate_policy_decisions_total",
		Help: "Requests decided by opa_authz, by result (allow, deny, undefined, invalid_result, eval_error, invalid_path, policy_unavailable, store_unavailable).",
	}, []string{"result"})

	activations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paygate_policy_bundle_activations_total",
		Help: "Policy activations (success) and bundle downloads, verifications or compilations that failed, leaving the active policy in place (failure).",
	}, []string{"result"})

	cacheLookups = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "paygate_policy_decision_cache_total",
		Help: "Decisions taken from the decision cache (hit) or evaluated and cached (miss); a policy that reads the time or calls a non-deterministic built-in is never cached and counts in neither.",
	}, []string{"result"})

	revisionInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "paygate_policy_bundle_revision_info",
		Help: "1 for the revision of each active opa_authz policy (the bundle manifest's revision; empty when it has none).",
	}, []string{"revision"})
)

// cacheHits and cacheMisses are cacheLookups' two counters.
var (
	cacheHits   = cacheLookups.WithLabelValues("hit")
	cacheMisses = cacheLookups.WithLabelValues("miss")
)

func collectors() []prometheus.Collector {
	for _, r := range results {
		decisions.WithLabelValues(r)
	}
	activations.WithLabelValues("success")
	activations.WithLabelValues("failure")
	return []prometheus.Collector{decisions, activations, cacheLookups, revisionInfo}
}

// activeRevisions is the active revision of every running engine; the
// revision gauge shows their set.
var activeRevisions = struct {
	sync.Mutex
	by map[*engine]string
}{by: map[*engine]string{}}

// setRevision records e's active revision.
func setRevision(e *engine, revision string) {
	activeRevisions.Lock()
	defer activeRevisions.Unlock()
	activeRevisions.by[e] = revision
	publishRevisions()
}

// clearRevision forgets a stopped engine.
func clearRevision(e *engine) {
	activeRevisions.Lock()
	defer activeRevisions.Unlock()
	delete(activeRevisions.by, e)
	publishRevisions()
}

// publishRevisions rewrites the gauge; activeRevisions must be locked.
func publishRevisions() {
	revisionInfo.Reset()
	for _, r := range activeRevisions.by {
		revisionInfo.WithLabelValues(r).Set(1)
	}
}
