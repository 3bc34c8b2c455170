// Command paygate-mutate checks the end-to-end suite the way it is judged:
// delete any one security check and some end-to-end test must fail. It
// reads a catalogue of mutations (testdata/mutations/security.jsonl), each
// of which disables one check by replacing one exact piece of production
// code, and for each one, in a copy of the checkout: applies it, builds the
// binary, runs the end-to-end tests named for it and, when they all pass,
// the whole e2e package. A mutation no test fails "survived": the suite
// misses that check. "make mutate" runs it (about 25 s a mutation).
//
// It writes a markdown report and exits 1 when a mutation survived, no
// longer applies (the code it replaces changed: update the catalogue) or
// does not build; 2 when it could not run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

// options are the command's flags.
type options struct {
	catalogue  string
	repo       string
	out        string
	only       []string
	stripeMock string
	kustomize  string
}

func main() { os.Exit(run(os.Args[1:])) }

// run runs the sweep and returns the exit code.
func run(args []string) int {
	opts, err := parseFlags(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "paygate-mutate:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	results, checkout, err := sweep(ctx, opts, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "paygate-mutate:", err)
		return 2
	}
	text := report(results, checkout)
	if err := os.WriteFile(opts.out, []byte(text), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "paygate-mutate:", err)
		return 2
	}
	fmt.Print(text)
	fmt.Println("report written to", opts.out)
	for _, r := range results {
		if r.verdict != killed {
			return 1
		}
	}
	return 0
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("paygate-mutate", flag.ContinueOnError)
	fs.StringVar(&o.catalogue, "mutations", "testdata/mutations/security.jsonl", "the catalogue of mutations (JSON lines)")
	fs.StringVar(&o.repo, "repo", ".", "root of the paygate checkout; its files as they are (committed or not, ignored files aside) are copied")
	fs.StringVar(&o.out, "out", "testdata/mutations/latest.md", "where to write the markdown report")
	fs.StringVar(&o.stripeMock, "stripe-mock", "bin/stripe-mock", "the stripe-mock binary the end-to-end tests use")
	fs.StringVar(&o.kustomize, "kustomize", "bin/kustomizebuild", "the kustomize build the manifest tests use")
	only := fs.String("only", "", "comma-separated mutation IDs to run (default: all)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for id := range strings.SplitSeq(*only, ",") {
		if id = strings.TrimSpace(id); id != "" {
			o.only = append(o.only, id)
		}
	}
	for _, p := range []*string{&o.catalogue, &o.repo, &o.out, &o.stripeMock, &o.kustomize} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return o, err
		}
		*p = abs
	}
	for _, bin := range []string{o.stripeMock, o.kustomize} {
		if _, err := os.Stat(bin); err != nil {
			return o, fmt.Errorf("%w (make stripe-mock kustomize builds it)", err)
		}
	}
	if _, err := os.Stat(filepath.Join(o.repo, "go.mod")); err != nil {
		return o, errors.New("-repo: not the root of a Go module")
	}
	return o, nil
}
