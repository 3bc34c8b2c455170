package main

import (
	"math"
	"reflect"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []float64
		want float64
	}{
		{"one", []float64{7}, 7},
		{"odd, unsorted", []float64{9, 1, 5}, 5},
		{"even: the mean of the middle two", []float64{4, 1, 3, 10}, 3.5},
		{"empty", nil, math.NaN()},
		{"a NaN", []float64{1, math.NaN(), 3}, math.NaN()},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := append([]float64(nil), c.in...)
			got := median(in)
			if got != c.want && !(math.IsNaN(got) && math.IsNaN(c.want)) {
				t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
			}
			for i := range in {
				if in[i] != c.in[i] && !math.IsNaN(in[i]) {
					t.Errorf("median reordered its argument: %v", in)
				}
			}
		})
	}
}

func TestPairedRatio(t *testing.T) {
	rounds := func(rps ...float64) []sample {
		s := make([]sample, len(rps))
		for i, r := range rps {
			s[i].rps = r
		}
		return s
	}
	// Round by round: 0.5, 0.8, 0.6. The ratio of the medians (500/1000)
	// would be 0.5; the median of the ratios is 0.6.
	got := pairedRatio(rounds(500, 400, 600), rounds(1000, 500, 1000))
	if got != 0.6 {
		t.Errorf("pairedRatio = %v, want 0.6", got)
	}
}

func TestNewSample(t *testing.T) {
	w := wrkResult{Requests: 2000, DurationUS: 2_000_000, TokenWraps: 1}
	w.Errors.Status, w.Errors.Timeout = 3, 1
	w.Latency.P50, w.Latency.P99, w.Latency.P999 = 100, 900, 2000
	before := counters{cpu: time.Second, runtimeCounters: runtimeCounters{mallocs: 1000, allocBytes: 1e6, roundTrips: 10, hasRoundTrips: true},
		redisCommands: 50, cpus: map[int]cpuTimes{0: {busy: 100, total: 200}, 1: {busy: 0, total: 200}}}
	after := counters{cpu: 2500 * time.Millisecond, runtimeCounters: runtimeCounters{mallocs: 401000, allocBytes: 41e6, roundTrips: 4010, hasRoundTrips: true},
		redisCommands: 6050, cpus: map[int]cpuTimes{0: {busy: 290, total: 400}, 1: {busy: 100, total: 400}}}
	s := newSample(w, before, after, nil, 64<<20)
	for name, c := range map[string][2]float64{
		"rps":              {s.rps, 1000},
		"cpuPerReq":        {s.cpuPerReq, 750},
		"serverCPU":        {s.serverCPU, 0.75},
		"allocsPerReq":     {s.allocsPerReq, 200},
		"bytesPerReq":      {s.bytesPerReq, 20000},
		"commandsPerReq":   {s.commandsPerReq, 3},
		"roundTripsPerReq": {s.roundTripsPerReq, 2},
		"cpuBusy[0]":       {s.cpuBusy[0], 0.95},
		"cpuBusy[1]":       {s.cpuBusy[1], 0.5},
		"p99":              {s.p99, 900},
	} {
		if c[0] != c[1] {
			t.Errorf("%s = %v, want %v", name, c[0], c[1])
		}
	}
	if s.errors != 4 || s.tokenWraps != 1 || s.rss != 64<<20 || !s.hasRoundTrips {
		t.Errorf("errors %d, token wraps %d, rss %d, round trips counted %v; want 4, 1, %d, true", s.errors, s.tokenWraps, s.rss, s.hasRoundTrips, 64<<20)
	}

	// Readings inside the run decide the round trips: the 3000 calls
	// there made 1000 requests reach the upstream, whatever the calls of
	// the requests cancelled at the end add to the whole run's.
	steady := []counters{
		{upstream: 500, runtimeCounters: runtimeCounters{roundTrips: 1000, byOp: map[string]float64{"limit": 500, "complete": 500}, hasRoundTrips: true}},
		{upstream: 1500, runtimeCounters: runtimeCounters{roundTrips: 4000, byOp: map[string]float64{"limit": 2500, "complete": 1500}, hasRoundTrips: true}},
	}
	if s := newSample(w, before, after, steady, 0); s.roundTripsPerReq != 3 || s.roundTripsByOp["limit"] != 2 || s.roundTripsByOp["complete"] != 1 || s.cpuPerReq != 750 {
		t.Errorf("with steady readings: round trips %v by op %v, CPU %v; want 3, map[complete:1 limit:2], 750 (the whole run's)", s.roundTripsPerReq, s.roundTripsByOp, s.cpuPerReq)
	}

	// Replays never reach the upstream: the requests served are those
	// passed on and those replayed.
	replays := []counters{
		{upstream: 10, runtimeCounters: runtimeCounters{roundTrips: 1000, replays: 490, hasRoundTrips: true}},
		{upstream: 10, runtimeCounters: runtimeCounters{roundTrips: 3000, replays: 1490, hasRoundTrips: true}},
	}
	if s := newSample(w, before, after, replays, 0); s.roundTripsPerReq != 2 {
		t.Errorf("replays: round trips %v per request, want 2", s.roundTripsPerReq)
	}
	b, a := before, after
	b.replays, a.replays = 100, 1100
	if s := newSample(w, b, a, nil, 0); s.cpuPerReq != 1500 {
		t.Errorf("replays: CPU %v per request, want 1500 (1.5 s over 1000 replays)", s.cpuPerReq)
	}

	before.hasRoundTrips = false
	if s := newSample(w, before, after, nil, 0); s.hasRoundTrips {
		t.Error("round trips counted though the first scrape had none")
	}
	if s := newSample(wrkResult{DurationUS: 1_000_000}, before, after, nil, 0); !math.IsNaN(s.cpuPerReq) || s.rps != 0 {
		t.Errorf("no request: rps %v, CPU per request %v; want 0 and NaN", s.rps, s.cpuPerReq)
	}
}

func TestSummarize(t *testing.T) {
	rounds := []sample{
		{rps: 100, cpuPerReq: 30, rss: 50, errors: 1, roundTripsPerReq: 2, hasRoundTrips: true, cpuBusy: map[int]float64{0: 1, 1: 0.2}},
		{rps: 300, cpuPerReq: 10, rss: 90, tokenWraps: 2, roundTripsPerReq: 4, hasRoundTrips: true, cpuBusy: map[int]float64{0: 0.9, 1: 0.4}},
		{rps: 200, cpuPerReq: 20, rss: 70, errors: 2, roundTripsPerReq: 3, hasRoundTrips: true, cpuBusy: map[int]float64{0: 0.8, 1: 0.3}},
	}
	bare := []sample{{rps: 200}, {rps: 300}, {rps: 400}}
	s := summarize(rounds, bare)
	if s.rps != 200 || s.cpuPerReq != 20 || s.roundTripsPerReq != 3 || s.cpuBusy[0] != 0.9 || s.cpuBusy[1] != 0.3 {
		t.Errorf("medians: rps %v, CPU %v, round trips %v, busy %v; want 200, 20, 3, map[0:0.9 1:0.3]", s.rps, s.cpuPerReq, s.roundTripsPerReq, s.cpuBusy)
	}
	if s.maxRSS != 90 || s.errors != 3 || s.tokenWraps != 2 {
		t.Errorf("max RSS %d, errors %d, token wraps %d; want 90, 3, 2", s.maxRSS, s.errors, s.tokenWraps)
	}
	if s.ratio != 0.5 {
		t.Errorf("ratio %v, want 0.5 (the median of 0.5, 1, 0.5)", s.ratio)
	}

	rounds[1].hasRoundTrips = false
	if s := summarize(rounds, nil); !math.IsNaN(s.roundTripsPerReq) || !math.IsNaN(s.ratio) {
		t.Errorf("round trips %v, ratio %v; want NaN for both (a round without the counter, no bare target)", s.roundTripsPerReq, s.ratio)
	}
}

func TestRoundOrder(t *testing.T) {
	for _, c := range []struct {
		round int
		want  []int
	}{
		{0, []int{0, 1, 2}}, // warm-up
		{1, []int{0, 1, 2}},
		{2, []int{1, 2, 0}},
		{3, []int{2, 0, 1}},
		{4, []int{0, 1, 2}},
	} {
		got := roundOrder(3, c.round)
		if len(got) != len(c.want) {
			t.Fatalf("round %d: %v, want %v", c.round, got, c.want)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("round %d: %v, want %v", c.round, got, c.want)
				break
			}
		}
	}
}

func TestPerOp(t *testing.T) {
	per := func(d float64) float64 { return d / 10 }
	got := perOp(map[string]float64{"limit": 50, "get": 3, "acquire": 7}, map[string]float64{"limit": 30, "get": 3}, per)
	want := map[string]float64{"limit": 2, "acquire": 0.7}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("perOp = %v, want %v (operations that did not change left out)", got, want)
	}
	if perOp(nil, nil, per) != nil {
		t.Error("perOp of a server without store calls is not nil")
	}
}
