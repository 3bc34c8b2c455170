package main

import (
	"fmt"
	"math"
)

// Results of a check.
const (
	checkPass   = "PASS"
	checkFail   = "FAIL"
	checkNotRun = "not run"
)

// check is one of issue #14's targets, evaluated on a run.
type check struct {
	name, value, limit string
	// result is checkPass, checkFail, or checkNotRun when a target it needs
	// was left out (-targets).
	result string
}

// pipelineTargets are the targets whose RSS may be at most twice the bare
// target's.
var pipelineTargets = []string{targetGet, targetGetRS256, targetGetEdDSA, targetPost, targetReplay}

// evaluate checks the summaries of a run (by target name; a target that did
// not run has none) against the targets.
func evaluate(sums map[string]summary) []check {
	var checks []check
	add := func(name, value, limit string, pass bool) {
		result := checkFail
		if pass {
			result = checkPass
		}
		checks = append(checks, check{name: name, value: value, limit: limit, result: result})
	}
	notRun := func(name, limit string) {
		checks = append(checks, check{name: name, value: "–", limit: limit, result: checkNotRun})
	}

	for _, r := range []struct {
		target string
		min    float64
	}{{targetGet, 0.75}, {targetGetRS256, 0.45}, {targetPost, 0.60}} {
		name, limit := fmt.Sprintf("req/s %s / %s (median of per-round ratios)", r.target, targetBare), fmt.Sprintf("≥ %.2f", r.min)
		s, ok := sums[r.target]
		if _, bare := sums[targetBare]; !ok || !bare {
			notRun(name, limit)
			continue
		}
		add(name, fmt.Sprintf("%.2f", s.ratio), limit, s.ratio >= r.min)
	}

	for _, r := range []struct {
		target, what string
		max          float64
	}{{targetGet, "GET", 2}, {targetPost, "POST", 3}, {targetReplay, "POST", 3}} {
		name, limit := fmt.Sprintf("Redis round trips per %s (%s)", r.what, r.target), fmt.Sprintf("≤ %.0f", r.max)
		s, ok := sums[r.target]
		switch {
		case !ok:
			notRun(name, limit)
		case math.IsNaN(s.roundTripsPerReq):
			add(name, "n/a ("+metricStoreCalls+" not exposed)", limit, false)
		default:
			// To two decimals, as shown: the calls a server makes besides
			// requests (an owner read again every 2 s, units owed back
			// flushed when the load stops) amortise to far less than 0.01.
			rt := math.Round(100*s.roundTripsPerReq) / 100
			add(name, fmt.Sprintf("%.2f", rt), limit, rt <= r.max)
		}
	}

	for _, t := range targets {
		s, ok := sums[t.name]
		if !ok {
			continue
		}
		add("errors, "+t.name, fmt.Sprint(s.errors), "0", s.errors == 0)
		if t.load == loadNewTokens {
			add("tokens reused, "+t.name, fmt.Sprint(s.tokenWraps), "0", s.tokenWraps == 0)
		}
	}

	for _, name := range pipelineTargets {
		check, limit := fmt.Sprintf("max RSS %s / %s", name, targetBare), "≤ 2.00"
		s, ok := sums[name]
		bare, hasBare := sums[targetBare]
		if !ok || !hasBare {
			notRun(check, limit)
			continue
		}
		ratio := float64(s.maxRSS) / float64(bare.maxRSS)
		add(check, fmt.Sprintf("%.2f", ratio), limit, ratio <= 2)
	}
	return checks
}
