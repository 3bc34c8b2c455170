package main

// Names of the targets, as -targets takes them and the report shows them.
const (
	targetBare     = "bare"
	targetGet      = "get"
	targetGetNoLog = "get-logs-off"
	targetGetRS256 = "get-new-token-rs256"
	targetGetEdDSA = "get-new-token-eddsa"
	targetPost     = "post"
	targetReplay   = "post-replay"
	targetStock    = "stock-caddy"
)

// A targetSpec is one server under test and the load it gets.
type targetSpec struct {
	name string
	// label is the letter and what is measured, for the report.
	label string
	// stock runs the stock Caddy binary instead of paygate.
	stock bool
	// pipeline runs the shipped pipeline (pipelineCaddyfile) instead of the
	// bare site.
	pipeline bool
	// logsOff turns the pipeline's access and decision logs off
	// (logsOffCaddyfile).
	logsOff bool
	// load is what wrk sends.
	load loadMode
	// alg is the signing algorithm of the new tokens (loadNewTokens only).
	alg string
}

// targets are every target, in the report's order. Each runs in a process
// of its own, so that token caches, heaps and RSS stay apart.
var targets = []targetSpec{
	{name: targetBare, label: "(a) bare reverse_proxy, paygate", load: loadGet},
	{name: targetGet, label: "(b) GET pipeline, one token", pipeline: true, load: loadGet},
	{name: targetGetNoLog, label: "(b) GET pipeline, one token, access and decision logs off: what the logs cost (no target)", pipeline: true, logsOff: true, load: loadGet},
	{name: targetGetRS256, label: "(c) GET pipeline, new RS256 token each request", pipeline: true, load: loadNewTokens, alg: "RS256"},
	{name: targetGetEdDSA, label: "(c) GET pipeline, new EdDSA token each request", pipeline: true, load: loadNewTokens, alg: "EdDSA"},
	{name: targetPost, label: "(d) POST pipeline, new Idempotency-Key each request", pipeline: true, load: loadPost},
	{name: targetReplay, label: "(d) POST pipeline, one Idempotency-Key: each request a replay", pipeline: true, load: loadReplay},
	{name: targetStock, label: "(e) bare reverse_proxy, stock Caddy", stock: true, load: loadGet},
}

// targetNames are the names of targets, in order.
func targetNames() []string {
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.name
	}
	return names
}

// selectTargets returns the specs of names, in the report's order.
func selectTargets(names []string) []targetSpec {
	var out []targetSpec
	for _, t := range targets {
		for _, n := range names {
			if n == t.name {
				out = append(out, t)
			}
		}
	}
	return out
}
