// Package payapi is paygate's payment API as data: each route's path
// template, the methods it takes and the action each names, the type of
// resource it addresses and what that resource's IDs look like.
//
// It is the one place these facts live. Every stage that needs to know "is
// this the API, which route, which methods" reads it: api_methods answers
// 405 and 501 from it, opa_authz builds the policy input's route and
// resource from it (and parses its custom routes with it), payments
// dispatches by it, and stages that key on a route use Route.Template.
package payapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/claimname"
)

// Endpoint is one method of a route.
type Endpoint struct {
	// Method is the HTTP method, upper-case, e.g. "POST".
	Method string
	// Action names what the endpoint does, e.g. "payment_intent.create":
	// the action of its audit events and metric series.
	Action string
	// KeyRequired says that a request must carry an Idempotency-Key
	// (400 idempotency_key_missing without one): the payment handler and
	// the idempotency stage both require it there.
	KeyRequired bool
}

// Route is one path template of an API and the endpoints on it.
type Route struct {
	// Template is an absolute path whose segments are lower-case literals
	// or "{id}", the ID of the resource the request addresses (at most one
	// per template), e.g. "/v1/payment_intents/{id}/confirm".
	Template string
	// ResourceType is the type of resource the route acts on, e.g.
	// "payment_intent" (claimname.Valid).
	ResourceType string
	// IDPrefix is what every ID in the "{id}" place starts with, e.g.
	// "pi_"; empty for a route that takes any ID.
	IDPrefix string
	// Endpoints are the methods the route takes. A route may have none
	// (opa_authz's custom routes, whose methods paygate does not know):
	// Match then finds no Endpoint for it, whatever the method.
	Endpoints []Endpoint

	segments []string
	// idIndex is the index of the "{id}" segment, or -1.
	idIndex int
	// allow is the Allow header's value: the endpoints' methods.
	allow string
}

// idSegment is the template segment that stands for the resource ID.
const idSegment = "{id}"

// maxIDBody bounds the part of an ID after its prefix: Stripe's IDs are
// far shorter, and an ID goes into store keys and audit events.
const maxIDBody = 250

// Allow is the value of the Allow header for the route: its methods,
// comma-separated, in the table's order.
func (r *Route) Allow() string { return r.allow }

// ValidID reports whether id, the segment in the template's "{id}" place,
// is an ID of the route's resource: IDPrefix, then 1 to 250 letters, digits
// and '_'. A route without IDPrefix takes any ID that checkPath accepted.
func (r *Route) ValidID(id string) bool {
	if r.IDPrefix == "" {
		return id != ""
	}
	body, ok := strings.CutPrefix(id, r.IDPrefix)
	if !ok || body == "" || len(body) > maxIDBody {
		return false
	}
	for i := 0; i < len(body); i++ {
		if c := body[i]; (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// endpoint returns the route's endpoint for method, or nil.
func (r *Route) endpoint(method string) *Endpoint {
	for i := range r.Endpoints {
		if r.Endpoints[i].Method == method {
			return &r.Endpoints[i]
		}
	}
	return nil
}

// matches reports whether segments have the template's shape.
func (r *Route) matches(segments []string) bool {
	if len(segments) != len(r.segments) {
		return false
	}
	for i, s := range r.segments {
		if i != r.idIndex && s != segments[i] {
			return false
		}
	}
	return true
}

// Table is a parsed set of routes. It is read-only once built, so one table
// serves every request concurrently.
type Table struct {
	routes []*Route
	// literals are the templates' literal segments, against which case
	// variants are detected.
	literals map[string]bool
	// methods are the methods some endpoint takes.
	methods map[string]bool
}

// New parses routes into a table. Templates must be unique.
func New(routes []Route) (*Table, error) {
	t := &Table{literals: map[string]bool{}, methods: map[string]bool{}}
	seen := map[string]bool{}
	for _, r := range routes {
		rt, err := parseRoute(r)
		if err != nil {
			return nil, err
		}
		if seen[rt.Template] {
			return nil, fmt.Errorf("route %s: duplicate template", rt.Template)
		}
		seen[rt.Template] = true
		for i, s := range rt.segments {
			if i != rt.idIndex {
				t.literals[s] = true
			}
		}
		for _, e := range rt.Endpoints {
			t.methods[e.Method] = true
		}
		t.routes = append(t.routes, rt)
	}
	return t, nil
}

// parseRoute checks r and returns a parsed copy.
func parseRoute(r Route) (*Route, error) {
	if !claimname.Valid(r.ResourceType) {
		return nil, fmt.Errorf("route %s: invalid resource type %q (want lower-case letters, digits and '_')", r.Template, r.ResourceType)
	}
	if !strings.HasPrefix(r.Template, "/") || r.Template == "/" {
		return nil, fmt.Errorf("route %q: the template must be an absolute path with at least one segment", r.Template)
	}
	rt := r
	rt.Endpoints = slices.Clone(r.Endpoints)
	rt.segments, rt.idIndex = nil, -1
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
	if r.IDPrefix != "" && rt.idIndex < 0 {
		return nil, fmt.Errorf("route %s: an ID prefix without %s", r.Template, idSegment)
	}
	methods := make([]string, 0, len(r.Endpoints))
	for _, e := range r.Endpoints {
		switch {
		case !canonicalMethod(e.Method):
			return nil, fmt.Errorf("route %s: method %q is not an upper-case HTTP method", r.Template, e.Method)
		case slices.Contains(methods, e.Method):
			return nil, fmt.Errorf("route %s: method %s given twice", r.Template, e.Method)
		case e.Action == "":
			return nil, fmt.Errorf("route %s: %s without an action", r.Template, e.Method)
		}
		methods = append(methods, e.Method)
	}
	rt.allow = strings.Join(methods, ", ")
	return &rt, nil
}

// canonicalMethod reports whether m is one of RFC 9110's methods that a
// route may take, spelled as the RFC does.
func canonicalMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// Routes returns the table's routes, in their order. They are shared: the
// caller must not change them.
func (t *Table) Routes() []*Route { return t.routes }

// Known reports whether method is one the API recognizes: a method some
// route takes, or HEAD or OPTIONS, which every HTTP server recognizes (RFC
// 9110, section 9) and to which a route that does not take them answers
// 405 with its Allow list. Anything else (PUT or TRACE where no route takes
// them, "post", extension methods) the API does not implement at all: 501.
func (t *Table) Known(method string) bool {
	return t.methods[method] || method == http.MethodHead || method == http.MethodOptions
}

// Match is what the table says about one request.
type Match struct {
	// Route is the route whose template the path matches, or nil when the
	// path is no route of the table.
	Route *Route
	// Endpoint is the route's endpoint for the request's method, or nil
	// when the route does not take the method (405).
	Endpoint *Endpoint
	// ID is the segment in the template's "{id}" place, or "". It is not
	// checked against the route's ID shape: see Route.ValidID.
	ID string
	// Segments are the path's segments, which rebuild it exactly.
	Segments []string
}

// Match finds the route of a request. path is the path as it is sent on
// (url.URL.EscapedPath); one that is ambiguous is refused with an error
// wrapping ErrAmbiguousPath (see checkPath). A template without "{id}" wins
// over one with it, whatever their order.
func (t *Table) Match(method, path string) (Match, error) {
	segments, err := t.checkPath(path)
	if err != nil {
		return Match{}, err
	}
	m := Match{Segments: segments}
	for _, rt := range t.routes {
		if !rt.matches(segments) {
			continue
		}
		if m.Route == nil || m.Route.idIndex >= 0 && rt.idIndex < 0 {
			m.Route = rt
		}
	}
	if m.Route == nil {
		return m, nil
	}
	if m.Route.idIndex >= 0 {
		m.ID = segments[m.Route.idIndex]
	}
	m.Endpoint = m.Route.endpoint(method)
	return m, nil
}

// matched is a remembered Match. Its type is unexported, so nothing
// outside this package (a client, or a vars directive) can plant one.
type matched struct {
	table        *Table
	method, path string
	m            Match
	err          error
}

// matchVar is the Caddy request variable that remembers the request's
// Match.
const matchVar = "paygate.payapi.match"

// MatchRequest is Match for r's method and path, remembered for the rest of
// the request: every stage that consults the table (methods, policy,
// idempotency, rate limits, the payment handler) reads the path once. A
// remembered answer is used only for the same table, method and path.
// Outside a Caddy request it is Match.
func (t *Table) MatchRequest(r *http.Request) (Match, error) {
	path := r.URL.EscapedPath()
	if p, ok := caddyhttp.GetVar(r.Context(), matchVar).(*matched); ok && p.table == t && p.method == r.Method && p.path == path {
		return p.m, p.err
	}
	m, err := t.Match(r.Method, path)
	caddyhttp.SetVar(r.Context(), matchVar, &matched{table: t, method: r.Method, path: path, m: m, err: err})
	return m, err
}
