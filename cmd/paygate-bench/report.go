package main

import (
	"bufio"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"time"
)

// report is a run's results and how they were obtained.
type report struct {
	date         time.Time
	machine      machine
	command      string
	opts         options
	specs        []targetSpec
	caddyVersion string
	// goVersion is the Go that built the paygate binary.
	goVersion string
	// minting says how the new-token pools were made; empty without them.
	minting string
	// rounds are each target's measured rounds, in order.
	rounds map[string][]sample
	// orders are the targets' order in each measured round.
	orders [][]string

	// Set by finish.
	sums   map[string]summary
	checks []check
}

// finish summarizes the rounds and evaluates the checks.
func (r *report) finish() {
	r.sums = map[string]summary{}
	for _, s := range r.specs {
		r.sums[s.name] = summarize(r.rounds[s.name], r.rounds[targetBare])
	}
	r.checks = evaluate(r.sums)
}

// failed reports whether a check failed.
func (r *report) failed() bool {
	for _, c := range r.checks {
		if c.result == checkFail {
			return true
		}
	}
	return false
}

// markdown is the report as markdown.
func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	o := r.opts
	p("# paygate side-by-side benchmark\n\n")
	p("- Date: %s\n", r.date.Format("2006-01-02 15:04 MST"))
	p("- Machine: %s, %d CPUs, Linux %s; %s; Caddy %s (paygate and stock Caddy)\n",
		r.machine.cpuModel, r.machine.cpus, r.machine.kernel, r.goVersion, r.caddyVersion)
	p("- Command: `%s`\n", r.command)
	p("- Load: `wrk -t1 -c%d -d%s --timeout %s -s bench.lua` per target per round; one warm-up round, then %d measured rounds, every target once in each, interleaved, the order rotated each round\n",
		o.connections, o.duration, wrkTimeout, o.rounds)
	p("- Pinning: each server under test on CPU %s (`taskset -c %s`), in a process of its own; the harness, wrk, the upstream and Redis on CPU %s\n",
		serverCPU, serverCPU, r.machine.harnessCPUs)
	if r.minting != "" {
		p("- Tokens: %s\n", r.minting)
	}
	p("\n")

	p("| target | req/s | ratio to (a) | p50 ms | p99 ms | p99.9 ms | CPU µs/req | server CPU %% | CPUs busy %% | allocs/req | bytes/req | Redis cmds/req | Redis round trips/req | max RSS MiB | errors |\n")
	p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, spec := range r.specs {
		s := r.sums[spec.name]
		errs := fmt.Sprint(s.errors)
		if s.tokenWraps > 0 {
			errs += fmt.Sprintf(" (tokens reused %d×)", s.tokenWraps)
		}
		p("| %s `%s` | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			spec.label, spec.name, num(s.rps, 0), num(s.ratio, 2),
			num(s.p50/1000, 2), num(s.p99/1000, 2), num(s.p999/1000, 2),
			num(s.cpuPerReq, 0), num(100*s.serverCPU, 0), busyList(s.cpuBusy),
			num(s.allocsPerReq, 0), num(s.bytesPerReq, 0),
			num(s.commandsPerReq, 2), num(s.roundTripsPerReq, 2),
			num(float64(s.maxRSS)/(1<<20), 0), errs)
	}
	p("\nStore round trips per request by operation (medians):\n\n")
	for _, spec := range r.specs {
		if ops := r.sums[spec.name].roundTripsByOp; len(ops) > 0 {
			parts := make([]string, 0, len(ops))
			for _, op := range slices.Sorted(maps.Keys(ops)) {
				parts = append(parts, fmt.Sprintf("%s %s", op, num(ops[op], 2)))
			}
			p("- `%s`: %s\n", spec.name, strings.Join(parts, ", "))
		}
	}
	if line := logsCost(r.sums); line != "" {
		p("\n%s\n", line)
	}
	p("\nNotes:\n\n")
	for _, note := range []string{
		"Medians over the measured rounds; the ratio to (a) is the median of the per-round ratios to (a) in the same round.",
		"CPU µs/req is the server process's user and system time (/proc/PID/stat, every thread) per completed request; server CPU % is that time over the run's wall time.",
		"CPUs busy % is each CPU's busy share during the run (/proc/stat), CPU 0 first: CPU 0 busier than the server means something else ran there, and the load side near 100% means the load generator may be the limit.",
		fmt.Sprintf("Allocations and bytes are the Go runtime's counters (`%s`, `%s` on the admin API's /metrics); RSS is VmRSS after each round.", metricMallocs, metricAllocBytes),
		"Redis commands come from `INFO commandstats` of the one Redis the targets share: it also counts the commands that Lua scripts run (so commands ≥ round trips), and the idle servers' health checks.",
		fmt.Sprintf("Round trips are the server's own count of store calls (the sample counts of `%s`, health-check pings aside; on Redis each call waits for one round trip: a script, a command or one pipeline, which concurrent requests' rate-limit calls may share), per request served (passed on to the upstream, or replayed from its stored response), counted from a second after wrk starts to a second before it stops (when the run is 3 s or longer), so that the calls of the requests wrk cancels as it stops do not count against the others; n/a where it is not exposed.", metricStoreCalls),
	} {
		p("- %s\n", note)
	}
	p("\n")

	p("## Targets\n\n| target | value | limit | result |\n|---|--:|--:|---|\n")
	for _, c := range r.checks {
		p("| %s | %s | %s | %s |\n", c.name, c.value, c.limit, c.result)
	}

	p("\n## Rounds (req/s)\n\n| target |")
	for i := range r.orders {
		p(" %d |", i+1)
	}
	p("\n|---|%s\n", strings.Repeat("--:|", len(r.orders)))
	for _, spec := range r.specs {
		p("| `%s` |", spec.name)
		for _, s := range r.rounds[spec.name] {
			p(" %s |", num(s.rps, 0))
		}
		p("\n")
	}
	p("\nOrder of each round:\n\n")
	for i, order := range r.orders {
		p("%d. %s\n", i+1, strings.Join(order, ", "))
	}
	return b.String()
}

// logsCost says what the access and decision logs cost (b), from the
// targets get and get-logs-off of the same run; "" unless both ran.
func logsCost(sums map[string]summary) string {
	on, okOn := sums[targetGet]
	off, okOff := sums[targetGetNoLog]
	if !okOn || !okOff {
		return ""
	}
	return fmt.Sprintf("The access and decision logs cost (b) %s µs of CPU a request (%s%% of it), %s allocations and %s bytes (`%s` against `%s`); without them (b) is %s of (a).",
		num(on.cpuPerReq-off.cpuPerReq, 0), num(100*(on.cpuPerReq-off.cpuPerReq)/on.cpuPerReq, 0),
		num(on.allocsPerReq-off.allocsPerReq, 0), num(on.bytesPerReq-off.bytesPerReq, 0),
		targetGet, targetGetNoLog, num(off.ratio, 2))
}

// busyList is each CPU's busy share, in percent, in CPU order: "98/61".
func busyList(busy map[int]float64) string {
	if len(busy) == 0 {
		return "n/a"
	}
	cpus := slices.Sorted(maps.Keys(busy))
	parts := make([]string, len(cpus))
	for i, n := range cpus {
		parts[i] = num(100*busy[n], 0)
	}
	return strings.Join(parts, "/")
}

// num formats v with prec decimals, or "n/a" for NaN.
func num(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

// commandLine is args as a shell would take them, after "taskset -c" when
// the harness runs on fewer CPUs than the machine has.
func commandLine(args []string, m machine) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = a
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~!") {
			quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	line := strings.Join(quoted, " ")
	if m.harnessCPUs != m.onlineCPUs {
		line = "taskset -c " + m.harnessCPUs + " " + line
	}
	return line
}

// machine describes where the benchmark ran.
type machine struct {
	cpuModel string
	cpus     int
	kernel   string
	// onlineCPUs are the machine's CPUs, harnessCPUs those the harness may
	// run on (its affinity), both as a list ("0-1").
	onlineCPUs, harnessCPUs string
}

// readMachine reads /proc and /sys; what it cannot read is "unknown".
func readMachine() machine {
	m := machine{cpuModel: "unknown", kernel: "unknown", onlineCPUs: "unknown", harnessCPUs: "unknown"}
	if text, err := os.ReadFile("/sys/devices/system/cpu/online"); err == nil {
		m.onlineCPUs = strings.TrimSpace(string(text))
	}
	if text, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.cpuModel, m.cpus = parseCPUInfo(string(text))
	}
	if text, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(text))
	}
	if text, err := os.ReadFile("/proc/self/status"); err == nil {
		m.harnessCPUs = field(string(text), "Cpus_allowed_list")
	}
	return m
}

// parseCPUInfo returns the CPU model and the number of processors from the
// text of /proc/cpuinfo.
func parseCPUInfo(text string) (string, int) {
	model, cpus := "unknown", 0
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		switch name = strings.TrimSpace(name); {
		case !ok:
		case name == "processor":
			cpus++
		case name == "model name" && model == "unknown":
			model = strings.TrimSpace(value)
		}
	}
	return model, cpus
}

// field is the value of the line "name:\tvalue" of a /proc status text, or
// "unknown".
func field(text, name string) string {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
