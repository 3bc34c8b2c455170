package all

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

var update = flag.Bool("update", false, "rewrite the adapt golden files")

// separator divides a golden file's Caddyfile input from what it must adapt
// to: the JSON, or a part of the error.
const separator = "\n----------\n"

// adapter is Caddy's Caddyfile adapter, with every paygate directive.
var adapter = caddyconfig.GetAdapter("caddyfile")

// eachGolden runs check, as a subtest named after the file, on every file
// that glob matches, with its Caddyfile part and the part after the
// separator.
func eachGolden(t *testing.T, glob string, check func(t *testing.T, file, input, golden string)) {
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no files match %s (%v)", glob, err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".caddyfile"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, golden, found := strings.Cut(string(raw), separator)
			if !found {
				t.Fatalf("%s has no separator line", file)
			}
			check(t, file, input, golden)
		})
	}
}

// TestCaddyfileAdapt adapts every testdata/adapt/*.caddyfile and compares the
// JSON with the golden part of the same file (go test -update rewrites it).
func TestCaddyfileAdapt(t *testing.T) {
	eachGolden(t, "../../testdata/adapt/*.caddyfile", func(t *testing.T, file, input, golden string) {
		out, warnings, err := adapter.Adapt([]byte(input), map[string]any{"filename": file})
		if err != nil {
			t.Fatalf("adapt: %v", err)
		}
		for _, w := range warnings {
			t.Errorf("warning: %s", w)
		}
		var got bytes.Buffer
		if err := json.Indent(&got, out, "", "\t"); err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.WriteFile(file, []byte(input+separator+got.String()+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		if strings.TrimSpace(got.String()) != strings.TrimSpace(golden) {
			t.Errorf("adapted JSON differs from the golden (run go test -update):\n got: %s\nwant: %s", got.String(), golden)
		}
	})
}

// TestCaddyfileAdaptErrors adapts every testdata/adapt/errors/*.caddyfile, a
// Caddyfile that must be refused, and checks that the error contains the text
// after the separator: every error path of a Caddyfile parser has one.
func TestCaddyfileAdaptErrors(t *testing.T) {
	eachGolden(t, "../../testdata/adapt/errors/*.caddyfile", func(t *testing.T, file, input, want string) {
		want = strings.TrimSpace(want)
		if want == "" {
			t.Fatalf("%s has no expected error after the separator", file)
		}
		_, _, err := adapter.Adapt([]byte(input), map[string]any{"filename": file})
		if err == nil {
			t.Fatalf("adapt succeeded; want an error containing %q", want)
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("adapt error = %q, want it to contain %q", err, want)
		}
	})
}
