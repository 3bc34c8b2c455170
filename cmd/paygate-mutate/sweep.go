package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// verdict is what became of a mutation.
type verdict string

const (
	killed      verdict = "killed"
	survived    verdict = "SURVIVED"
	stale       verdict = "STALE"
	buildFailed verdict = "BUILD FAILED"
	// noVerdict: go test failed without a failing test (a timeout, a
	// test that does not compile).
	noVerdict verdict = "NO VERDICT"
)

// result is one mutation's outcome.
type result struct {
	m       mutation
	verdict verdict
	// failed lists the top-level tests that failed; wholeRun tells that
	// the named tests all passed and the whole package ran.
	failed   []string
	wholeRun bool
	detail   string
	took     time.Duration
}

// sweep runs the catalogue's mutations (or opts.only) one at a time in a
// copy of the repository, logging progress to progress. It returns the
// results and which checkout they are of.
func sweep(ctx context.Context, opts options, progress io.Writer) ([]result, string, error) {
	ms, err := loadCatalogue(opts.catalogue)
	if err != nil {
		return nil, "", err
	}
	if ms, err = selectMutations(ms, opts.only); err != nil {
		return nil, "", err
	}
	checkout, err := describeCheckout(ctx, opts.repo)
	if err != nil {
		return nil, "", err
	}
	dir, err := os.MkdirTemp("", "paygate-mutate-")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(dir)
	if err := copyCheckout(ctx, opts.repo, dir); err != nil {
		return nil, "", err
	}
	w := &workspace{dir: dir, opts: opts}

	// The named tests must pass on the code as it is, or every mutation
	// would look killed.
	fmt.Fprintln(progress, "baseline: building and running the named tests without a mutation")
	if out, err := w.build(ctx); err != nil {
		return nil, "", fmt.Errorf("building without a mutation: %v\n%s", err, out)
	}
	patterns := make([]string, len(ms))
	for i, m := range ms {
		patterns[i] = "(?:" + m.Tests + ")"
	}
	if failed, out, err := w.test(ctx, strings.Join(patterns, "|")); err != nil {
		return nil, "", fmt.Errorf("the named tests fail without a mutation (%s): %v\n%s", strings.Join(failed, ", "), err, tail(out))
	}

	var results []result
	for _, m := range ms {
		if err := ctx.Err(); err != nil {
			return nil, "", err
		}
		r := w.try(ctx, m)
		fmt.Fprintf(progress, "%s: %s %s (%s)\n", m.ID, r.verdict, strings.Join(r.failed, " "), r.took.Round(time.Second))
		results = append(results, r)
	}
	return results, checkout, nil
}

// selectMutations keeps the mutations named in only, all when it is empty.
func selectMutations(ms []mutation, only []string) ([]mutation, error) {
	if len(only) == 0 {
		return ms, nil
	}
	var out []mutation
	for _, id := range only {
		i := slices.IndexFunc(ms, func(m mutation) bool { return m.ID == id })
		if i < 0 {
			return nil, fmt.Errorf("-only: no mutation %q", id)
		}
		out = append(out, ms[i])
	}
	return out, nil
}

// describeCheckout names the commit of the checkout at repo, and says when
// its files differ from it.
func describeCheckout(ctx context.Context, repo string) (string, error) {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = repo
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	rev, err := git("rev-parse", "--short", "HEAD")
	if err != nil {
		return "", err
	}
	status, err := git("status", "--porcelain")
	if err != nil {
		return "", err
	}
	if status != "" {
		rev += ", with uncommitted changes"
	}
	return rev, nil
}

// copyCheckout copies the files of the checkout at repo that git tracks or
// would (ignored files, such as bin/, aside) into dir.
func copyCheckout(ctx context.Context, repo, dir string) error {
	cmd := exec.CommandContext(ctx, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = repo
	list, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("git ls-files: %w", err)
	}
	for name := range strings.SplitSeq(strings.TrimSuffix(string(list), "\x00"), "\x00") {
		src := filepath.Join(repo, name)
		fi, err := os.Lstat(src)
		if os.IsNotExist(err) {
			continue // deleted, not yet committed
		} else if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, fi.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

// workspace is the copy mutations are tried in.
type workspace struct {
	dir  string
	opts options
}

func (w *workspace) binary() string { return filepath.Join(w.dir, "bin", "paygate") }

// try applies m, builds, runs the tests, and puts the file back.
func (w *workspace) try(ctx context.Context, m mutation) (r result) {
	start := time.Now()
	r.m = m
	defer func() { r.took = time.Since(start) }()
	path := filepath.Join(w.dir, m.File)
	orig, err := os.ReadFile(path)
	if err != nil {
		r.verdict, r.detail = stale, err.Error()
		return r
	}
	mutated, err := m.apply(string(orig))
	if err != nil {
		r.verdict, r.detail = stale, err.Error()
		return r
	}
	if err := os.WriteFile(path, []byte(mutated), 0o644); err != nil {
		r.verdict, r.detail = stale, err.Error()
		return r
	}
	defer func() { _ = os.WriteFile(path, orig, 0o644) }()
	if out, err := w.build(ctx); err != nil {
		r.verdict, r.detail = buildFailed, tail(out)
		return r
	}
	if failed, out, err := w.test(ctx, m.Tests); err != nil {
		return judged(r, failed, out)
	}
	r.wholeRun = true
	if failed, out, err := w.test(ctx, "", "-failfast"); err != nil {
		return judged(r, failed, out)
	}
	r.verdict = survived
	return r
}

// judged is r after a failed test run: killed when tests failed.
func judged(r result, failed []string, out []byte) result {
	if len(failed) == 0 {
		r.verdict, r.detail = noVerdict, tail(out)
	} else {
		r.verdict, r.failed = killed, failed
	}
	return r
}

func (w *workspace) build(ctx context.Context) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", w.binary(), "./cmd/paygate")
	cmd.Dir = w.dir
	return cmd.CombinedOutput()
}

// test runs the e2e tests matching pattern (all when it is "") against the
// workspace's binary and returns the top-level tests that failed.
func (w *workspace) test(ctx context.Context, pattern string, flags ...string) ([]string, []byte, error) {
	args := append([]string{"test", "-count=1"}, flags...)
	if pattern != "" {
		args = append(args, "-run", pattern)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "./e2e")...)
	cmd.Dir = w.dir
	cmd.Env = append(os.Environ(), "CI=true", "PAYGATE_BIN="+w.binary(),
		"PAYGATE_STRIPE_MOCK="+w.opts.stripeMock, "PAYGATE_KUSTOMIZE="+w.opts.kustomize)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return failedTests(out.Bytes()), out.Bytes(), err
}

var failLine = regexp.MustCompile(`(?m)^--- FAIL: (\S+)`)

// failedTests lists the top-level tests go test reported failed.
func failedTests(out []byte) []string {
	var names []string
	for _, m := range failLine.FindAllSubmatch(out, -1) {
		if name := string(m[1]); !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

// tail is the end of a command's output, for a report.
func tail(out []byte) string {
	const n = 2000
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return string(out)
}
