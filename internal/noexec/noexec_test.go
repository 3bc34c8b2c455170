package noexec

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func TestMark(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/v1/payment_intents", nil)
	r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{}))
	if Marked(r) {
		t.Fatal("an unmarked request is marked")
	}
	caddyhttp.SetVar(r.Context(), varKey, "true")
	if Marked(r) {
		t.Fatal("a string under the variable's name counts as the mark")
	}
	Mark(r)
	if !Marked(r) {
		t.Fatal("Mark did not mark")
	}
}
