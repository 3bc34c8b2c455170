// Command paygate-bench is paygate's side-by-side load benchmark, run by
// "make bench" (issue #14). It starts a bare reverse_proxy site in paygate,
// the shipped pipeline (deploy/Caddyfile, with the payment handler replaced by
// a proxy) under four loads, and the same bare site in stock Caddy, each in
// a server process of its own pinned to CPU 0; then it loads them with wrk,
// interleaved round by round, and writes a markdown report with a PASS or
// FAIL for each of the targets. It exits non-zero when a target
// fails, after writing the report.
//
// The harness, and everything it starts apart from the servers under test
// (wrk, the upstream, Redis, the JWKS and bundle server), runs where it was
// started: "make bench" pins it to CPU 1. Only the token minting, before any
// measurement, uses every CPU.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// options are the command's flags.
type options struct {
	rounds      int
	duration    time.Duration
	connections int
	tokenRate   int
	out         string
	paygate     string
	caddy       string
	repo        string
	targets     []string
	// profile names a target whose CPU profile is taken at saturation
	// after the rounds, or is "".
	profile string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == mintCommand {
		if err := runMint(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "paygate-bench "+mintCommand+":", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(run(os.Args[1:]))
}

// run runs the benchmark and returns the exit code: 0 when every target
// passed, 1 when one failed, 2 when the benchmark could not run.
func run(args []string) int {
	opts, err := parseFlags(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "paygate-bench:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := benchmark(ctx, opts)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("interrupted: %w", err)
		}
		fmt.Fprintln(os.Stderr, "paygate-bench:", err)
		return 2
	}
	text := rep.markdown()
	if err := os.MkdirAll(filepath.Dir(opts.out), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "paygate-bench:", err)
		return 2
	}
	if err := os.WriteFile(opts.out, []byte(text), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "paygate-bench:", err)
		return 2
	}
	fmt.Print(text)
	fmt.Println("report written to", opts.out)
	if rep.failed() {
		return 1
	}
	return 0
}

// parseFlags reads the flags; paths are made absolute, since the servers run
// in directories of their own.
func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("paygate-bench", flag.ContinueOnError)
	fs.IntVar(&o.rounds, "rounds", 5, "measured rounds (after one warm-up round)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "wrk's duration per target per round")
	fs.IntVar(&o.connections, "connections", 32, "wrk's connections")
	fs.IntVar(&o.tokenRate, "token-rate", 8000, "req/s bound for the new-token targets: each of their rounds gets rate x duration new tokens")
	fs.StringVar(&o.out, "out", "bench/results/latest.md", "where to write the markdown report")
	fs.StringVar(&o.paygate, "paygate", "bin/paygate", "the paygate binary")
	fs.StringVar(&o.caddy, "caddy", "bin/caddy", "a stock Caddy binary of the same version")
	fs.StringVar(&o.repo, "repo", ".", "root of the paygate checkout (deploy/Caddyfile, policies, testdata)")
	targets := fs.String("targets", strings.Join(targetNames(), ","), "comma-separated targets to run")
	fs.StringVar(&o.profile, "profile", "", "after the rounds, load this target once more and write its CPU and allocation profiles (Go pprof) beside -out as cpu-<target>.pprof and allocs-<target>.pprof (not a new-token target)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case o.rounds < 1:
		return o, errors.New("-rounds must be at least 1")
	case o.duration < time.Second:
		return o, errors.New("-duration must be at least 1s (wrk counts whole seconds)")
	case o.duration%time.Second != 0:
		return o, errors.New("-duration must be whole seconds (wrk counts whole seconds)")
	case o.connections < 1:
		return o, errors.New("-connections must be at least 1")
	case o.tokenRate < 1:
		return o, errors.New("-token-rate must be at least 1")
	}
	for _, name := range strings.Split(*targets, ",") {
		name = strings.TrimSpace(name)
		if name == "" || slices.Contains(o.targets, name) {
			continue
		}
		if !slices.Contains(targetNames(), name) {
			return o, fmt.Errorf("-targets: unknown target %q (have %s)", name, strings.Join(targetNames(), ", "))
		}
		o.targets = append(o.targets, name)
	}
	if len(o.targets) == 0 {
		return o, errors.New("-targets: no target")
	}
	for _, p := range []*string{&o.out, &o.paygate, &o.caddy, &o.repo} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return o, err
		}
		*p = abs
	}
	return o, nil
}
