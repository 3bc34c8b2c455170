package payapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// TestDefaultTable pins the payment API: every route, its methods and
// actions, resource type and ID prefix.
func TestDefaultTable(t *testing.T) {
	want := []string{
		"POST /v1/payment_intents payment_intent.create payment_intent",
		"GET /v1/payment_intents/{id} payment_intent.get payment_intent pi_",
		"POST /v1/payment_intents/{id}/confirm payment_intent.confirm payment_intent pi_",
		"POST /v1/payment_intents/{id}/cancel payment_intent.cancel payment_intent pi_",
		"POST /v1/setup_intents setup_intent.create setup_intent",
		"GET /v1/setup_intents/{id} setup_intent.get setup_intent seti_",
		"GET /v1/payment_methods payment_method.list payment_method",
		"DELETE /v1/payment_methods/{id} payment_method.detach payment_method pm_",
		"DELETE /v1/customers/me customer.erase customer",
	}
	var got []string
	for _, r := range Default().Routes() {
		for _, e := range r.Endpoints {
			got = append(got, strings.TrimSpace(fmt.Sprintf("%s %s %s %s %s", e.Method, r.Template, e.Action, r.ResourceType, r.IDPrefix)))
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the payment API is\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestMatch(t *testing.T) {
	tab, err := New(append(append([]Route(nil), defaultRoutes...),
		Route{Template: "/v1/customers/{id}", ResourceType: "customer", IDPrefix: "cus_",
			Endpoints: []Endpoint{{Method: http.MethodGet, Action: "customer.get"}, {Method: http.MethodPost, Action: "customer.update"}}}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		method, path string
		template, id string
		action       string // "" when the route does not take the method
		allow        string
	}{
		{"POST", "/v1/payment_intents", "/v1/payment_intents", "", "payment_intent.create", "POST"},
		{"GET", "/v1/payment_intents", "/v1/payment_intents", "", "", "POST"},
		{"GET", "/v1/payment_intents/pi_1", "/v1/payment_intents/{id}", "pi_1", "payment_intent.get", "GET"},
		{"POST", "/v1/payment_intents/pi_1/confirm", "/v1/payment_intents/{id}/confirm", "pi_1", "payment_intent.confirm", "POST"},
		{"POST", "/v1/payment_intents/pi_1/refund", "", "", "", ""},
		{"GET", "/v1/setup_intents/seti_1", "/v1/setup_intents/{id}", "seti_1", "setup_intent.get", "GET"},
		{"DELETE", "/v1/payment_methods/pm_1", "/v1/payment_methods/{id}", "pm_1", "payment_method.detach", "DELETE"},
		// A literal template wins over one with {id}, whatever their order.
		{"DELETE", "/v1/customers/me", "/v1/customers/me", "", "customer.erase", "DELETE"},
		{"GET", "/v1/customers/me", "/v1/customers/me", "", "", "DELETE"},
		{"GET", "/v1/customers/cus_1", "/v1/customers/{id}", "cus_1", "customer.get", "GET, POST"},
		{"PATCH", "/v1/customers/cus_1", "/v1/customers/{id}", "cus_1", "", "GET, POST"},
		// Methods are matched exactly: "post" is not POST.
		{"post", "/v1/payment_intents", "/v1/payment_intents", "", "", "POST"},
		{"GET", "/v1", "", "", "", ""},
		{"GET", "/", "", "", "", ""},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			m, err := tab.Match(tt.method, tt.path)
			if err != nil {
				t.Fatal(err)
			}
			var template, action, allow string
			if m.Route != nil {
				template, allow = m.Route.Template, m.Route.Allow()
			}
			if m.Endpoint != nil {
				action = m.Endpoint.Action
			}
			if template != tt.template || m.ID != tt.id || action != tt.action || allow != tt.allow {
				t.Errorf("got route %q, id %q, action %q, allow %q; want %q, %q, %q, %q",
					template, m.ID, action, allow, tt.template, tt.id, tt.action, tt.allow)
			}
		})
	}
}

func TestKnown(t *testing.T) {
	for _, m := range []string{"GET", "POST", "DELETE", "HEAD", "OPTIONS"} {
		if !Default().Known(m) {
			t.Errorf("Known(%s) = false, want true", m)
		}
	}
	// No route takes PUT or PATCH; TRACE and CONNECT are never served;
	// methods are case-sensitive (RFC 9110, section 9.1).
	for _, m := range []string{"PUT", "PATCH", "TRACE", "CONNECT", "post", "Get", "FOO", ""} {
		if Default().Known(m) {
			t.Errorf("Known(%q) = true, want false", m)
		}
	}
}

func TestValidID(t *testing.T) {
	pi := &Route{IDPrefix: "pi_"}
	anyID := &Route{}
	for _, tt := range []struct {
		r    *Route
		id   string
		want bool
	}{
		{pi, "pi_3MtwBwLkdIwHu7ix28a3tqPa", true},
		{pi, "pi_a_b", true},
		{pi, "pi_" + strings.Repeat("a", maxIDBody), true},
		{pi, "pi_" + strings.Repeat("a", maxIDBody+1), false},
		{pi, "pi_", false},
		{pi, "pm_1", false},
		{pi, "seti_1", false},
		{pi, "pi_1.2", false},
		{pi, "pi_1-2", false},
		{pi, "xpi_1", false},
		{anyID, "whatever.it-is", true},
		{anyID, "", false},
	} {
		if got := tt.r.ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) with prefix %q = %v, want %v", tt.id, tt.r.IDPrefix, got, tt.want)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	ok := Endpoint{Method: http.MethodGet, Action: "a.get"}
	for name, tt := range map[string]struct {
		routes  []Route
		wantErr string
	}{
		"relative":              {[]Route{{Template: "v1/a", ResourceType: "a"}}, "absolute path"},
		"root":                  {[]Route{{Template: "/", ResourceType: "a"}}, "absolute path"},
		"two ids":               {[]Route{{Template: "/v1/{id}/{id}", ResourceType: "a"}}, "more than one {id}"},
		"upper-case literal":    {[]Route{{Template: "/V1/a", ResourceType: "a"}}, `segment "V1"`},
		"empty segment":         {[]Route{{Template: "/v1//a", ResourceType: "a"}}, `segment ""`},
		"other placeholder":     {[]Route{{Template: "/v1/{name}", ResourceType: "a"}}, `segment "{name}"`},
		"bad resource type":     {[]Route{{Template: "/v1/a", ResourceType: "Payment-Intent"}}, "invalid resource type"},
		"duplicate":             {[]Route{{Template: "/v1/a", ResourceType: "a"}, {Template: "/v1/a", ResourceType: "b"}}, "duplicate template"},
		"prefix without id":     {[]Route{{Template: "/v1/a", ResourceType: "a", IDPrefix: "a_"}}, "ID prefix without {id}"},
		"lower-case method":     {[]Route{{Template: "/v1/a", ResourceType: "a", Endpoints: []Endpoint{{Method: "get", Action: "a.get"}}}}, `method "get"`},
		"extension method":      {[]Route{{Template: "/v1/a", ResourceType: "a", Endpoints: []Endpoint{{Method: "PURGE", Action: "a.purge"}}}}, `method "PURGE"`},
		"method twice":          {[]Route{{Template: "/v1/a", ResourceType: "a", Endpoints: []Endpoint{ok, ok}}}, "GET given twice"},
		"endpoint sans action":  {[]Route{{Template: "/v1/a", ResourceType: "a", Endpoints: []Endpoint{{Method: "GET"}}}}, "without an action"},
		"trace is not a method": {[]Route{{Template: "/v1/a", ResourceType: "a", Endpoints: []Endpoint{{Method: "TRACE", Action: "a.trace"}}}}, `method "TRACE"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(tt.routes)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestNewCopies: a table does not share its routes with the caller's.
func TestNewCopies(t *testing.T) {
	routes := []Route{{Template: "/v1/a", ResourceType: "a", Endpoints: []Endpoint{{Method: http.MethodGet, Action: "a.get"}}}}
	tab, err := New(routes)
	if err != nil {
		t.Fatal(err)
	}
	routes[0].Template, routes[0].Endpoints[0].Method = "/v1/b", http.MethodPost
	if m, _ := tab.Match(http.MethodGet, "/v1/a"); m.Endpoint == nil {
		t.Errorf("the table changed with the caller's routes")
	}
}

func TestMethodNotAllowed(t *testing.T) {
	e := MethodNotAllowed("GET, POST")
	if e.Status != http.StatusMethodNotAllowed || e.Code != "method_not_allowed" || e.Header.Get("Allow") != "GET, POST" {
		t.Errorf("got %d %s Allow %q", e.Status, e.Code, e.Header.Get("Allow"))
	}
	if errMethodNotAllowed.Header != nil {
		t.Errorf("MethodNotAllowed changed the shared error")
	}
}

// TestMatchRequest: the request's match is read once and reused, for the
// same table, method and path only.
func TestMatchRequest(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "https://pay.example.com/v1/payment_intents/pi_1", nil)
	r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), httptest.NewRecorder(), &caddyhttp.Server{})
	first, err := Default().MatchRequest(r)
	if err != nil || first.ID != "pi_1" {
		t.Fatalf("MatchRequest = %+v, %v", first, err)
	}
	again, _ := Default().MatchRequest(r)
	if &again.Segments[0] != &first.Segments[0] {
		t.Error("the second stage's match was computed again")
	}
	other := mustNew([]Route{{Template: "/v1/payment_intents/{id}", ResourceType: "payment_intent", Endpoints: []Endpoint{{Method: http.MethodGet, Action: "payment_intent.get"}}}})
	if m, _ := other.MatchRequest(r); &m.Segments[0] == &first.Segments[0] {
		t.Error("another table reused this table's match")
	}
	r.URL.Path = "/v1/payment_intents/pi_2"
	if m, _ := Default().MatchRequest(r); m.ID != "pi_2" {
		t.Errorf("after a rewrite: ID %q, want pi_2", m.ID)
	}
	r.URL.Path = "/v1/payment_intents"
	if m, _ := Default().MatchRequest(r); m.Endpoint != nil {
		t.Errorf("GET of the collection: endpoint %+v, want none", m.Endpoint)
	}
	r.Method = http.MethodPost
	if m, _ := Default().MatchRequest(r); m.Endpoint == nil || m.Endpoint.Method != http.MethodPost {
		t.Errorf("after a method change: endpoint %+v", m.Endpoint)
	}
}
