package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// wrkScript is bench.lua: the loads and the result line.
//
//go:embed bench.lua
var wrkScript []byte

// loadMode is what wrk sends to a target.
type loadMode int

const (
	// loadGet: GET benchPath with one token, repeated.
	loadGet loadMode = iota
	// loadNewTokens: GET benchPath with a token never sent before on each
	// request.
	loadNewTokens
	// loadPost: POST /v1/payment_intents with benchOrder, one token and a new
	// Idempotency-Key on each request.
	loadPost
	// loadReplay: the same POST with checkKey, which the target's check
	// completed, on every request: each one a replay (a client's retry).
	loadReplay
)

// posts reports whether the load sends POSTs.
func (m loadMode) posts() bool { return m == loadPost || m == loadReplay }

const (
	// benchIntent is the payment intent every GET reads; benchUser owns it.
	benchIntent = "pi_bench"
	// benchPath is what every GET asks for.
	benchPath = "/v1/payment_intents/" + benchIntent
	// checkKey is the Idempotency-Key of the POST a target's check sends.
	checkKey = "paygate-bench-check"
	// postPath is where every POST goes.
	postPath = "/v1/payment_intents"
	// benchOrder is every POST's body: a valid creation request.
	benchOrder = `{"items":[{"sku":"standard_clean","quantity":2},{"sku":"oven_addon","quantity":1}],"currency":"usd","reference":"bench"}`
	// wrkTimeout is wrk's --timeout: a response slower than this is an error.
	wrkTimeout = "5s"
	// resultMarker starts the line bench.lua's done() prints.
	resultMarker = "paygate-bench-result "
)

// wrkResult is one wrk run, as bench.lua reports it.
type wrkResult struct {
	Requests   int64 `json:"requests"`
	DurationUS int64 `json:"duration_us"`
	Errors     struct {
		Connect int64 `json:"connect"`
		Read    int64 `json:"read"`
		Write   int64 `json:"write"`
		// Status counts the non-2xx responses.
		Status  int64 `json:"status"`
		Timeout int64 `json:"timeout"`
	} `json:"errors"`
	Latency struct {
		P50  float64 `json:"p50"`
		P99  float64 `json:"p99"`
		P999 float64 `json:"p999"`
	} `json:"latency_us"`
	// TokenWraps counts the times a token file ran out and was sent again.
	TokenWraps int64 `json:"token_wraps"`
}

// errorCount is every kind of error together.
func (r wrkResult) errorCount() int64 {
	e := r.Errors
	return e.Connect + e.Read + e.Write + e.Status + e.Timeout
}

// parseWrkOutput finds bench.lua's result line in wrk's output.
func parseWrkOutput(out []byte) (wrkResult, error) {
	var r wrkResult
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		text, ok := strings.CutPrefix(sc.Text(), resultMarker)
		if !ok {
			continue
		}
		found++
		dec := json.NewDecoder(strings.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return r, fmt.Errorf("wrk result %q: %w", text, err)
		}
	}
	switch {
	case sc.Err() != nil:
		return r, sc.Err()
	case found != 1:
		return r, fmt.Errorf("want one %q line in wrk's output, found %d:\n%s", strings.TrimSpace(resultMarker), found, out)
	case r.DurationUS <= 0:
		return r, fmt.Errorf("wrk ran for %dµs", r.DurationUS)
	}
	return r, nil
}

// wrkRun is one wrk invocation.
type wrkRun struct {
	script      string
	connections int
	duration    time.Duration
	url         string
	// args are bench.lua's arguments.
	args []string
}

// run runs wrk with one thread, which runs where the harness runs.
func (w wrkRun) run(ctx context.Context) (wrkResult, error) {
	args := append([]string{"-t1", "-c", strconv.Itoa(w.connections),
		"-d", strconv.Itoa(int(w.duration/time.Second)) + "s", "--timeout", wrkTimeout,
		"-s", w.script, w.url, "--"}, w.args...)
	out, err := output(command(ctx, "wrk", args...))
	if err != nil {
		return wrkResult{}, err
	}
	return parseWrkOutput(out)
}
