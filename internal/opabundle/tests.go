package opabundle

import (
	"context"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// runTests runs the Rego tests (rules named test_*, in the *_test.rego files
// or anywhere else) of the policies in opts' directory, with its data, as
// "opa test" would. It returns an error naming each test that failed or
// could not run; policies without tests pass.
func runTests(ctx context.Context, opts Options) error {
	loaded, err := loader.NewFileLoader().
		WithFS(opts.FS).
		WithRegoVersion(ast.RegoV1).
		WithProcessAnnotation(true).
		All([]string{opts.Dir})
	if err != nil {
		return fmt.Errorf("bundle: loading the policies and their tests: %w", err)
	}
	ch, err := tester.NewRunner().
		SetStore(inmem.NewFromObject(loaded.Documents)).
		CapturePrintOutput(true).
		Run(ctx, loaded.ParsedModules())
	if err != nil {
		return fmt.Errorf("bundle: running the Rego tests: %w", err)
	}
	var failed []string
	for r := range ch {
		if r.Pass() || r.Skip {
			continue
		}
		what := "failed"
		if r.Error != nil {
			what = r.Error.Error()
		}
		failed = append(failed, fmt.Sprintf("%s.%s (%s): %s", r.Package, r.Name, r.Location, what))
	}
	if len(failed) > 0 {
		return fmt.Errorf("bundle: %d Rego test(s) did not pass, nothing was built or signed:\n  %s", len(failed), strings.Join(failed, "\n  "))
	}
	return nil
}
