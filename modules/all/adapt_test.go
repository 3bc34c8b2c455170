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

// separator divides a golden file's Caddyfile input from the JSON it adapts to.
const separator = "\n----------\n"

// TestCaddyfileAdapt adapts every testdata/adapt/*.caddyfile and compares the
// JSON with the golden part of the same file (go test -update rewrites it).
func TestCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob("../../testdata/adapt/*.caddyfile")
	if err != nil || len(files) == 0 {
		t.Fatalf("no adapt tests found (%v)", err)
	}
	adapter := caddyconfig.GetAdapter("caddyfile")
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".caddyfile"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, golden, _ := strings.Cut(string(raw), separator)
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
}

// TestCaddyfileAdaptErrors adapts every testdata/adapt/errors/*.caddyfile, a
// Caddyfile that must be refused, and checks that the error contains the text
// after the separator: every error path of a Caddyfile parser has one.
func TestCaddyfileAdaptErrors(t *testing.T) {
	files, err := filepath.Glob("../../testdata/adapt/errors/*.caddyfile")
	if err != nil || len(files) == 0 {
		t.Fatalf("no adapt error tests found (%v)", err)
	}
	adapter := caddyconfig.GetAdapter("caddyfile")
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".caddyfile"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, want, found := strings.Cut(string(raw), separator)
			want = strings.TrimSpace(want)
			if !found || want == "" {
				t.Fatalf("%s has no expected error after the separator", file)
			}
			_, _, err = adapter.Adapt([]byte(input), map[string]any{"filename": file})
			if err == nil {
				t.Fatalf("adapt succeeded; want an error containing %q", want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("adapt error = %q, want it to contain %q", err, want)
			}
		})
	}
}
