package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// repoRoot is the checkout this package is in.
const repoRoot = "../.."

// TestCatalogueApplies keeps the shipped catalogue in step with the code:
// each mutation's code is in its file exactly once, and a Go file still
// parses once it is mutated. A change to a checked line fails it; the
// catalogue entry is then updated (and "make mutate -only <id>" rerun).
func TestCatalogueApplies(t *testing.T) {
	ms, err := loadCatalogue(filepath.Join(repoRoot, "testdata", "mutations", "security.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		t.Run(m.ID, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(repoRoot, m.File))
			if err != nil {
				t.Fatal(err)
			}
			mutated, err := m.apply(string(src))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(m.File, ".go") {
				// A store script: Redis compiles it when a test runs
				// it. One that no longer compiles would fail every test
				// that calls it, so a script mutation is checked by hand
				// to fail its named test on the assertion it is about.
				return
			}
			if _, err := parser.ParseFile(token.NewFileSet(), m.File, mutated, parser.SkipObjectResolution); err != nil {
				t.Errorf("the mutated file does not parse: %v", err)
			}
		})
	}
}

func TestLoadCatalogueRefuses(t *testing.T) {
	good := `{"id":"a","file":"modules/x/x.go","old":"if bad","new":"if false && bad","check":"c","tests":"^TestA$"}`
	for _, tt := range []struct{ name, text, want string }{
		{"empty", "\n// only a comment\n", "no mutations"},
		{"twice", good + "\n" + good, `"a" given twice`},
		{"unknown field", `{"id":"a","file":"m.go","old":"x","new":"y","check":"c","tests":"T","extra":1}`, "unknown field"},
		{"no id", strings.Replace(good, `"id":"a"`, `"id":""`, 1), "without an id"},
		{"absolute file", strings.Replace(good, `modules/x/x.go`, `/etc/x.go`, 1), "not a path inside"},
		{"file outside", strings.Replace(good, `modules/x/x.go`, `../x.go`, 1), "not a path inside"},
		{"test file", strings.Replace(good, `x.go`, `x_test.go`, 1), "not production Go or Lua code"},
		{"not Go", strings.Replace(good, `x.go`, `x.rego`, 1), "not production Go or Lua code"},
		{"no change", strings.Replace(good, `if false && bad`, `if bad`, 1), "no change"},
		{"no check", strings.Replace(good, `"check":"c"`, `"check":""`, 1), "no check"},
		{"no tests", strings.Replace(good, `"tests":"^TestA$"`, `"tests":""`, 1), "no tests"},
		{"bad pattern", strings.Replace(good, `^TestA$`, `(`, 1), "tests:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.jsonl")
			if err := os.WriteFile(path, []byte(tt.text), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := loadCatalogue(path); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one with %q", err, tt.want)
			}
		})
	}
	path := filepath.Join(t.TempDir(), "m.jsonl")
	if err := os.WriteFile(path, []byte("// a comment\n\n"+good+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if ms, err := loadCatalogue(path); err != nil || len(ms) != 1 || ms[0].New != "if false && bad" {
		t.Fatalf("loadCatalogue = %+v, %v, want the one mutation", ms, err)
	}
}

func TestApply(t *testing.T) {
	m := mutation{File: "x.go", Old: "if bad {", New: "if false && bad {"}
	if got, err := m.apply("a\nif bad {\n}\n"); err != nil || got != "a\nif false && bad {\n}\n" {
		t.Errorf("apply = %q, %v", got, err)
	}
	for _, text := range []string{"if good {", "if bad {}\nif bad {}"} {
		if _, err := m.apply(text); err == nil || !strings.Contains(err.Error(), "update the catalogue") {
			t.Errorf("apply(%q): err = %v, want stale", text, err)
		}
	}
}

func TestSelectMutations(t *testing.T) {
	ms := []mutation{{ID: "a"}, {ID: "b"}, {ID: "c"}}
	if got, _ := selectMutations(ms, nil); len(got) != 3 {
		t.Errorf("no -only: %d mutations, want all 3", len(got))
	}
	got, err := selectMutations(ms, []string{"c", "a"})
	if err != nil || len(got) != 2 || got[0].ID != "c" || got[1].ID != "a" {
		t.Errorf("-only c,a = %+v, %v", got, err)
	}
	if _, err := selectMutations(ms, []string{"d"}); err == nil {
		t.Error("-only d: no error for an unknown ID")
	}
}

func TestFailedTests(t *testing.T) {
	out := `=== RUN   TestA
--- FAIL: TestA (0.01s)
    --- FAIL: TestA/sub (0.00s)
--- PASS: TestB (0.00s)
--- FAIL: TestC (1.00s)
FAIL
`
	if got := failedTests([]byte(out)); !slices.Equal(got, []string{"TestA", "TestC"}) {
		t.Errorf("failedTests = %q, want the top-level TestA and TestC", got)
	}
}

func TestJudged(t *testing.T) {
	if r := judged(result{}, []string{"TestA"}, nil); r.verdict != killed || !slices.Equal(r.failed, []string{"TestA"}) {
		t.Errorf("with a failed test: %+v", r)
	}
	if r := judged(result{}, nil, []byte("panic: test timed out")); r.verdict != noVerdict || !strings.Contains(r.detail, "timed out") {
		t.Errorf("without a failed test: %+v, want no verdict with the output", r)
	}
}

func TestReport(t *testing.T) {
	text := report([]result{
		{m: mutation{ID: "k", Check: "a | b"}, verdict: killed, failed: []string{"TestA"}},
		{m: mutation{ID: "w", Check: "c"}, verdict: killed, failed: []string{"TestB"}, wholeRun: true},
		{m: mutation{ID: "s", Check: "d"}, verdict: survived, wholeRun: true},
		{m: mutation{ID: "x", Check: "e"}, verdict: stale, detail: "x.go: not found"},
	}, "abc1234")
	for _, want := range []string{
		"- Checkout: abc1234\n",
		"4 mutations: 2 killed, 1 survived, 1 stale, 0 did not build, 0 without a verdict",
		"| `k` | a \\| b | killed | TestA |",
		"| `w` | c | killed | TestB (not a named test: the whole package ran) |",
		"| `s` | d | SURVIVED |  |",
		"## `x`: STALE\n\n```\nx.go: not found\n```",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
}
