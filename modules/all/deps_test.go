package all

import (
	"os/exec"
	"strings"
	"testing"
)

const modulePath = "github.com/paygate/paygate"

// The layers of the tree, from the top. Dependencies flow down: cmd ->
// modules/all -> modules/<name> -> internal -> libraries, and cmd may use
// internal building blocks directly (the bundle and token commands). The
// root package, what xcaddy users import, only imports modules/all;
// policies, the embedded Rego, imports nothing of ours; e2e holds only
// tests.
const (
	layerRoot     = "the root package"
	layerCmd      = "cmd"
	layerAll      = "modules/all"
	layerModule   = "a module"
	layerInternal = "internal"
	layerPolicies = "policies"
	layerE2E      = "e2e"
)

// mayImport lists, for each layer, the layers its packages may import.
var mayImport = map[string][]string{
	layerRoot:     {layerAll},
	layerCmd:      {layerAll, layerInternal, layerPolicies},
	layerAll:      {layerModule},
	layerModule:   {layerInternal, layerPolicies},
	layerInternal: {layerInternal, layerPolicies},
	layerPolicies: {},
	layerE2E:      {layerInternal, layerPolicies},
}

// testKit is the test support package: test code imports it and its
// subpackages, and nothing else may, so that they never reach the binary.
const testKit = "internal/testenv"

// inTestKit reports whether rel is the test kit or one of its subpackages.
func inTestKit(rel string) bool {
	return rel == testKit || strings.HasPrefix(rel, testKit+"/")
}

// layer is the layer of rel, a package path relative to the module, or ""
// when it has none.
func layer(rel string) string {
	first, _, _ := strings.Cut(rel, "/")
	switch {
	case rel == "":
		return layerRoot
	case rel == "modules/all":
		return layerAll
	case first == "modules" && rel != "modules":
		return layerModule
	case first == "cmd":
		return layerCmd
	case first == "internal":
		return layerInternal
	case first == "policies":
		return layerPolicies
	case first == "e2e":
		return layerE2E
	}
	return ""
}

// violation says why the package at from (relative to the module) may not
// import to, or returns "". test tells whether the import is made by a
// test file only.
func violation(from, to string, test bool) string {
	if from == to {
		return "" // an external test package importing the package it tests
	}
	if inTestKit(to) && !test && !inTestKit(from) {
		return "the test kit is for test files only"
	}
	fromLayer, toLayer := layer(from), layer(to)
	switch {
	case fromLayer == "" || toLayer == "":
		return "a package outside the layout (cmd, modules, internal, policies, e2e)"
	case fromLayer == layerModule && toLayer == layerModule:
		return "a module never imports another module: they cooperate through placeholders and the paygate app"
	}
	for _, ok := range mayImport[fromLayer] {
		if ok == toLayer {
			return ""
		}
	}
	return fromLayer + " may import only " + strings.Join(mayImport[fromLayer], ", ")
}

// TestDependencyDirection checks every import of every package of the
// module, test files' included, against the layering rule.
func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f",
		`{{.ImportPath}}|{{join .Imports " "}}|{{join .TestImports " "}} {{join .XTestImports " "}}`,
		modulePath+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	rel := func(p string) (string, bool) {
		if p == modulePath {
			return "", true
		}
		r, ok := strings.CutPrefix(p, modulePath+"/")
		return r, ok
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Split(line, "|")
		if len(fields) != 3 {
			t.Fatalf("go list line %q", line)
		}
		from, _ := rel(fields[0])
		seen[layer(from)] = true
		for i, imports := range fields[1:] {
			for _, imp := range strings.Fields(imports) {
				to, ours := rel(imp)
				if !ours {
					continue
				}
				if msg := violation(from, to, i == 1); msg != "" {
					t.Errorf("%s imports %s: %s", fields[0], imp, msg)
				}
			}
		}
	}
	// The scan saw the tree, not an empty list.
	for _, l := range []string{layerRoot, layerCmd, layerAll, layerModule, layerInternal, layerE2E} {
		if !seen[l] {
			t.Errorf("go list listed no package of %s", l)
		}
	}
}

// TestViolation pins the rule: what each layer may and may not import.
func TestViolation(t *testing.T) {
	tests := []struct {
		from, to string
		test     bool
		allowed  bool
	}{
		{from: "", to: "modules/all", allowed: true},
		{from: "", to: "internal/store"},
		{from: "cmd/paygate", to: "modules/all", allowed: true},
		{from: "cmd/paygate", to: "internal/opabundle", allowed: true},
		{from: "cmd/paygate", to: "policies", allowed: true},
		{from: "cmd/paygate", to: "modules/jwtauth"},
		{from: "modules/all", to: "modules/jwtauth", allowed: true},
		{from: "modules/all", to: "cmd/paygate"},
		{from: "modules/jwtauth", to: "internal/jwtverify", allowed: true},
		{from: "modules/jwtauth", to: "modules/opaauthz"},
		{from: "modules/jwtauth", to: "modules/opaauthz", test: true},
		{from: "modules/jwtauth", to: "modules/all"},
		{from: "modules/jwtauth", to: "cmd/paygate"},
		{from: "modules/jwtauth", to: "modules/jwtauth", test: true, allowed: true},
		{from: "internal/store", to: "internal/reqid", allowed: true},
		{from: "internal/opabundle", to: "policies", allowed: true},
		{from: "internal/store", to: "modules/paygateapp"},
		{from: "internal/store", to: "modules/paygateapp", test: true},
		{from: "internal/devtoken", to: "cmd/paygate"},
		{from: "internal/store", to: ""},
		{from: "policies", to: "internal/store"},
		{from: "e2e", to: "internal/testenv", test: true, allowed: true},
		{from: "e2e", to: "modules/payments", test: true},
		{from: "modules/payments", to: "internal/testenv", test: true, allowed: true},
		{from: "modules/payments", to: "internal/testenv"},
		{from: "internal/store", to: "internal/testenv"},
		{from: "cmd/paygate", to: "internal/testenv"},
		{from: "internal/store/storetest", to: "internal/testenv"},
		{from: "internal/testenv", to: "internal/devtoken", allowed: true},
		{from: "internal/testenv/bundletest", to: "internal/opabundle", allowed: true},
		{from: "modules/opaauthz", to: "internal/testenv/bundletest", test: true, allowed: true},
		{from: "internal/opabundle", to: "internal/testenv/bundletest"},
		{from: "tools/x", to: "internal/store"},
	}
	for _, tt := range tests {
		if msg := violation(tt.from, tt.to, tt.test); (msg == "") != tt.allowed {
			t.Errorf("violation(%q, %q, test %v) = %q, want allowed %v", tt.from, tt.to, tt.test, msg, tt.allowed)
		}
	}
}
