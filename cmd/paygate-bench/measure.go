package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// What a server has done so far, read before and after each wrk run: its
// CPU time from /proc, the Go runtime's allocation counters and paygate's
// store round trips from its admin API's /metrics, and the commands Redis
// has run.

// clockTick is the unit of /proc/PID/stat's times: USER_HZ, which
// sysconf(_SC_CLK_TCK) reports, and which is 100 on every architecture Go
// runs Linux on.
const clockTick = time.Second / 100

// Metric names read from /metrics.
const (
	metricMallocs    = "go_memstats_mallocs_total"
	metricAllocBytes = "go_memstats_alloc_bytes_total"
	// metricStoreCalls is paygate's histogram of store calls by operation:
	// on Redis each call is one round trip (a script, a command, or one
	// pipeline), the health check's pings (op "ping") aside.
	metricStoreCalls = "paygate_store_call_duration_seconds"
	// metricIdempotency counts idempotent requests by outcome; outcome
	// "replayed" is a request answered with a stored response, which never
	// reaches the upstream.
	metricIdempotency = "paygate_idempotency_requests_total"
)

// counters are a server's cumulative counters at one moment.
type counters struct {
	// cpu is the process's user and system time, every thread's.
	cpu time.Duration
	// cpus are the machine's CPUs' times, by CPU number: whether the
	// server's CPU ran anything else, and how busy the load side was.
	cpus map[int]cpuTimes
	runtimeCounters
	// redisCommands is what Redis has run for everyone (see commandCalls).
	redisCommands int64
	// upstream is how many requests the upstream has answered, read with
	// the CPU time.
	upstream int64
}

// served is how many requests the server has answered whole: passed on to
// the upstream, or replayed.
func (c counters) served() float64 { return float64(c.upstream) + c.replays }

// runtimeCounters are what a server's /metrics tells.
type runtimeCounters struct {
	mallocs, allocBytes float64
	// roundTrips is paygate's store round trips (every series of
	// metricStoreCalls), when the server exposes them (hasRoundTrips).
	roundTrips    float64
	hasRoundTrips bool
	// byOp are the round trips by store operation.
	byOp map[string]float64
	// replays are the requests answered with a stored response
	// (metricIdempotency).
	replays float64
}

// parseStatCPU returns utime+stime from the text of /proc/PID/stat.
func parseStatCPU(stat string) (time.Duration, error) {
	// The command name, field 2, is in parentheses and may hold anything,
	// parentheses and blanks included: the fields after it are counted
	// from its last ')'.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat %q: no command name", stat)
	}
	fields := strings.Fields(stat[i+1:])
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc stat %q: %d fields after the command name, want at least 13", stat, len(fields))
	}
	var ticks uint64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: utime or stime %q: %w", f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// cpuTimes are a CPU's busy time and its total time, in ticks.
type cpuTimes struct{ busy, total uint64 }

// parseProcStat returns each CPU's times from the text of /proc/stat.
func parseProcStat(text string) (map[int]cpuTimes, error) {
	cpus := map[int]cpuTimes{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		// cpu0 user nice system idle iowait irq softirq steal guest guest_nice
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		num, ok := strings.CutPrefix(f[0], "cpu")
		if !ok || num == "" {
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil || len(f) < 9 {
			return nil, fmt.Errorf("/proc/stat line %q", sc.Text())
		}
		var t [8]uint64
		for i := range t {
			if t[i], err = strconv.ParseUint(f[i+1], 10, 64); err != nil {
				return nil, fmt.Errorf("/proc/stat line %q: %w", sc.Text(), err)
			}
		}
		// Guest time is counted in user time already.
		busy := t[0] + t[1] + t[2] + t[5] + t[6] + t[7]
		cpus[n] = cpuTimes{busy: busy, total: busy + t[3] + t[4]}
	}
	if len(cpus) == 0 {
		return nil, fmt.Errorf("/proc/stat: no cpuN line")
	}
	return cpus, sc.Err()
}

// busyShare is how much of its time each CPU was busy between two
// readings of /proc/stat, by CPU number.
func busyShare(before, after map[int]cpuTimes) map[int]float64 {
	share := map[int]float64{}
	for n, a := range after {
		b, ok := before[n]
		if !ok || a.total <= b.total {
			continue
		}
		share[n] = float64(a.busy-b.busy) / float64(a.total-b.total)
	}
	return share
}

// parseVmRSS returns the resident set size, in bytes, from the text of
// /proc/PID/status.
func parseVmRSS(status string) (int64, error) {
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("/proc status: VmRSS %q, want <n> kB", rest)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc status: VmRSS %q: %w", rest, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("/proc status: no VmRSS line")
}

// metricFamilies is one scrape of /metrics, by family name.
type metricFamilies map[string]*dto.MetricFamily

// parseMetrics reads the Prometheus text format.
func parseMetrics(r io.Reader) (metricFamilies, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	m, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("/metrics: %w", err)
	}
	return m, nil
}

// runtimeCounters returns the counters of the scrape. The allocation
// counters must be there; the round trips may not (stock Caddy, or a
// paygate that does not count them).
func (m metricFamilies) runtimeCounters() (runtimeCounters, error) {
	var c runtimeCounters
	for name, dst := range map[string]*float64{metricMallocs: &c.mallocs, metricAllocBytes: &c.allocBytes} {
		f, ok := m[name]
		if !ok {
			return runtimeCounters{}, fmt.Errorf("/metrics: no %s", name)
		}
		*dst = sum(f)
	}
	if f, ok := m[metricStoreCalls]; ok {
		c.byOp = map[string]float64{}
		for _, s := range f.GetMetric() {
			if op := labelValue(s, "op"); op != "ping" {
				n := float64(s.GetHistogram().GetSampleCount())
				c.roundTrips += n
				c.byOp[op] += n
			}
		}
		c.hasRoundTrips = true
	}
	for _, s := range m[metricIdempotency].GetMetric() {
		if labelValue(s, "outcome") == "replayed" {
			c.replays += value(s)
		}
	}
	return c, nil
}

// has reports whether a series of the family name has the value want.
func (m metricFamilies) has(name string, want float64) bool {
	for _, s := range m[name].GetMetric() {
		if value(s) == want {
			return true
		}
	}
	return false
}

// sum adds up the values of every series of a counter, gauge or untyped
// family.
func sum(f *dto.MetricFamily) float64 {
	var total float64
	for _, m := range f.GetMetric() {
		total += value(m)
	}
	return total
}

// value is the value of a counter, gauge or untyped series; 0 for others.
func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}

// commandCalls adds up the calls of every command in the text of Redis's
// INFO commandstats, leaving out INFO itself: paygate never sends it, and
// the harness's own calls would be counted otherwise. Redis counts the
// commands a Lua script runs as well as the call that runs the script.
func commandCalls(info string) (int64, error) {
	var total int64
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		// cmdstat_get:calls=2,usec=10,usec_per_call=5.00,rejected_calls=0,failed_calls=0
		line := strings.TrimSpace(sc.Text())
		name, stats, ok := strings.Cut(line, ":")
		cmd, isStat := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isStat {
			continue
		}
		calls := ""
		for _, kv := range strings.Split(stats, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				calls = v
			}
		}
		n, err := strconv.ParseInt(calls, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("commandstats line %q: no calls count", line)
		}
		if cmd != "info" {
			total += n
		}
	}
	return total, sc.Err()
}

// labelValue is the value of m's label name, or "".
func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
