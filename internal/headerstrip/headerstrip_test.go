package headerstrip

import (
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
)

func TestFold(t *testing.T) {
	for _, name := range []string{"X-User-Id", "x-user-id", "X_User_Id", "X-USER_ID", "x_user_id"} {
		if got := Fold(name); got != "x-user-id" {
			t.Errorf("Fold(%q) = %q, want x-user-id", name, got)
		}
	}
	if Fold("X-User-Ids") == Fold("X-User-Id") {
		t.Error("X-User-Ids folds into X-User-Id")
	}
}

func TestStrip(t *testing.T) {
	h := http.Header{
		"X-User-Id":              {"forged"},
		"X_user_id":              {"forged"},
		"X-User_Id":              {"forged"},
		"x-user-id":              {"forged"},
		"X-Http-Method-Override": {"DELETE"},
		"X-User-Ids":             {"kept"},
		"X-Request-Id":           {"kept"},
	}
	NewNames("X-USER-ID", "x_http_method_override").Strip(h)
	want := http.Header{"X-User-Ids": {"kept"}, "X-Request-Id": {"kept"}}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("got %v, want %v", h, want)
	}
}

func TestUnlistFromConnection(t *testing.T) {
	names := NewNames("X-User-Id", "X-Request-Id")
	tests := []struct {
		name string
		in   []string
		want []string // nil: no Connection header left
	}{
		{name: "no Connection header"},
		{name: "nothing protected", in: []string{"close"}, want: []string{"close"}},
		{name: "protected name", in: []string{"X-User-Id"}},
		{name: "other spellings", in: []string{"x_user_id, X-REQUEST-ID"}},
		{name: "others kept in order", in: []string{"keep-alive, x-user-id,X-Other , close"}, want: []string{"keep-alive, X-Other, close"}},
		{name: "several lines", in: []string{"X-User-Id", "upgrade", " , "}, want: []string{"upgrade"}},
		{name: "a longer name is not protected", in: []string{"X-User-Ids"}, want: []string{"X-User-Ids"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.in != nil {
				h["Connection"] = append([]string(nil), tt.in...)
			}
			names.UnlistFromConnection(h)
			if got := h["Connection"]; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Connection = %q, want %q", got, tt.want)
			}
		})
	}
}

// removeHopByHop deletes the fields h's Connection header lists, as Caddy's
// reverse proxy does before it forwards a request.
func removeHopByHop(h http.Header) {
	for _, line := range h["Connection"] {
		for _, tok := range strings.Split(line, ",") {
			if tok = textproto.TrimString(tok); tok != "" {
				h.Del(tok)
			}
		}
	}
}

// FuzzUnlistFromConnection: whatever a client puts in Connection, a
// protected field survives the proxy's hop-by-hop removal, and every token
// naming another field is kept.
func FuzzUnlistFromConnection(f *testing.F) {
	for _, s := range []string{"", "close", "X-User-Id", "x_user_id, keep-alive", " ,X-USER-ID ,, upgrade", "X-User-Id\t,X-User-Ids"} {
		f.Add(s, s)
	}
	names := NewNames("X-User-Id")
	f.Fuzz(func(t *testing.T, line1, line2 string) {
		h := http.Header{"Connection": {line1, line2}, "X-User-Id": {"user_1"}}
		var others []string
		for _, tok := range strings.Split(line1+","+line2, ",") {
			if tok = textproto.TrimString(tok); tok != "" && !names.Has(tok) {
				others = append(others, tok)
			}
		}
		names.UnlistFromConnection(h)
		var kept []string
		for _, line := range h["Connection"] {
			if line == "" {
				t.Fatalf("an empty Connection line is left: %q", h["Connection"])
			}
			for _, tok := range strings.Split(line, ",") {
				kept = append(kept, textproto.TrimString(tok))
			}
		}
		if !reflect.DeepEqual(kept, others) {
			t.Fatalf("Connection %q, %q: kept %q, want %q", line1, line2, kept, others)
		}
		removeHopByHop(h)
		if h.Get("X-User-Id") != "user_1" {
			t.Fatalf("Connection %q, %q: the protected field was removed", line1, line2)
		}
	})
}

// FuzzStrip: after Strip no field in any spelling of a name in the set is
// left, and every other field is.
func FuzzStrip(f *testing.F) {
	for _, s := range []string{"X-User-Id", "x_user_id", "X-User-Ids", "X-USER_ID", "", "\xff", "X-\u0130ser-Id", "X-User-Id-With-A-Name-Longer-Than-Sixty-Four-Bytes-Of-Stack-Buffer"} {
		f.Add(s)
	}
	names := NewNames("X-User-Id", "X-HTTP-Method-Override")
	f.Fuzz(func(t *testing.T, name string) {
		h := http.Header{name: {"v"}, "X-Request-Id": {"kept"}}
		names.Strip(h)
		_, left := h[name]
		if left == (Fold(name) == "x-user-id" || Fold(name) == "x-http-method-override") {
			t.Fatalf("field %q: left = %v", name, left)
		}
		if h.Get("X-Request-Id") != "kept" {
			t.Fatal("an unlisted field was removed")
		}
	})
}
