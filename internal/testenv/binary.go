package testenv

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// buildPaygate builds cmd/paygate at most once per test process.
var buildPaygate = sync.OnceValues(func() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	return goBuild(root, "github.com/paygate/paygate/cmd/paygate", "paygate")
})

// buildStripeMock builds stripe-mock from the tools module at most once per
// test process.
var buildStripeMock = sync.OnceValues(func() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	return goBuild(filepath.Join(root, "tools"), "github.com/stripe/stripe-mock", "stripe-mock")
})

// Binary returns the path of the paygate binary: $PAYGATE_BIN when it is set,
// or else a build of cmd/paygate made once per test process. A failed build
// fails the test with the compiler's output.
func Binary(t testing.TB) string {
	t.Helper()
	return executable(t, "PAYGATE_BIN", "the paygate binary", buildPaygate)
}

// executable returns the file named by the environment variable env when it
// is set, or else the result of build. A missing file or Go toolchain ends
// the test through Require; a failed build fails it.
func executable(t testing.TB, env, what string, build func() (string, error)) string {
	t.Helper()
	if path := os.Getenv(env); path != "" {
		_, err := os.Stat(path)
		Require(t, fmt.Sprintf("%s ($%s)", what, env), err)
		return path
	}
	path, err := build()
	if errors.Is(err, exec.ErrNotFound) {
		Require(t, fmt.Sprintf("the Go toolchain (to build %s)", what), err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// goBuild runs "go build" for pkg in the module at dir and returns the
// executable's path. The path depends only on dir and name, so repeated test
// runs replace one file instead of filling the temporary directory; each
// build is written to a fresh directory and renamed into place, so it never
// rewrites a file that a concurrent test process is running.
func goBuild(dir, pkg, name string) (string, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(dir))
	outDir := filepath.Join(os.TempDir(), fmt.Sprintf("paygate-testenv-%x", sum[:8]))
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	buildDir, err := os.MkdirTemp(outDir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(buildDir)
	cmd := exec.Command(gobin, "build", "-o", filepath.Join(buildDir, name), pkg)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s (in %s): %v\n%s", pkg, dir, err, out)
	}
	path := filepath.Join(outDir, name)
	if err := os.Rename(filepath.Join(buildDir, name), path); err != nil {
		return "", err
	}
	return path, nil
}

// moduleRoot returns the directory of the nearest go.mod at or above the
// working directory, which for this package's tests is the paygate module.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the working directory")
		}
		dir = parent
	}
}
