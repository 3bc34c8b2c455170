package opaauthz

import (
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/paygate/paygate/internal/headerstrip"
	"github.com/paygate/paygate/internal/ownership"
	"github.com/paygate/paygate/internal/payapi"
	"github.com/paygate/paygate/internal/redact"
)

// input is one request's input document and what the handler needs to
// answer and audit it.
//
// The document (policies/README.md has the reference), built by value:
//
//	{
//	  "method":    "POST",
//	  "path":      "/v1/payment_intents/pi_123/confirm",
//	  "segments":  ["v1", "payment_intents", "pi_123", "confirm"],
//	  "route":     {"template": "/v1/payment_intents/{id}/confirm",
//	                "resource_type": "payment_intent", "resource_id": "pi_123"},
//	  "user":      {"sub": "user_42", "claims": {"role": "support"}},
//	  "client_ip": "203.0.113.7",
//	  "time":      "2026-05-01T12:00:00.123456789Z",
//	  "resource":  {"type": "payment_intent", "id": "pi_123",
//	                "owner": "user_42", "exists": true}
//	}
//
// Every key is always present; what is unknown is "" (or false for exists):
// a path no route matches has an empty route and resource, a route without
// "{id}" an empty resource id and owner, an unauthenticated request an empty
// sub. The path is the one sent on, which payapi's Match has proven to need no
// decoding or cleaning.
type input struct {
	now      time.Time
	method   string
	segments []string
	sub      string
	// claims are the configured claims the caller has, in configuration
	// order.
	claims   []claim
	clientIP string
	// route is the matched route, or nil.
	route *payapi.Route
	// resourceID is the ID in the path, or "".
	resourceID string
	owner      string
	exists     bool
}

// claim is one claim copied into input.user.claims.
type claim struct{ name, value string }

// buildInput reads what the input document holds from r. It returns an
// error wrapping payapi.ErrAmbiguousPath for an ambiguous path, or the
// store's error when the owner could not be looked up; in both cases in
// holds what is known for the audit log.
func (h *Handler) buildInput(r *http.Request) (*input, error) {
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	in := &input{now: h.now(), method: r.Method}
	in.sub = placeholder(repl, "http.auth.user.id")
	// Caddy's trusted_proxies resolution; never a client-sent header.
	in.clientIP, _ = caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)

	m, err := h.routes.MatchRequest(r)
	if err != nil {
		return in, err
	}
	in.segments = m.Segments
	in.route, in.resourceID = m.Route, m.ID

	if in.resourceID != "" {
		// One store round trip, only for routes that address a resource;
		// the payment handler's own check reuses the answer.
		in.owner, in.exists, err = ownership.OwnerForRequest(r.Context(), h.store, in.resourceID)
		if err != nil {
			return in, err
		}
	}
	for _, c := range h.Claims {
		if v := placeholder(repl, "http.auth.user."+c); v != "" {
			in.claims = append(in.claims, claim{c, v})
		}
	}
	return in, nil
}

// routeFacts are the matched route's template and resource type, "" when
// no route matched.
func (in *input) routeFacts() (template, resourceType string) {
	if in.route == nil {
		return "", ""
	}
	return in.route.Template, in.route.ResourceType
}

// value is the input document as OPA's value, built directly (no
// conversion from Go maps, no JSON round trip).
func (in *input) value() ast.Value {
	return in.withTime(in.timeless())
}

// timeless is the input document's members but its time. They are never
// changed once built, so that a cached decision can keep them for the
// decision logs of later requests with the same input (time aside).
func (in *input) timeless() [][2]*ast.Term {
	template, resourceType := in.routeFacts()
	segs := make([]*ast.Term, len(in.segments))
	for i, s := range in.segments {
		segs[i] = ast.StringTerm(s)
	}
	claims := ast.NewObject()
	for _, c := range in.claims {
		claims.Insert(ast.StringTerm(c.name), ast.StringTerm(c.value))
	}
	return [][2]*ast.Term{
		ast.Item(ast.InternedTerm("method"), ast.StringTerm(in.method)),
		ast.Item(ast.InternedTerm("path"), ast.StringTerm("/"+strings.Join(in.segments, "/"))),
		ast.Item(ast.InternedTerm("segments"), ast.ArrayTerm(segs...)),
		ast.Item(ast.InternedTerm("route"), ast.ObjectTerm(
			ast.Item(ast.InternedTerm("template"), ast.StringTerm(template)),
			ast.Item(ast.InternedTerm("resource_type"), ast.StringTerm(resourceType)),
			ast.Item(ast.InternedTerm("resource_id"), ast.StringTerm(in.resourceID)),
		)),
		ast.Item(ast.InternedTerm("user"), ast.ObjectTerm(
			ast.Item(ast.InternedTerm("sub"), ast.StringTerm(in.sub)),
			ast.Item(ast.InternedTerm("claims"), ast.NewTerm(claims)),
		)),
		ast.Item(ast.InternedTerm("client_ip"), ast.StringTerm(in.clientIP)),
		ast.Item(ast.InternedTerm("resource"), ast.ObjectTerm(
			ast.Item(ast.InternedTerm("type"), ast.StringTerm(resourceType)),
			ast.Item(ast.InternedTerm("id"), ast.StringTerm(in.resourceID)),
			ast.Item(ast.InternedTerm("owner"), ast.StringTerm(in.owner)),
			ast.Item(ast.InternedTerm("exists"), ast.BooleanTerm(in.exists)),
		)),
	}
}

// withTime is the input document made of members (from timeless) and the
// request's time.
func (in *input) withTime(members [][2]*ast.Term) ast.Value {
	doc := ast.NewObject(members...)
	doc.Insert(ast.InternedTerm("time"), ast.StringTerm(in.timeText()))
	return doc
}

// timeText is the input document's time: the request's, to the nanosecond.
func (in *input) timeText() string {
	return in.now.UTC().Format(time.RFC3339Nano)
}

// placeholder returns the value of a request placeholder, or "".
func placeholder(repl *caddy.Replacer, key string) string {
	if repl == nil {
		return ""
	}
	v, _ := repl.GetString(key)
	return v
}

// resourceRoute reports whether the request addressed one resource, whose
// denial must look like its absence.
func (in *input) resourceRoute() bool {
	return in.resourceID != ""
}

// auditResource is what the audit event names as the resource: the ID in
// the path, else the route template, else nothing (the raw path of a
// refused request is not logged).
func (in *input) auditResource() string {
	switch {
	case in.resourceID != "":
		return in.resourceID
	case in.route != nil:
		return in.route.Template
	}
	return ""
}

// methodOverrideHeaders are the headers some frameworks read to replace the
// request method.
var methodOverrideHeaders = headerstrip.NewNames("X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override")

// stripMethodOverrides removes every method-override header, whatever its
// case or '_' spelling.
func stripMethodOverrides(h http.Header) {
	methodOverrideHeaders.Strip(h)
}

// headerSelection is the list of request headers recorded in decision logs
// (canonical names).
type headerSelection []string

func newHeaderSelection(names []string) headerSelection {
	s := make(headerSelection, len(names))
	for i, n := range names {
		s[i] = textproto.CanonicalMIMEHeaderKey(n)
	}
	return s
}

// masked replaces the value of a sensitive header in decision logs.
const masked = "[masked]"

// record returns the selected headers of h for the decision log, with the
// values of sensitive ones masked, or nil when none are selected.
func (s headerSelection) record(h http.Header) http.Header {
	if len(s) == 0 {
		return nil
	}
	out := make(http.Header, len(s))
	for _, name := range s {
		values := h.Values(name)
		if len(values) == 0 {
			continue
		}
		if redact.SensitiveHeader(name) {
			out[name] = []string{masked}
			continue
		}
		out[name] = append([]string(nil), values...)
	}
	return out
}
