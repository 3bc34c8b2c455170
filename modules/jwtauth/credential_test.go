package jwtauth

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

const jwtLike = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1In0.c2ln"

func TestExtractCredential(t *testing.T) {
	tests := []struct {
		name       string
		header     http.Header
		cookie     string // the configured cookie name
		want       credential
		wantReason string
	}{
		{name: "bearer", header: http.Header{"Authorization": {"Bearer " + jwtLike}}, want: credential{jwtLike, sourceHeader}},
		{name: "scheme in any case", header: http.Header{"Authorization": {"BEARER " + jwtLike}}, want: credential{jwtLike, sourceHeader}},
		{name: "b64token with padding and symbols", header: http.Header{"Authorization": {"Bearer a-._~+/b=="}}, want: credential{"a-._~+/b==", sourceHeader}},
		{name: "cookie", cookie: "__Host-s", header: http.Header{"Cookie": {"x=1; __Host-s=" + jwtLike}}, want: credential{jwtLike, sourceCookie}},
		{name: "cookie split over two headers", cookie: "__Host-s", header: http.Header{"Cookie": {"x=1", "__Host-s=" + jwtLike}}, want: credential{jwtLike, sourceCookie}},
		{name: "same cookie twice", cookie: "__Host-s", header: http.Header{"Cookie": {"__Host-s=" + jwtLike + "; __Host-s=" + jwtLike}}, want: credential{jwtLike, sourceCookie}},
		{name: "empty cookie is no credential", cookie: "__Host-s", header: http.Header{"Cookie": {"__Host-s="}}, wantReason: reasonMissing},
		{name: "empty cookie beside the header", cookie: "__Host-s", header: http.Header{"Cookie": {"__Host-s="}, "Authorization": {"Bearer " + jwtLike}}, want: credential{jwtLike, sourceHeader}},
		{name: "cookie not configured", header: http.Header{"Cookie": {"__Host-s=" + jwtLike}}, wantReason: reasonMissing},
		{name: "cookie name in another case", cookie: "__Host-s", header: http.Header{"Cookie": {"__host-s=" + jwtLike}}, wantReason: reasonMissing},
		{name: "nothing", wantReason: reasonMissing},
		{name: "empty Authorization", header: http.Header{"Authorization": {""}}, wantReason: reasonMalformed},
		{name: "scheme only", header: http.Header{"Authorization": {"Bearer"}}, wantReason: reasonMalformed},
		{name: "scheme and space", header: http.Header{"Authorization": {"Bearer "}}, wantReason: reasonMalformed},
		{name: "padding only", header: http.Header{"Authorization": {"Bearer =="}}, wantReason: reasonMalformed},
		{name: "padding inside", header: http.Header{"Authorization": {"Bearer a=b"}}, wantReason: reasonMalformed},
		{name: "another scheme", header: http.Header{"Authorization": {"Token " + jwtLike}}, wantReason: reasonMalformed},
		{name: "tab separator", header: http.Header{"Authorization": {"Bearer\t" + jwtLike}}, wantReason: reasonMalformed},
		{name: "trailing space", header: http.Header{"Authorization": {"Bearer " + jwtLike + " "}}, wantReason: reasonMalformed},
		{name: "two tokens in one header", header: http.Header{"Authorization": {"Bearer a, Bearer b"}}, wantReason: reasonMalformed},
		{name: "two headers", header: http.Header{"Authorization": {"Bearer " + jwtLike, "Bearer " + jwtLike}}, wantReason: reasonMalformed},
		{name: "cookie with a comma", cookie: "__Host-s", header: http.Header{"Cookie": {`__Host-s=a,b`}}, wantReason: reasonMalformed},
		{name: "header and cookie differ", cookie: "__Host-s", header: http.Header{"Authorization": {"Bearer a.b.c"}, "Cookie": {"__Host-s=" + jwtLike}}, wantReason: reasonConflict},
		{name: "two cookies differ", cookie: "__Host-s", header: http.Header{"Cookie": {"__Host-s=a.b.c", "__Host-s=" + jwtLike}}, wantReason: reasonConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := extractCredential(tt.header, tt.cookie)
			if reason != tt.wantReason || got != tt.want {
				t.Errorf("got %+v, %q; want %+v, %q", got, reason, tt.want, tt.wantReason)
			}
		})
	}
}

// FuzzExtractCredential: whatever the headers, the result is a b64token from
// the header or the cookie, or a reason; never both, never neither.
func FuzzExtractCredential(f *testing.F) {
	f.Add("Bearer "+jwtLike, "__Host-s="+jwtLike)
	f.Add("bearer a", "x=1; __Host-s=b")
	f.Add("Bearer a=b", "__Host-s=\"a\"")
	f.Add("", "__Host-s=a; __Host-s=b")
	f.Add("Basic x", "")
	f.Fuzz(func(t *testing.T, auth, cookie string) {
		h := http.Header{}
		if auth != "" {
			h.Set("Authorization", auth)
		}
		if cookie != "" {
			h.Set("Cookie", cookie)
		}
		got, reason := extractCredential(h, "__Host-s")
		if (reason == "") == (got.token == "") {
			t.Fatalf("token %q with reason %q", got.token, reason)
		}
		if reason != "" {
			return
		}
		if !isB64Token(got.token) {
			t.Fatalf("token %q is not a b64token", got.token)
		}
		if got.source == sourceHeader && !strings.HasSuffix(auth, got.token) {
			t.Fatalf("header token %q not from %q", got.token, auth)
		}
		if got.source == sourceCookie && !strings.Contains(cookie, got.token) {
			t.Fatalf("cookie token %q not from %q", got.token, cookie)
		}
	})
}

func TestCrossSite(t *testing.T) {
	trusted := map[string]bool{"https://app.example.test": true}
	tests := []struct {
		name   string
		method string
		plain  bool // the request came over plain HTTP
		header http.Header
		want   bool
	}{
		{name: "GET from anywhere", method: http.MethodGet, header: http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}},
		{name: "HEAD", method: http.MethodHead},
		{name: "OPTIONS", method: http.MethodOptions, header: http.Header{"Origin": {"https://evil.example"}}},
		{name: "POST from itself", method: http.MethodPost, header: http.Header{"Origin": {"https://pay.example.test"}}},
		{name: "POST from itself, explicit default port", method: http.MethodPost, header: http.Header{"Origin": {"https://PAY.example.test:443"}}},
		{name: "POST from a trusted origin", method: http.MethodPost, header: http.Header{"Origin": {"https://app.example.test"}, "Sec-Fetch-Site": {"same-site"}}},
		{name: "POST same-origin by fetch metadata", method: http.MethodPost, header: http.Header{"Sec-Fetch-Site": {"same-origin"}}},
		{name: "POST from elsewhere", method: http.MethodPost, header: http.Header{"Origin": {"https://evil.example"}}, want: true},
		{name: "POST from elsewhere claiming same-origin", method: http.MethodPost, header: http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"same-origin"}}, want: true},
		{name: "POST from the site's http origin", method: http.MethodPost, header: http.Header{"Origin": {"http://pay.example.test"}}, want: true},
		{name: "POST from another port", method: http.MethodPost, header: http.Header{"Origin": {"https://pay.example.test:8443"}}, want: true},
		{name: "POST from null", method: http.MethodPost, header: http.Header{"Origin": {"null"}}, want: true},
		{name: "POST with two Origins", method: http.MethodPost, header: http.Header{"Origin": {"https://pay.example.test", "https://evil.example"}}, want: true},
		{name: "POST with an origin with a path", method: http.MethodPost, header: http.Header{"Origin": {"https://pay.example.test/x"}}, want: true},
		{name: "POST same-site by fetch metadata", method: http.MethodPost, header: http.Header{"Sec-Fetch-Site": {"same-site"}}, want: true},
		{name: "POST user-initiated (none)", method: http.MethodPost, header: http.Header{"Sec-Fetch-Site": {"none"}}, want: true},
		{name: "POST with neither header", method: http.MethodPost, want: true},
		{name: "DELETE cross-site", method: http.MethodDelete, header: http.Header{"Sec-Fetch-Site": {"cross-site"}}, want: true},
		{name: "plain-http site, same origin", method: http.MethodPost, plain: true, header: http.Header{"Origin": {"http://pay.example.test"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "https://pay.example.test/v1/x", nil)
			r.TLS = &tls.ConnectionState{}
			if tt.plain {
				r.TLS = nil
			}
			r.Header = tt.header
			if r.Header == nil {
				r.Header = http.Header{}
			}
			if got := crossSite(r, trusted); got != tt.want {
				t.Errorf("crossSite = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStripCookie(t *testing.T) {
	tests := []struct {
		in   []string
		want []string
	}{
		{in: []string{"a=1; __Host-s=tok; b=2"}, want: []string{"a=1; b=2"}},
		{in: []string{"__Host-s=tok"}, want: nil},
		{in: []string{"a=1", "__Host-s=tok"}, want: []string{"a=1"}},
		{in: []string{"a=1;;  __Host-s=tok ;b=2"}, want: []string{"a=1; b=2"}},
		{in: []string{"__Host-s=tok; __Host-s=tok"}, want: nil},
		{in: []string{"__Host-sx=keep; x__Host-s=keep"}, want: []string{"__Host-sx=keep; x__Host-s=keep"}},
		{in: nil, want: nil},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.in != nil {
			h["Cookie"] = append([]string(nil), tt.in...)
		}
		stripCookie(h, "__Host-s")
		if got := h.Values("Cookie"); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("stripCookie(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzStripCookie: the cookie is gone afterwards, and every other cookie Go
// would read is still there.
func FuzzStripCookie(f *testing.F) {
	f.Add("a=1; __Host-s=tok; b=2")
	f.Add(";;__Host-s=x;;")
	f.Add("__Host-s")
	f.Fuzz(func(t *testing.T, line string) {
		h := http.Header{"Cookie": {line}}
		before := (&http.Request{Header: h.Clone()}).Cookies()
		stripCookie(h, "__Host-s")
		r := &http.Request{Header: h}
		if len(r.CookiesNamed("__Host-s")) != 0 {
			t.Fatalf("cookie left in %q", h.Values("Cookie"))
		}
		kept := 0
		for _, c := range before {
			if c.Name != "__Host-s" {
				kept++
			}
		}
		if got := len(r.Cookies()); got != kept {
			t.Fatalf("%d other cookies before, %d after (%q -> %q)", kept, got, line, h.Values("Cookie"))
		}
	})
}
