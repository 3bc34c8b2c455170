package opaauthz

import (
	"errors"
	"net/url"
	"path"
	"strings"
	"testing"
)

func defaultTable(t testing.TB) *routeTable {
	t.Helper()
	rt, err := newRouteTable(DefaultRoutes())
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

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

func TestCheckPathRefusesAmbiguity(t *testing.T) {
	rt := defaultTable(t)
	for _, p := range ambiguousPaths {
		if segs, err := rt.checkPath(p); err == nil || !errors.Is(err, errPath) {
			t.Errorf("checkPath(%q) = %q, %v; want an errPath", p, segs, err)
		}
	}
}

func TestCheckPathAccepts(t *testing.T) {
	rt := defaultTable(t)
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
	} {
		got, err := rt.checkPath(tt.path)
		if err != nil || strings.Join(got, "/") != strings.Join(tt.want, "/") {
			t.Errorf("checkPath(%q) = %q, %v; want %q", tt.path, got, err, tt.want)
		}
	}
}

// FuzzCheckPath checks that whatever checkPath accepts needs no decoding or
// cleaning (so every reader agrees on it) and that its segments rebuild it.
func FuzzCheckPath(f *testing.F) {
	for _, p := range ambiguousPaths {
		f.Add(p)
	}
	f.Add("/v1/payment_intents/pi_1/confirm")
	f.Add("/v1/customers/me")
	rt := defaultTable(f)
	f.Fuzz(func(t *testing.T, p string) {
		segs, err := rt.checkPath(p)
		if err != nil {
			if !errors.Is(err, errPath) {
				t.Fatalf("checkPath(%q): error %v does not wrap errPath", p, err)
			}
			return
		}
		if got := "/" + strings.Join(segs, "/"); got != p {
			t.Fatalf("checkPath(%q): segments %q rebuild %q", p, segs, got)
		}
		if u, err := url.PathUnescape(p); err != nil || u != p {
			t.Fatalf("checkPath accepted %q, which decodes to %q (%v)", p, u, err)
		}
		if path.Clean(p) != p {
			t.Fatalf("checkPath accepted %q, which cleans to %q", p, path.Clean(p))
		}
		if strings.ContainsAny(p, "\\;%\x00") {
			t.Fatalf("checkPath accepted %q", p)
		}
		for _, s := range segs {
			if lower := strings.ToLower(s); lower != s && rt.literals[lower] {
				t.Fatalf("checkPath accepted %q, a case variant of %q", p, lower)
			}
			if len(s) > maxSegment {
				t.Fatalf("checkPath accepted a %d-byte segment", len(s))
			}
		}
		// What is accepted is sent on unchanged: Go's URL parsing agrees.
		u, err := url.Parse("https://h" + p)
		if err != nil || u.EscapedPath() != p || u.Path != p {
			t.Fatalf("checkPath accepted %q; url.Parse gives %q / %q (%v)", p, u.EscapedPath(), u.Path, err)
		}
	})
}

func TestRouteMatch(t *testing.T) {
	rt, err := newRouteTable(append(DefaultRoutes(), Route{Template: "/v1/customers/{id}", ResourceType: "customer"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path, template, id string
	}{
		{"/v1/payment_intents", "/v1/payment_intents", ""},
		{"/v1/payment_intents/pi_1", "/v1/payment_intents/{id}", "pi_1"},
		{"/v1/payment_intents/pi_1/confirm", "/v1/payment_intents/{id}/confirm", "pi_1"},
		{"/v1/payment_intents/pi_1/refund", "", ""},
		{"/v1/payment_methods/pm_1", "/v1/payment_methods/{id}", "pm_1"},
		// A literal template wins over one with {id}, whatever their order.
		{"/v1/customers/me", "/v1/customers/me", ""},
		{"/v1/customers/cus_1", "/v1/customers/{id}", "cus_1"},
		{"/v1", "", ""},
		{"/", "", ""},
	} {
		segs, err := rt.checkPath(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		r, id := rt.match(segs)
		template := ""
		if r != nil {
			template = r.template
		}
		if template != tt.template || id != tt.id {
			t.Errorf("match(%s) = %q, %q; want %q, %q", tt.path, template, id, tt.template, tt.id)
		}
	}
}
