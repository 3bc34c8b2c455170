package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/cardscan"
	"github.com/paygate/paygate/internal/testenv"
)

// This file is the leak scanner: a test plants secrets in the requests it
// sends, then checks that none of them, in any form, is in anything paygate
// logged. Flows other than the ones in leak_guard_test.go (payments, JWT
// authentication) plant their own secrets with plantSecret, plantCard and
// plantNamed and end with requireNoLeaks.

// plant is a secret sent to paygate, with every form in which it must not
// appear in a log line.
type plant struct {
	name  string
	forms []string
}

// plantSecret is a secret as a whole (a token, a key, a credential): its
// value, URL-encoded (query and path escaping) and JSON-escaped, and the
// same for each of parts, the pieces of it that are secret on their own (a
// JWT's payload and signature, a key's random tail).
func plantSecret(name, value string, parts ...string) plant {
	var forms []string
	for _, v := range append([]string{value}, parts...) {
		forms = append(forms, v, url.QueryEscape(v), url.PathEscape(v), jsonEscape(v))
	}
	return plant{name: name, forms: dedupe(forms)}
}

// plantCard is a card number: its digits, grouped by spaces (4-4-4-4, or
// 4-6-5 and 4-6-4 for 15 and 14 digits), dashes, "%20" and '+'.
func plantCard(name, number string) plant {
	grouped := groupDigits(number)
	forms := []string{number}
	for _, sep := range []string{" ", "-", "%20", "+", "%2D"} {
		forms = append(forms, strings.Join(grouped, sep))
	}
	return plant{name: name, forms: forms}
}

// plantNamed is a value that is secret only as the value of one of fields
// (a CVC, a password): too short or common to look for alone, it is looked
// for in the forms a log gives a named value: field=value (raw and with the
// name URL-encoded), JSON "field":"value" and "field":["value"] (Caddy's
// headers), "field": value and field: value.
func plantNamed(name, value string, fields ...string) plant {
	var forms []string
	for _, f := range fields {
		forms = append(forms,
			f+"="+value, url.QueryEscape(f)+"="+value,
			`"`+f+`":"`+value+`"`, `"`+f+`":["`+value+`"]`, `"`+f+`":`+value,
			f+": "+value)
	}
	return plant{name: name, forms: dedupe(forms)}
}

// groupDigits splits a card number the way it is printed.
func groupDigits(n string) []string {
	switch len(n) {
	case 15:
		return []string{n[:4], n[4:10], n[10:]}
	case 14:
		return []string{n[:4], n[4:10], n[10:]}
	}
	var groups []string
	for len(n) > 4 {
		groups, n = append(groups, n[:4]), n[4:]
	}
	return append(groups, n)
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b[1 : len(b)-1])
}

func dedupe(forms []string) []string {
	seen := map[string]bool{}
	out := forms[:0]
	for _, f := range forms {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// logLeak is a secret found in a log line.
type logLeak struct {
	what string // the plant and its form, or the kind of secret
	line int    // 1-based
	text string
}

func (l logLeak) String() string { return fmt.Sprintf("line %d: %s: %s", l.line, l.what, l.text) }

// secretShapes are the shapes of secrets, whichever were planted: a log
// line holding one of them leaks.
var secretShapes = []struct {
	what string
	re   *regexp.Regexp
}{
	{"a JWT", regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.`)},
	{"a Stripe secret key", regexp.MustCompile(`\b(sk|rk)_(live|test)_[A-Za-z0-9]{8,}`)},
	{"a webhook secret", regexp.MustCompile(`\bwhsec_[A-Za-z0-9+/%]{8,}`)},
	{"a client secret", regexp.MustCompile(`_secret_[A-Za-z0-9]{8,}`)},
	{"a bearer or basic credential", regexp.MustCompile(`(?i)\b(bearer|basic)( |%20|\+)+[A-Za-z0-9+/=._~-]{8,}`)},
}

// findLeaks scans every line of logs for every form of every plant, for the
// shapes of secrets, and, in each JSON line, every string and whole number
// for a card number (any card number, planted or not).
func findLeaks(logs []byte, plants []plant) []logLeak {
	var leaks []logLeak
	for i, line := range bytes.Split(logs, []byte("\n")) {
		text := string(line)
		for _, p := range plants {
			for _, f := range p.forms {
				if strings.Contains(text, f) {
					leaks = append(leaks, logLeak{what: fmt.Sprintf("%s as %q", p.name, f), line: i + 1, text: text})
				}
			}
		}
		for _, s := range secretShapes {
			if m := s.re.FindString(text); m != "" {
				leaks = append(leaks, logLeak{what: fmt.Sprintf("%s (%s)", s.what, m), line: i + 1, text: text})
			}
		}
		var entry any
		if json.Unmarshal(line, &entry) == nil {
			walkJSON(entry, func(s string) {
				for _, m := range cardscan.Find(nil, s) {
					leaks = append(leaks, logLeak{what: fmt.Sprintf("a card number ending %s", m.Last4), line: i + 1, text: text})
				}
			})
		}
	}
	return leaks
}

// walkJSON calls fn with every string, and every whole number as digits, in
// a decoded JSON value.
func walkJSON(v any, fn func(string)) {
	switch v := v.(type) {
	case string:
		fn(v)
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e20 {
			fn(fmt.Sprintf("%.0f", math.Abs(v)))
		}
	case []any:
		for _, e := range v {
			walkJSON(e, fn)
		}
	case map[string]any:
		for k, e := range v {
			fn(k)
			walkJSON(e, fn)
		}
	}
}

// requireNoLeaks stops pg, so that its logs are complete, and fails the test
// with every leak of plants (or of any secret's shape) in them.
func requireNoLeaks(t *testing.T, pg *testenv.Paygate, plants []plant) {
	t.Helper()
	pg.Stop()
	logs := pg.Logs(t)
	if len(bytes.TrimSpace(logs)) == 0 {
		t.Fatal("paygate logged nothing: nothing to scan")
	}
	leaks := findLeaks(logs, plants)
	for _, l := range leaks {
		t.Errorf("leak: %s", l)
	}
	if len(leaks) > 0 {
		t.Fatalf("%d leaks in %d bytes of logs", len(leaks), len(logs))
	}
}

// TestLeakScannerFindsEveryForm plants each form of each secret in a log
// line of its own and checks that the scanner reports it, and that it
// reports nothing in lines without secrets.
func TestLeakScannerFindsEveryForm(t *testing.T) {
	plants := leakPlants()
	for _, p := range plants {
		for _, f := range p.forms {
			line := []byte(`{"msg":"handled request","x":` + f + `}`)
			if leaks := findLeaks(line, plants); len(leaks) == 0 {
				t.Errorf("%s as %q: not found in %s", p.name, f, line)
			}
		}
	}
	for _, line := range []string{
		`{"level":"info","msg":"handled request","uri":"/v1/cards/[card_ending_4242]?cvc=[redacted]","status":400}`,
		`{"msg":"x","headers":{"Authorization":["[redacted]"],"X-Key":["sk_test_[redacted]"]},"ts":1700000000.1234567}`,
		`not json: pi_3MtwBwLkdIwHu7ix28a3tqPa 1700000000000`,
	} {
		if leaks := findLeaks([]byte(line), plants); len(leaks) != 0 {
			t.Errorf("clean line %s: leaks %v", line, leaks)
		}
	}
	for _, line := range []string{
		`{"n":4242424242424242}`,
		`{"note":"paid with 5555 5555 5555 4444"}`,
		`{"Authorization":["Bearer abcdefghijklmnop"]}`,
		`{"k":"sk_live_abcdefghijkl"}`,
	} {
		if leaks := findLeaks([]byte(line), nil); len(leaks) == 0 {
			t.Errorf("unplanted secret in %s: not found", line)
		}
	}
}
