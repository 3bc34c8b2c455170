package scheme

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func TestOf(t *testing.T) {
	tests := []struct {
		name    string
		tls     bool
		trusted bool
		proto   []string
		want    string
	}{
		{"plain", false, false, nil, "http"},
		{"tls", true, false, nil, "https"},
		{"untrusted proxy says https", false, false, []string{"https"}, "http"},
		{"trusted proxy says https", false, true, []string{"https"}, "https"},
		{"trusted proxy, case and spaces", false, true, []string{" HTTPS "}, "https"},
		{"trusted proxy says http", false, true, []string{"http"}, "http"},
		{"client-sent https before the proxy's http", false, true, []string{"https, http"}, "http"},
		{"the last header line counts", false, true, []string{"http", "https"}, "https"},
		{"trusted proxy, no header", false, true, nil, "http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if !tt.tls {
				r.TLS = nil
			} else {
				r.TLS = &tls.ConnectionState{}
			}
			for _, v := range tt.proto {
				r.Header.Add("X-Forwarded-Proto", v)
			}
			vars := map[string]any{caddyhttp.TrustedProxyVarKey: tt.trusted}
			r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, vars))
			if got := Of(r); got != tt.want {
				t.Errorf("Of = %q, want %q", got, tt.want)
			}
		})
	}
}
