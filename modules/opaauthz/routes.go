package opaauthz

import (
	"errors"
	"fmt"
	"strings"

	"github.com/paygate/paygate/internal/claimname"
)

// Route maps a path template to the type of resource it addresses.
type Route struct {
	// Template is an absolute path whose segments are literals or "{id}",
	// the ID of the resource the request addresses (at most one per
	// template), e.g. "/v1/payment_intents/{id}/confirm". Literals are
	// lower-case. A request path matches a template with the same number of
	// segments whose literals are equal; a template without "{id}" wins over
	// one with it. Required.
	Template string `json:"template"`

	// ResourceType is the type of resource the route acts on, e.g.
	// "payment_intent" (lower-case letters, digits and '_'); it is
	// input.route.resource_type and input.resource.type. Required.
	ResourceType string `json:"resource_type"`
}

// DefaultRoutes returns the routes of paygate's payment API (DESIGN.md,
// section 3), used when none are configured.
func DefaultRoutes() []Route {
	return []Route{
		{Template: "/v1/payment_intents", ResourceType: "payment_intent"},
		{Template: "/v1/payment_intents/{id}", ResourceType: "payment_intent"},
		{Template: "/v1/payment_intents/{id}/confirm", ResourceType: "payment_intent"},
		{Template: "/v1/payment_intents/{id}/cancel", ResourceType: "payment_intent"},
		{Template: "/v1/setup_intents", ResourceType: "setup_intent"},
		{Template: "/v1/setup_intents/{id}", ResourceType: "setup_intent"},
		{Template: "/v1/payment_methods", ResourceType: "payment_method"},
		{Template: "/v1/payment_methods/{id}", ResourceType: "payment_method"},
		{Template: "/v1/customers/me", ResourceType: "customer"},
	}
}

// idSegment is the template segment that stands for the resource ID.
const idSegment = "{id}"

// maxSegment is the longest path segment accepted, in bytes. No ID of the
// API comes near it; a longer one is refused rather than looked up, logged
// and audited.
const maxSegment = 255

// route is a parsed Route.
type route struct {
	template     string
	resourceType string
	segments     []string
	// idIndex is the index of the "{id}" segment, or -1.
	idIndex int
}

// routeTable holds the parsed routes and the set of their literal segments,
// against which case variants are detected.
type routeTable struct {
	routes   []*route
	literals map[string]bool
}

func newRouteTable(routes []Route) (*routeTable, error) {
	t := &routeTable{literals: map[string]bool{}}
	seen := map[string]bool{}
	for _, r := range routes {
		rt, err := parseRoute(r)
		if err != nil {
			return nil, err
		}
		if seen[rt.template] {
			return nil, fmt.Errorf("route %s: duplicate template", r.Template)
		}
		seen[rt.template] = true
		for i, s := range rt.segments {
			if i != rt.idIndex {
				t.literals[s] = true
			}
		}
		t.routes = append(t.routes, rt)
	}
	return t, nil
}

func parseRoute(r Route) (*route, error) {
	if !validResourceType(r.ResourceType) {
		return nil, fmt.Errorf("route %s: invalid resource type %q (want lower-case letters, digits and '_')", r.Template, r.ResourceType)
	}
	rt := &route{template: r.Template, resourceType: r.ResourceType, idIndex: -1}
	if !strings.HasPrefix(r.Template, "/") || r.Template == "/" {
		return nil, fmt.Errorf("route %q: the template must be an absolute path with at least one segment", r.Template)
	}
	for i, s := range strings.Split(r.Template[1:], "/") {
		if s == idSegment {
			if rt.idIndex >= 0 {
				return nil, fmt.Errorf("route %s: more than one %s", r.Template, idSegment)
			}
			rt.idIndex = i
		} else if err := checkSegment(s); err != nil || s != strings.ToLower(s) {
			return nil, fmt.Errorf("route %s: segment %q must be %s or a lower-case literal of letters, digits, '-', '.', '_' and '~'", r.Template, s, idSegment)
		}
		rt.segments = append(rt.segments, s)
	}
	return rt, nil
}

func validResourceType(s string) bool {
	return claimname.Valid(s)
}

// errPath is wrapped by every reason checkPath gives.
var errPath = errors.New("ambiguous path")

// checkPath accepts only request paths that every server, framework and
// proxy reads the same way, and returns their segments. p is the path as it
// is sent on (url.URL.EscapedPath). It refuses, with an error wrapping
// errPath:
//
//   - percent-encoding of any byte: encoded '/' or '\' (%2F, %5C), encoded
//     dots (%2e), NUL (%00), double encoding (%25); no API path needs it;
//   - any character other than '/' and RFC 3986's unreserved ones (letters,
//     digits, '-', '.', '_', '~'), which takes in backslashes, ';'
//     parameters, spaces and non-ASCII bytes;
//   - dot segments ("." and ".."), empty segments ("//" and a trailing '/')
//     and segments longer than maxSegment bytes;
//   - a segment that differs only in case from a literal of a route
//     template ("/V1/...", "/v1/Payment_Intents"), since Caddy's path
//     matcher and many applications match paths case-insensitively.
func (t *routeTable) checkPath(p string) ([]string, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("%w: it does not start with '/'", errPath)
	}
	if p == "/" {
		return nil, nil
	}
	segments := strings.Split(p[1:], "/")
	for _, s := range segments {
		if err := checkSegment(s); err != nil {
			return nil, err
		}
		if lower := strings.ToLower(s); lower != s && t.literals[lower] {
			return nil, fmt.Errorf("%w: a case variant of the route segment %q", errPath, lower)
		}
	}
	return segments, nil
}

// checkSegment applies checkPath's rules to one segment.
func checkSegment(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: an empty segment ('//' or a trailing '/')", errPath)
	case s == "." || s == "..":
		return fmt.Errorf("%w: a dot segment", errPath)
	case len(s) > maxSegment:
		return fmt.Errorf("%w: a segment longer than %d bytes", errPath, maxSegment)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case unreserved(c):
		case c == '%':
			return fmt.Errorf("%w: percent-encoding", errPath)
		case c == ';':
			return fmt.Errorf("%w: a ';' parameter", errPath)
		case c == '\\':
			return fmt.Errorf("%w: a backslash", errPath)
		default:
			return fmt.Errorf("%w: the character %q", errPath, c)
		}
	}
	return nil
}

// unreserved reports whether c is an RFC 3986 unreserved character.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// match returns the route for segments (nil when none matches) and the
// resource ID they carry ("" for a route without "{id}").
func (t *routeTable) match(segments []string) (*route, string) {
	var best *route
	for _, rt := range t.routes {
		if !rt.matches(segments) {
			continue
		}
		if best == nil || best.idIndex >= 0 && rt.idIndex < 0 {
			best = rt
		}
	}
	if best == nil || best.idIndex < 0 {
		return best, ""
	}
	return best, segments[best.idIndex]
}

func (rt *route) matches(segments []string) bool {
	if len(segments) != len(rt.segments) {
		return false
	}
	for i, s := range rt.segments {
		if i != rt.idIndex && s != segments[i] {
			return false
		}
	}
	return true
}
