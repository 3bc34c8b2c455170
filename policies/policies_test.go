package policies

import (
	"context"
	"io/fs"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// requiredTests are the Rego tests that must exist and pass: deleting one of
// them (or renaming it) fails go test, not only failing it.
var requiredTests = []string{
	"data.paygate.authz_test.test_owner_reads_intent",
	"data.paygate.authz_test.test_owner_confirms_intent",
	"data.paygate.authz_test.test_owner_cancels_intent",
	"data.paygate.authz_test.test_owner_detaches_card",
	"data.paygate.authz_test.test_other_user_denied",
	"data.paygate.authz_test.test_missing_resource_denied",
	"data.paygate.authz_test.test_collections_allowed",
	"data.paygate.authz_test.test_collections_need_authentication",
	"data.paygate.authz_test.test_support_reads_any_intent",
	"data.paygate.authz_test.test_support_cannot_write",
	"data.paygate.authz_test.test_support_cannot_read_missing_resource",
	"data.paygate.authz_test.test_unauthenticated_denied",
	"data.paygate.authz_test.test_unknown_route_denied",
	"data.paygate.authz_test.test_decision_is_always_an_object",
	"data.paygate.log_test.test_identity_claims_masked",
	"data.paygate.log_test.test_role_claims_kept",
}

// modules parses every embedded .rego file.
func modules(t *testing.T) map[string]*ast.Module {
	t.Helper()
	mods := map[string]*ast.Module{}
	err := fs.WalkDir(FS(), Root, func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(name) != ".rego" {
			return err
		}
		src, err := fs.ReadFile(FS(), name)
		if err != nil {
			return err
		}
		m, err := ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true})
		if err != nil {
			return err
		}
		mods[name] = m
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return mods
}

// TestRego runs every Rego unit test of the embedded policies and fails on
// a failing test, an erroring test, and a required test that is missing.
func TestRego(t *testing.T) {
	ctx := context.Background()
	store := inmem.New()
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Abort(ctx, txn)

	ch, err := tester.NewRunner().
		SetStore(store).
		SetModules(modules(t)).
		SetDefaultRegoVersion(ast.RegoV1).
		RaiseBuiltinErrors(true).
		RunTests(ctx, txn)
	if err != nil {
		t.Fatalf("running the Rego tests: %v", err)
	}
	var ran []string
	for r := range ch {
		name := r.Package + "." + r.Name
		ran = append(ran, name)
		switch {
		case r.Error != nil:
			t.Errorf("%s: error: %v", name, r.Error)
		case r.Fail:
			t.Errorf("%s: FAIL (%s)", name, r.Location)
		case r.Skip:
			t.Errorf("%s: skipped; every policy test must run", name)
		}
	}
	if len(ran) == 0 {
		t.Fatal("no Rego tests ran")
	}
	for _, want := range requiredTests {
		if !slices.Contains(ran, want) {
			t.Errorf("required Rego test %s is missing (ran: %s)", want, strings.Join(ran, ", "))
		}
	}
}

// TestPoliciesCompile checks that the policies alone (without their tests)
// compile, which is what a bundle carries.
func TestPoliciesCompile(t *testing.T) {
	mods := modules(t)
	for name := range mods {
		if strings.HasSuffix(name, "_test.rego") {
			delete(mods, name)
		}
	}
	c := ast.NewCompiler()
	if c.Compile(mods); c.Failed() {
		t.Fatal(c.Errors)
	}
	if len(c.GetRulesExact(ast.MustParseRef("data.paygate.authz.decision"))) == 0 {
		t.Error("data.paygate.authz.decision is not defined")
	}
}
