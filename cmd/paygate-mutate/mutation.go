package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// mutation disables one security check: the one occurrence of Old in File
// becomes New.
type mutation struct {
	ID   string `json:"id"`
	File string `json:"file"`
	Old  string `json:"old"`
	New  string `json:"new"`
	// Check says what the mutation removes.
	Check string `json:"check"`
	// Tests is a go test -run pattern of the end-to-end tests expected to
	// fail; when they all pass, the whole package runs.
	Tests string `json:"tests"`
}

// loadCatalogue reads the JSON lines of path; blank lines and lines that
// start with "//" are skipped. Every mutation must have an ID of its own,
// a file under the repository, a change, a check and a valid Tests pattern.
func loadCatalogue(path string) ([]mutation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ms []mutation
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "//") {
			continue
		}
		var m mutation
		d := json.NewDecoder(strings.NewReader(line))
		d.DisallowUnknownFields()
		if err := d.Decode(&m); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if err := m.valid(); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if seen[m.ID] {
			return nil, fmt.Errorf("%s:%d: mutation %q given twice", path, n, m.ID)
		}
		seen[m.ID] = true
		ms = append(ms, m)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("%s: no mutations", path)
	}
	return ms, nil
}

func (m mutation) valid() error {
	switch {
	case m.ID == "":
		return errors.New("a mutation without an id")
	case m.File == "" || filepath.IsAbs(m.File) || !filepath.IsLocal(m.File):
		return fmt.Errorf("%s: file %q is not a path inside the repository", m.ID, m.File)
	case strings.HasSuffix(m.File, "_test.go") || !strings.HasSuffix(m.File, ".go") && !strings.HasSuffix(m.File, ".lua"):
		return fmt.Errorf("%s: file %q is not production Go or Lua code", m.ID, m.File)
	case m.Old == "" || m.Old == m.New:
		return fmt.Errorf("%s: no change", m.ID)
	case m.Check == "":
		return fmt.Errorf("%s: no check named", m.ID)
	case m.Tests == "":
		return fmt.Errorf("%s: no tests named", m.ID)
	}
	if _, err := regexp.Compile(m.Tests); err != nil {
		return fmt.Errorf("%s: tests: %w", m.ID, err)
	}
	return nil
}

// errStale: the code a mutation replaces is not in its file exactly once.
var errStale = errors.New("the code to replace is not in the file exactly once")

// apply returns text with m applied.
func (m mutation) apply(text string) (string, error) {
	if n := strings.Count(text, m.Old); n != 1 {
		return "", fmt.Errorf("%s: %w (found %d times): update the catalogue", m.File, errStale, n)
	}
	return strings.Replace(text, m.Old, m.New, 1), nil
}
