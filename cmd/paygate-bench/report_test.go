package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseCPUInfo(t *testing.T) {
	text := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
	model, cpus := parseCPUInfo(text)
	if model != "AMD EPYC 7B13" || cpus != 2 {
		t.Errorf("parseCPUInfo = %q, %d; want AMD EPYC 7B13, 2", model, cpus)
	}
	if model, cpus := parseCPUInfo("processor\t: 0\n"); model != "unknown" || cpus != 1 {
		t.Errorf("without a model name: %q, %d; want unknown, 1", model, cpus)
	}
}

func TestField(t *testing.T) {
	status := "Name:\tpaygate-bench\nCpus_allowed:\t2\nCpus_allowed_list:\t1\n"
	if got := field(status, "Cpus_allowed_list"); got != "1" {
		t.Errorf("field = %q, want 1", got)
	}
	if got := field(status, "VmRSS"); got != "unknown" {
		t.Errorf("absent field = %q, want unknown", got)
	}
}

func TestReport(t *testing.T) {
	r := &report{
		date:         time.Date(2025, 1, 2, 3, 4, 0, 0, time.UTC),
		machine:      machine{cpuModel: "Test CPU", cpus: 2, kernel: "6.1", harnessCPUs: "1"},
		command:      "paygate-bench -rounds 2",
		opts:         options{rounds: 2, duration: 3 * time.Second, connections: 32},
		specs:        selectTargets([]string{targetBare, targetGet, targetGetNoLog}),
		caddyVersion: "v2.11.9",
		goVersion:    "go1.26.8",
		rounds: map[string][]sample{
			targetBare:     {{rps: 8000, cpuPerReq: 110, roundTripsPerReq: math.NaN()}, {rps: 8200, cpuPerReq: 112, roundTripsPerReq: math.NaN()}},
			targetGet:      {{rps: 4000, cpuPerReq: 240, allocsPerReq: 700, roundTripsPerReq: 5, hasRoundTrips: true}, {rps: 4200, cpuPerReq: 250, allocsPerReq: 700, roundTripsPerReq: 5, hasRoundTrips: true}},
			targetGetNoLog: {{rps: 6000, cpuPerReq: 160, allocsPerReq: 400, roundTripsPerReq: 5, hasRoundTrips: true}, {rps: 5740, cpuPerReq: 170, allocsPerReq: 400, roundTripsPerReq: 5, hasRoundTrips: true}},
		},
		orders: [][]string{{targetBare, targetGet, targetGetNoLog}, {targetGet, targetGetNoLog, targetBare}},
	}
	r.finish()
	if !r.failed() {
		t.Error("failed() = false, though the GET ratio and round trips miss their targets")
	}
	md := r.markdown()
	for _, want := range []string{
		"Date: 2025-01-02 03:04 UTC",
		"Test CPU, 2 CPUs, Linux 6.1; go1.26.8; Caddy v2.11.9",
		"`paygate-bench -rounds 2`",
		"| (b) GET pipeline, one token `get` | 4100 | 0.51 |",
		"| req/s get / bare (median of per-round ratios) | 0.51 | ≥ 0.75 | FAIL |",
		"| Redis round trips per GET (get) | 5.00 | ≤ 2 | FAIL |",
		"| `get` | 4000 | 4200 |",
		"2. get, get-logs-off, bare",
		"The access and decision logs cost (b) 80 µs of CPU a request (33% of it), 300 allocations and 0 bytes (`get` against `get-logs-off`); without them (b) is 0.72 of (a).",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
}

func TestCommandLine(t *testing.T) {
	args := []string{"bin/paygate-bench", "-rounds", "2", "-out", "my report.md", "-targets", "it's"}
	pinned := machine{onlineCPUs: "0-1", harnessCPUs: "1"}
	if got, want := commandLine(args, pinned), `taskset -c 1 bin/paygate-bench -rounds 2 -out 'my report.md' -targets 'it'\''s'`; got != want {
		t.Errorf("commandLine = %s, want %s", got, want)
	}
	free := machine{onlineCPUs: "0-1", harnessCPUs: "0-1"}
	if got, want := commandLine(args[:3], free), "bin/paygate-bench -rounds 2"; got != want {
		t.Errorf("commandLine = %s, want %s", got, want)
	}
}
