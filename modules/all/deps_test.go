package all

import (
	"os/exec"
	"strings"
	"testing"
)

const modulePath = "github.com/paygate/paygate"

// TestDependencyDirection keeps the layering checkable: cmd -> modules/* ->
// internal/* -> libraries. A module never imports another module (they
// cooperate through placeholders and the paygate app), and internal packages
// never import modules.
func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, modulePath+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		for _, imp := range imports {
			if !strings.HasPrefix(imp, modulePath+"/") {
				continue
			}
			if msg := violation(pkg, imp); msg != "" {
				t.Errorf("%s imports %s: %s", pkg, imp, msg)
			}
		}
	}
}

func violation(pkg, imp string) string {
	rel := func(p string) string { return strings.TrimPrefix(p, modulePath+"/") }
	from, to := rel(pkg), rel(imp)
	switch {
	case strings.HasPrefix(from, "internal/") && strings.HasPrefix(to, "modules/"):
		return "internal packages must not depend on modules"
	case strings.HasPrefix(from, "modules/") && from != "modules/all" && strings.HasPrefix(to, "modules/"):
		return "a module must not import another module"
	case strings.HasPrefix(from, "cmd/") && strings.HasPrefix(to, "modules/") && to != "modules/all":
		return "commands import modules only through modules/all"
	}
	return ""
}
