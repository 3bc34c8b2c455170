package testenv

import (
	"os"
	"testing"
)

// Require ends the test when err reports that what, something the test
// needs, is missing: it fails the test in CI (CI=true), where every
// prerequisite must be present, and skips it elsewhere. It does nothing when
// err is nil.
func Require(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required in CI: %v", what, err)
	} else {
		t.Skipf("%s is not available: %v", what, err)
	}
}
