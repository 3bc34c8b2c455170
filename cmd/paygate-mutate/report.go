package main

import (
	"fmt"
	"strings"
	"time"
)

// report is the markdown report of a sweep of checkout.
func report(results []result, checkout string) string {
	var b strings.Builder
	counts := map[verdict]int{}
	for _, r := range results {
		counts[r.verdict]++
	}
	fmt.Fprintf(&b, "# Mutation sweep\n\n- Date: %s\n- Checkout: %s\n- Command: `make mutate` (`go run ./cmd/paygate-mutate`)\n- %d mutations: %d killed, %d survived, %d stale, %d did not build, %d without a verdict\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), checkout, len(results), counts[killed], counts[survived], counts[stale], counts[buildFailed], counts[noVerdict])
	b.WriteString("| mutation | what it removes | verdict | failed |\n|---|---|---|---|\n")
	for _, r := range results {
		failed := strings.Join(r.failed, ", ")
		if r.wholeRun && r.verdict == killed {
			failed += " (not a named test: the whole package ran)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", r.m.ID, cell(r.m.Check), r.verdict, cell(failed))
	}
	for _, r := range results {
		if r.detail != "" {
			fmt.Fprintf(&b, "\n## `%s`: %s\n\n```\n%s\n```\n", r.m.ID, r.verdict, strings.TrimSpace(r.detail))
		}
	}
	return b.String()
}

// cell makes text fit in a table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
