package main

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with blanks and parentheses, as a process may choose.
	stat := "4242 (pay gate) (x)) S 1 4242 4242 0 -1 4194560 2714 0 0 0 1234 567 0 0 20 0 9 0 4800 1870000000 19000 18446744073709551615 1 1 0 0 0 0 0 0 2143420159 0 0 0 17 0 0 0 0 0 0\n"
	got, err := parseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := (1234 + 567) * 10 * time.Millisecond; got != want {
		t.Errorf("parseStatCPU = %v, want %v", got, want)
	}
	for _, bad := range []string{"", "4242 (paygate) S 1 2 3", "4242 (paygate) S 1 4242 4242 0 -1 4194560 2714 0 0 0 x 567 0"} {
		if _, err := parseStatCPU(bad); err == nil {
			t.Errorf("parseStatCPU(%q): no error", bad)
		}
	}
}

func TestParseVmRSS(t *testing.T) {
	status := "Name:\tpaygate\nVmPeak:\t 2000000 kB\nVmRSS:\t   76280 kB\nRssAnon:\t   40000 kB\n"
	got, err := parseVmRSS(status)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(76280 * 1024); got != want {
		t.Errorf("parseVmRSS = %d, want %d", got, want)
	}
	for _, bad := range []string{"Name:\tpaygate\n", "VmRSS:\t 12 MB\n", "VmRSS:\t x kB\n"} {
		if _, err := parseVmRSS(bad); err == nil {
			t.Errorf("parseVmRSS(%q): no error", bad)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	before := "cpu  300 0 100 900 10 0 0 0 0 0\ncpu0 200 0 50 400 5 0 0 0 0 0\ncpu1 100 0 50 500 5 0 0 0 0 0\nintr 1 2 3\nctxt 99\n"
	after := "cpu  500 0 200 1100 10 0 0 0 0 0\ncpu0 370 0 75 405 5 3 2 0 0 0\ncpu1 130 0 125 695 5 0 0 0 0 0\nintr 1 2 3\n"
	b, err := parseProcStat(before)
	if err != nil {
		t.Fatal(err)
	}
	a, err := parseProcStat(after)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 2 || a[0] != (cpuTimes{busy: 450, total: 860}) {
		t.Errorf("parseProcStat = %v, want CPUs 0 and 1 with CPU 0 busy 450 of 860", a)
	}
	share := busyShare(b, a)
	// CPU 0: 200 busy of 205 ticks; CPU 1: 105 busy of 300.
	if share[0] != 200.0/205 || share[1] != 105.0/300 {
		t.Errorf("busyShare = %v, want map[0:%v 1:%v]", share, 200.0/205, 105.0/300)
	}
	if _, err := parseProcStat("intr 1 2\n"); err == nil {
		t.Error("no CPU line: no error")
	}
	if _, err := parseProcStat("cpu0 1 2 x 4 5 6 7 8\n"); err == nil {
		t.Error("a bad number: no error")
	}
}

const metricsText = `# HELP go_memstats_mallocs_total Total number of heap objects allocated, both live and gc-ed.
# TYPE go_memstats_mallocs_total counter
go_memstats_mallocs_total 123456
# HELP go_memstats_alloc_bytes_total Total number of bytes allocated in heap until now.
# TYPE go_memstats_alloc_bytes_total counter
go_memstats_alloc_bytes_total 9.87654321e+08
# HELP paygate_store_call_duration_seconds Duration of store calls by operation.
# TYPE paygate_store_call_duration_seconds histogram
paygate_store_call_duration_seconds_bucket{op="limit",le="0.001"} 30
paygate_store_call_duration_seconds_bucket{op="limit",le="+Inf"} 30
paygate_store_call_duration_seconds_sum{op="limit"} 0.01
paygate_store_call_duration_seconds_count{op="limit"} 30
paygate_store_call_duration_seconds_bucket{op="get",le="0.001"} 12
paygate_store_call_duration_seconds_bucket{op="get",le="+Inf"} 12
paygate_store_call_duration_seconds_sum{op="get"} 0.01
paygate_store_call_duration_seconds_count{op="get"} 12
paygate_store_call_duration_seconds_bucket{op="ping",le="0.001"} 7
paygate_store_call_duration_seconds_bucket{op="ping",le="+Inf"} 7
paygate_store_call_duration_seconds_sum{op="ping"} 0.01
paygate_store_call_duration_seconds_count{op="ping"} 7
# HELP paygate_idempotency_requests_total Requests on idempotent routes, by outcome.
# TYPE paygate_idempotency_requests_total counter
paygate_idempotency_requests_total{outcome="replayed"} 9
paygate_idempotency_requests_total{outcome="stored"} 5
# HELP paygate_policy_bundle_revision_info The active bundle.
# TYPE paygate_policy_bundle_revision_info gauge
paygate_policy_bundle_revision_info{revision="old"} 0
paygate_policy_bundle_revision_info{revision="sha256:abc"} 1
`

func TestRuntimeCounters(t *testing.T) {
	m, err := parseMetrics(strings.NewReader(metricsText))
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.runtimeCounters()
	if err != nil {
		t.Fatal(err)
	}
	want := runtimeCounters{mallocs: 123456, allocBytes: 987654321, roundTrips: 42, hasRoundTrips: true,
		byOp: map[string]float64{"limit": 30, "get": 12}, replays: 9}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("runtimeCounters = %+v, want %+v", c, want)
	}
	if !m.has(bundleRevisionMetric, 1) || m.has(bundleRevisionMetric, 2) || m.has("absent", 0) {
		t.Error("has: wrong answer for the bundle revision or an absent family")
	}

	// Stock Caddy: no round trips.
	noRT := metricsText[:strings.Index(metricsText, "# HELP paygate_store")]
	if m, err = parseMetrics(strings.NewReader(noRT)); err != nil {
		t.Fatal(err)
	}
	if c, err := m.runtimeCounters(); err != nil || c.hasRoundTrips {
		t.Errorf("without %s: %+v, %v; want no round trips and no error", metricStoreCalls, c, err)
	}

	// The allocation counters are required.
	noMallocs := metricsText[strings.Index(metricsText, "# HELP go_memstats_alloc"):]
	if m, err = parseMetrics(strings.NewReader(noMallocs)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.runtimeCounters(); err == nil {
		t.Errorf("without %s: no error", metricMallocs)
	}
	if _, err := parseMetrics(strings.NewReader("go_memstats_mallocs_total{ 1\n")); err == nil {
		t.Error("bad text: no error")
	}
}

func TestCommandCalls(t *testing.T) {
	info := "# Commandstats\r\n" +
		"cmdstat_evalsha:calls=100,usec=900,usec_per_call=9.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_get:calls=40,usec=40,usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_info:calls=7,usec=70,usec_per_call=10.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_client|setinfo:calls=2,usec=2,usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\n"
	got, err := commandCalls(info)
	if err != nil {
		t.Fatal(err)
	}
	if got != 142 {
		t.Errorf("commandCalls = %d, want 142 (INFO left out)", got)
	}
	if _, err := commandCalls("cmdstat_get:usec=40\r\n"); err == nil {
		t.Error("a line without calls: no error")
	}
}
