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
