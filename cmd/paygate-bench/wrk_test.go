package main

import (
	"regexp"
	"strings"
	"testing"
)

const wrkOutput = `Running 3s test @ https://127.0.0.1:40001/v1/payment_intents/pi_bench
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.12ms    1.03ms  21.20ms   90.00%
    Req/Sec     7.80k   300.00     8.10k    70.00%
  23400 requests in 3.00s, 5.10MB read
Requests/sec:   7800.00
Transfer/sec:      1.70MB
paygate-bench-result {"requests":23400,"duration_us":3000120,"errors":{"connect":0,"read":1,"write":0,"status":2,"timeout":3},"latency_us":{"p50":3900,"p99":9100,"p999":15000},"token_wraps":0}
`

func TestParseWrkOutput(t *testing.T) {
	r, err := parseWrkOutput([]byte(wrkOutput))
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 23400 || r.DurationUS != 3000120 || r.Latency.P50 != 3900 || r.Latency.P99 != 9100 || r.Latency.P999 != 15000 {
		t.Errorf("parsed %+v", r)
	}
	if got := r.errorCount(); got != 6 {
		t.Errorf("errorCount() = %d, want 6", got)
	}
}

func TestParseWrkOutputErrors(t *testing.T) {
	line := strings.TrimSpace(wrkOutput[strings.Index(wrkOutput, resultMarker):])
	for name, out := range map[string]string{
		"no result line":   "Requests/sec: 10\n",
		"two result lines": line + "\n" + line + "\n",
		"not JSON":         resultMarker + "{requests: 1}\n",
		"an unknown field": resultMarker + `{"requests":1,"duration_us":1,"bogus":1}` + "\n",
		"no duration":      resultMarker + `{"requests":1}` + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			if r, err := parseWrkOutput([]byte(out)); err == nil {
				t.Errorf("no error; parsed %+v", r)
			}
		})
	}
}

// TestScriptResultLine fills the format of bench.lua's result line with
// numbers, as done() does, and parses it: the script and wrkResult must
// agree on every field.
func TestScriptResultLine(t *testing.T) {
	script := string(wrkScript)
	start := strings.Index(script, "'"+resultMarker)
	end := strings.Index(script[start:], "\\n'")
	if start < 0 || end < 0 {
		t.Fatalf("no result format in bench.lua")
	}
	format := script[start : start+end]
	// Join the Lua string pieces ('...' .. '...') into one.
	format = regexp.MustCompile(`'\s*\.\.\s*'`).ReplaceAllString(format, "")
	format = strings.TrimPrefix(format, "'")
	line := regexp.MustCompile(`%(d|\.0f)`).ReplaceAllString(format, "7")
	r, err := parseWrkOutput([]byte(line + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := r.Errors
	for name, v := range map[string]float64{
		"requests": float64(r.Requests), "duration_us": float64(r.DurationUS),
		"connect": float64(e.Connect), "read": float64(e.Read), "write": float64(e.Write), "status": float64(e.Status), "timeout": float64(e.Timeout),
		"p50": r.Latency.P50, "p99": r.Latency.P99, "p999": r.Latency.P999, "token_wraps": float64(r.TokenWraps),
	} {
		if v != 7 {
			t.Errorf("%s = %v: the script does not write it", name, v)
		}
	}
}
