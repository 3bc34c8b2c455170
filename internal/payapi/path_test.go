package payapi

import (
	"errors"
	"net/url"
	"path"
	"strings"
	"testing"
)

// ambiguousPaths are request targets that some server, framework or proxy
// reads differently from another; each must be refused. They are also the
// fuzz test's seeds.
var ambiguousPaths = []string{
	"/v1/payment_intents/pi_1%2F..%2Fpi_2",
	"/v1/payment_intents/pi_1%2f..%2fpi_2",
	"/v1/payment_intents%2Fpi_2",
	"/v1/payment_intents/pi_1%5C..%5Cpi_2",
	"/v1/payment_intents/pi_1%5c",
	"/v1/payment_intents/pi_1\\..\\pi_2",
	"/v1/payment_intents\\pi_2",
	"/v1/payment_intents/pi_1/../pi_2",
	"/v1/payment_intents/./pi_2",
	"/v1/payment_intents/pi_2/.",
	"/v1/payment_intents/%2e%2e/pi_2",
	"/v1/payment_intents/%2E%2E/pi_2",
	"/v1/payment_intents/.%2e/pi_2",
	"/v1/payment_intents/%2e/pi_2",
	"/v1/payment_intents//pi_2",
	"//v1/payment_intents/pi_2",
	"/v1/payment_intents/pi_2/",
	"/v1/payment_intents/pi_2;jsessionid=1",
	"/v1/payment_intents;x=1/pi_2",
	"/v1/payment_intents/pi_2%3B",
	"/v1/payment_intents/pi_2%00",
	"/v1/payment_intents/pi_2\x00",
	"/v1/payment_intents/pi_2%252F",
	"/v1/payment_intents/%70i_2",
	"/V1/payment_intents/pi_2",
	"/v1/Payment_Intents/pi_2",
	"/v1/PAYMENT_INTENTS/pi_2",
	"/v1/payment_intents/pi_2/CONFIRM",
	"/v1/Setup_Intents",
	"/v1/customers/ME",
	"/V1/anything",
	"/v1/payment_intents/pi 2",
	"/v1/payment_intents/pi_2\n",
	"/v1/payment_intents/pi_\u00e92",
	"/v1/payment_intents/pi_2?",
	"/v1/payment_intents/pi_2#x",
	"v1/payment_intents/pi_2",
	"",
	"/v1/payment_intents/" + strings.Repeat("a", maxSegment+1),
}

func TestMatchRefusesAmbiguousPaths(t *testing.T) {
	for _, p := range ambiguousPaths {
		if m, err := Default().Match("GET", p); err == nil || !errors.Is(err, ErrAmbiguousPath) {
			t.Errorf("Match(GET, %q) = %+v, %v; want an ErrAmbiguousPath", p, m, err)
		}
	}
}

func TestMatchAcceptsPlainPaths(t *testing.T) {
	for _, tt := range []struct {
		path string
		want []string
	}{
		{"/", nil},
		{"/v1/payment_intents", []string{"v1", "payment_intents"}},
		{"/v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa/confirm", []string{"v1", "payment_intents", "pi_3MtwBwLkdIwHu7ix28a3tqPa", "confirm"}},
		{"/v1/payment_methods/pm_1.a-b~c", []string{"v1", "payment_methods", "pm_1.a-b~c"}},
		{"/v1/payment_intents/" + strings.Repeat("a", maxSegment), []string{"v1", "payment_intents", strings.Repeat("a", maxSegment)}},
		// Upper case is fine where no route has a literal.
		{"/v1/payment_intents/PI_UPPER", []string{"v1", "payment_intents", "PI_UPPER"}},
		{"/v2/Other", []string{"v2", "Other"}},
	} {
		m, err := Default().Match("GET", tt.path)
		if err != nil || strings.Join(m.Segments, "/") != strings.Join(tt.want, "/") {
			t.Errorf("Match(GET, %q) segments %q, %v; want %q", tt.path, m.Segments, err, tt.want)
		}
	}
}

// FuzzMatchPath checks that whatever path Match accepts needs no decoding
// or cleaning (so every reader agrees on it), that its segments rebuild it,
// and that a matched route's ID is the path's segment in the "{id}" place.
func FuzzMatchPath(f *testing.F) {
	for _, p := range ambiguousPaths {
		f.Add(p)
	}
	f.Add("/v1/payment_intents/pi_1/confirm")
	f.Add("/v1/customers/me")
	f.Add("/v1/setup_intents/seti_1")
	tab := Default()
	f.Fuzz(func(t *testing.T, p string) {
		m, err := tab.Match("GET", p)
		if err != nil {
			if !errors.Is(err, ErrAmbiguousPath) {
				t.Fatalf("Match(%q): error %v does not wrap ErrAmbiguousPath", p, err)
			}
			return
		}
		if got := "/" + strings.Join(m.Segments, "/"); got != p {
			t.Fatalf("Match(%q): segments %q rebuild %q", p, m.Segments, got)
		}
		if u, err := url.PathUnescape(p); err != nil || u != p {
			t.Fatalf("Match accepted %q, which decodes to %q (%v)", p, u, err)
		}
		if path.Clean(p) != p {
			t.Fatalf("Match accepted %q, which cleans to %q", p, path.Clean(p))
		}
		if strings.ContainsAny(p, "\\;%\x00") {
			t.Fatalf("Match accepted %q", p)
		}
		for _, s := range m.Segments {
			if lower := strings.ToLower(s); lower != s && tab.literals[lower] {
				t.Fatalf("Match accepted %q, a case variant of %q", p, lower)
			}
			if len(s) > maxSegment {
				t.Fatalf("Match accepted a %d-byte segment", len(s))
			}
		}
		if m.Route != nil {
			if !m.Route.matches(m.Segments) || (m.ID != "") != (m.Route.idIndex >= 0) {
				t.Fatalf("Match(%q) = route %s, ID %q", p, m.Route.Template, m.ID)
			}
		}
		// What is accepted is sent on unchanged: Go's URL parsing agrees.
		u, err := url.Parse("https://h" + p)
		if err != nil || u.EscapedPath() != p || u.Path != p {
			t.Fatalf("Match accepted %q; url.Parse gives %q / %q (%v)", p, u.EscapedPath(), u.Path, err)
		}
	})
}
