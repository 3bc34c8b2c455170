package main

import (
	"math"
	"testing"
)

// passing is a run that meets every target.
func passing() map[string]summary {
	return map[string]summary{
		targetBare: {ratio: 1, maxRSS: 100, roundTripsPerReq: math.NaN()},
		// 2.004: background calls amortised over the requests pass.
		targetGet:      {ratio: 0.75, maxRSS: 200, roundTripsPerReq: 2.004},
		targetGetRS256: {ratio: 0.45, maxRSS: 150, roundTripsPerReq: 2},
		targetGetEdDSA: {ratio: 0.2, maxRSS: 150, roundTripsPerReq: 2},
		targetPost:     {ratio: 0.6, maxRSS: 150, roundTripsPerReq: 3},
		targetReplay:   {ratio: 0.3, maxRSS: 150, roundTripsPerReq: 2},
		targetStock:    {ratio: 1.1, maxRSS: 90, roundTripsPerReq: math.NaN()},
	}
}

// results are the checks' results by name.
func results(checks []check) map[string]string {
	m := map[string]string{}
	for _, c := range checks {
		m[c.name] = c.result
	}
	return m
}

func TestEvaluatePasses(t *testing.T) {
	checks := evaluate(passing())
	if len(checks) != 3+3+7+2+5 {
		t.Errorf("%d checks, want 20: %+v", len(checks), checks)
	}
	for _, c := range checks {
		if c.result != checkPass {
			t.Errorf("%s: %s (%s, limit %s)", c.name, c.result, c.value, c.limit)
		}
	}
}

func TestEvaluateFails(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(map[string]summary)
		check  string
	}{
		{"GET ratio", func(m map[string]summary) { s := m[targetGet]; s.ratio = 0.74; m[targetGet] = s }, "req/s get / bare (median of per-round ratios)"},
		{"RS256 ratio", func(m map[string]summary) { s := m[targetGetRS256]; s.ratio = 0.44; m[targetGetRS256] = s }, "req/s get-new-token-rs256 / bare (median of per-round ratios)"},
		{"POST ratio", func(m map[string]summary) { s := m[targetPost]; s.ratio = math.NaN(); m[targetPost] = s }, "req/s post / bare (median of per-round ratios)"},
		{"GET round trips", func(m map[string]summary) { s := m[targetGet]; s.roundTripsPerReq = 2.006; m[targetGet] = s }, "Redis round trips per GET (get)"},
		{"round trips not counted", func(m map[string]summary) { s := m[targetPost]; s.roundTripsPerReq = math.NaN(); m[targetPost] = s }, "Redis round trips per POST (post)"},
		{"errors", func(m map[string]summary) { s := m[targetStock]; s.errors = 1; m[targetStock] = s }, "errors, stock-caddy"},
		{"tokens reused", func(m map[string]summary) { s := m[targetGetEdDSA]; s.tokenWraps = 1; m[targetGetEdDSA] = s }, "tokens reused, get-new-token-eddsa"},
		{"RSS", func(m map[string]summary) { s := m[targetPost]; s.maxRSS = 201; m[targetPost] = s }, "max RSS post / bare"},
		{"replay round trips", func(m map[string]summary) { s := m[targetReplay]; s.roundTripsPerReq = 3.01; m[targetReplay] = s }, "Redis round trips per POST (post-replay)"},
		{"replay RSS", func(m map[string]summary) { s := m[targetReplay]; s.maxRSS = 201; m[targetReplay] = s }, "max RSS post-replay / bare"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sums := passing()
			c.change(sums)
			r := results(evaluate(sums))
			for name, result := range r {
				want := checkPass
				if name == c.check {
					want = checkFail
				}
				if result != want {
					t.Errorf("%s: %s, want %s", name, result, want)
				}
			}
			if _, ok := r[c.check]; !ok {
				t.Errorf("no check %q", c.check)
			}
		})
	}
}

func TestEvaluateNotRun(t *testing.T) {
	sums := passing()
	delete(sums, targetBare)
	delete(sums, targetPost)
	r := results(evaluate(sums))
	for name, want := range map[string]string{
		"req/s get / bare (median of per-round ratios)": checkNotRun,
		"Redis round trips per GET (get)":               checkPass,
		"Redis round trips per POST (post)":             checkNotRun,
		"max RSS get / bare":                            checkNotRun,
		"errors, get":                                   checkPass,
	} {
		if r[name] != want {
			t.Errorf("%s: %q, want %q", name, r[name], want)
		}
	}
	if _, ok := r["errors, post"]; ok {
		t.Error("an errors check for a target that did not run")
	}
}
