package main

import (
	"math"
	"slices"
	"time"
)

// sample is one target's measurements in one round. A per-request value is
// NaN when no request completed.
type sample struct {
	// rps is completed requests per second.
	rps float64
	// Latency percentiles, in microseconds.
	p50, p99, p999 float64
	errors         int64
	tokenWraps     int64
	// cpuPerReq is the server's CPU time per request, in microseconds.
	cpuPerReq float64
	// serverCPU is the server's CPU time over the run's wall time.
	serverCPU float64
	// cpuBusy is each CPU's busy share during the run, by CPU number.
	cpuBusy          map[int]float64
	allocsPerReq     float64
	bytesPerReq      float64
	commandsPerReq   float64
	roundTripsPerReq float64
	hasRoundTrips    bool
	// roundTripsByOp are the round trips per request by store operation.
	roundTripsByOp map[string]float64
	// rss is the server's resident set size after the round, in bytes.
	rss int64
}

// newSample makes a round's sample from wrk's result, the server's counters
// before and after the run, two readings inside it (steady, for the store's
// round trips; before and after serve when there are none), and its RSS
// after it.
func newSample(w wrkResult, before, after counters, steady []counters, rss int64) sample {
	n := float64(w.Requests)
	// Per request of the server: those it passed on or replayed, which
	// includes the ones still in flight when wrk stopped (their calls and
	// CPU count in the deltas too); wrk's count where it served none.
	if served := after.served() - before.served(); served > 0 {
		n = served
	}
	per := func(delta float64) float64 {
		if n == 0 {
			return math.NaN()
		}
		return delta / n
	}
	rtFrom, rtTo, rtPer := before, after, per
	if len(steady) == 2 {
		rtFrom, rtTo = steady[0], steady[1]
		served := rtTo.served() - rtFrom.served()
		rtPer = func(delta float64) float64 {
			if served <= 0 {
				return math.NaN()
			}
			return delta / served
		}
	}
	cpu := after.cpu - before.cpu
	wall := time.Duration(w.DurationUS) * time.Microsecond
	return sample{
		rps:              float64(w.Requests) / wall.Seconds(),
		p50:              w.Latency.P50,
		p99:              w.Latency.P99,
		p999:             w.Latency.P999,
		errors:           w.errorCount(),
		tokenWraps:       w.TokenWraps,
		cpuPerReq:        per(float64(cpu) / float64(time.Microsecond)),
		serverCPU:        float64(cpu) / float64(wall),
		cpuBusy:          busyShare(before.cpus, after.cpus),
		allocsPerReq:     per(after.mallocs - before.mallocs),
		bytesPerReq:      per(after.allocBytes - before.allocBytes),
		commandsPerReq:   per(float64(after.redisCommands - before.redisCommands)),
		roundTripsPerReq: rtPer(rtTo.roundTrips - rtFrom.roundTrips),
		hasRoundTrips:    rtFrom.hasRoundTrips && rtTo.hasRoundTrips,
		roundTripsByOp:   perOp(rtTo.byOp, rtFrom.byOp, rtPer),
		rss:              rss,
	}
}

// summary is a target's rounds taken together: medians, the largest RSS and
// the totals of errors and token wraps.
type summary struct {
	rps, p50, p99, p999 float64
	cpuPerReq           float64
	serverCPU           float64
	// cpuBusy is each CPU's median busy share, by CPU number.
	cpuBusy        map[int]float64
	allocsPerReq   float64
	bytesPerReq    float64
	commandsPerReq float64
	// roundTripsPerReq is NaN unless every round counted them.
	roundTripsPerReq float64
	// roundTripsByOp are the medians by store operation.
	roundTripsByOp map[string]float64
	maxRSS         int64
	errors         int64
	tokenWraps     int64
	// ratio is the median over rounds of rps over the bare target's rps in
	// the same round; NaN without the bare target.
	ratio float64
}

// summarize takes a target's rounds together; bare, when not nil, holds the
// bare target's rounds, in the same order, for the ratio.
func summarize(rounds, bare []sample) summary {
	med := func(f func(sample) float64) float64 {
		xs := make([]float64, len(rounds))
		for i, s := range rounds {
			xs[i] = f(s)
		}
		return median(xs)
	}
	s := summary{
		rps:              med(func(s sample) float64 { return s.rps }),
		p50:              med(func(s sample) float64 { return s.p50 }),
		p99:              med(func(s sample) float64 { return s.p99 }),
		p999:             med(func(s sample) float64 { return s.p999 }),
		cpuPerReq:        med(func(s sample) float64 { return s.cpuPerReq }),
		serverCPU:        med(func(s sample) float64 { return s.serverCPU }),
		cpuBusy:          map[int]float64{},
		allocsPerReq:     med(func(s sample) float64 { return s.allocsPerReq }),
		bytesPerReq:      med(func(s sample) float64 { return s.bytesPerReq }),
		commandsPerReq:   med(func(s sample) float64 { return s.commandsPerReq }),
		roundTripsPerReq: med(func(s sample) float64 { return s.roundTripsPerReq }),
		ratio:            math.NaN(),
	}
	for _, r := range rounds {
		for n := range r.cpuBusy {
			s.cpuBusy[n] = math.NaN() // computed below
		}
	}
	for n := range s.cpuBusy {
		s.cpuBusy[n] = med(func(s sample) float64 {
			if v, ok := s.cpuBusy[n]; ok {
				return v
			}
			return math.NaN()
		})
	}
	for _, r := range rounds {
		for op := range r.roundTripsByOp {
			if s.roundTripsByOp == nil {
				s.roundTripsByOp = map[string]float64{}
			}
			s.roundTripsByOp[op] = med(func(s sample) float64 { return s.roundTripsByOp[op] })
		}
	}
	for _, r := range rounds {
		s.maxRSS = max(s.maxRSS, r.rss)
		s.errors += r.errors
		s.tokenWraps += r.tokenWraps
		if !r.hasRoundTrips {
			s.roundTripsPerReq = math.NaN()
		}
	}
	if bare != nil {
		s.ratio = pairedRatio(rounds, bare)
	}
	return s
}

// pairedRatio is the median over rounds of a's rps over b's in the same
// round: a round where the machine was slower for everyone moves both.
func pairedRatio(a, b []sample) float64 {
	ratios := make([]float64, 0, len(a))
	for i := range min(len(a), len(b)) {
		ratios = append(ratios, a[i].rps/b[i].rps)
	}
	return median(ratios)
}

// median is the middle value of xs (the mean of the two middle ones for an
// even count); NaN when xs is empty or holds a NaN.
func median(xs []float64) float64 {
	if len(xs) == 0 || slices.ContainsFunc(xs, math.IsNaN) {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	mid := len(s) / 2
	if len(s)%2 == 1 {
		return s[mid]
	}
	return (s[mid-1] + s[mid]) / 2
}

// perOp is the change of each operation's count from before to after, per
// request; nil when the server counts none.
func perOp(after, before map[string]float64, per func(float64) float64) map[string]float64 {
	if after == nil {
		return nil
	}
	out := make(map[string]float64, len(after))
	for op, n := range after {
		if d := n - before[op]; d > 0 {
			out[op] = per(d)
		}
	}
	return out
}
