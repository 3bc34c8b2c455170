package apierror

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func TestClientGone(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	if err := ClientGone(r); err != nil {
		t.Fatalf("ClientGone with the client there = %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(r.Context())
	cancel()
	err := ClientGone(r.WithContext(ctx))
	he, ok := errors.AsType[caddyhttp.HandlerError](err)
	if !ok || he.StatusCode != StatusClientClosedRequest || !errors.Is(err, context.Canceled) {
		t.Fatalf("ClientGone after the client left = %v, want a 499 HandlerError wrapping context.Canceled", err)
	}
}
