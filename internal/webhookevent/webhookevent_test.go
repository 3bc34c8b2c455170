package webhookevent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// request returns a request with Caddy's request variables, as a handler
// sees it.
func request() *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", nil)
	return r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{}))
}

func TestMarkVerified(t *testing.T) {
	r := request()
	if _, ok := Verified(r); ok {
		t.Fatal("a request nothing marked is verified")
	}
	want := Event{ID: "evt_1", Type: "payment_intent.succeeded", Livemode: true, Created: 7, Body: []byte(`{}`)}
	Mark(r, want)
	got, ok := Verified(r)
	if !ok || got.ID != want.ID || got.Type != want.Type || !got.Livemode || got.Created != 7 || string(got.Body) != "{}" {
		t.Fatalf("Verified = %+v, %v; want %+v", got, ok, want)
	}
}

// A value of any other type under the variable's name (what the vars
// directive or another module could set) is not a mark.
func TestForgedMarkIsNotVerified(t *testing.T) {
	for _, forged := range []any{"true", true, Event{ID: "evt_1"}, &Event{ID: "evt_1"}, (*verified)(nil)} {
		r := request()
		caddyhttp.SetVar(r.Context(), varKey, forged)
		if ev, ok := Verified(r); ok {
			t.Errorf("%T under %s is verified: %+v", forged, varKey, ev)
		}
	}
}
