package reqid

import (
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// TestFrom checks that every call for one request gives Caddy's UUID of
// that request, that another request gets another, and that a request
// variable of the same name set by configuration is not taken for it.
// (That the access log gets it as request_id is shown end to end, by
// TestRequestIDCorrelatesLogs.)
func TestFrom(t *testing.T) {
	newRequest := func() (*caddy.Replacer, func() string) {
		repl := caddy.NewReplacer()
		r := caddyhttp.PrepareRequest(httptest.NewRequest("GET", "https://pay.example.com/v1/x", nil), repl, httptest.NewRecorder(), &caddyhttp.Server{})
		caddyhttp.SetVar(r.Context(), idVar, "planted")
		return repl, func() string { return From(r) }
	}
	repl, from := newRequest()
	id := from()
	if want := repl.ReplaceKnown(placeholder, ""); id == "" || id != want {
		t.Fatalf("From = %q, want the request's UUID %q", id, want)
	}
	if again := from(); again != id {
		t.Errorf("second From = %q, want %q", again, id)
	}
	if _, other := newRequest(); other() == id {
		t.Error("two requests got one ID")
	}
}
