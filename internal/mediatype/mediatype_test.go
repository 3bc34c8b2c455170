package mediatype

import "testing"

func TestCheckJSON(t *testing.T) {
	tests := []struct {
		values []string
		ok     bool
	}{
		{[]string{"application/json"}, true},
		{[]string{"application/json; charset=utf-8"}, true},
		{[]string{"Application/JSON; Charset=\"UTF-8\""}, true},
		{nil, false},
		{[]string{"application/json", "application/json"}, false},
		{[]string{"application/json; charset=utf-16"}, false},
		{[]string{"application/json; charset=iso-8859-1"}, false},
		{[]string{"application/json; boundary=x"}, false},
		{[]string{"application/json; charset=utf-8; charset=utf-16"}, false},
		{[]string{"text/plain"}, false},
		{[]string{"application/vnd.api+json"}, false},
		{[]string{"application/json;"}, true},
		{[]string{"application/json; =x"}, false},
		{[]string{""}, false},
	}
	for _, tt := range tests {
		if err := CheckJSON(tt.values); (err == nil) != tt.ok {
			t.Errorf("CheckJSON(%q) = %v, want ok %v", tt.values, err, tt.ok)
		}
	}
}

func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{"application/json", "application/json; charset=utf-8", "text/plain", "application/json; charset=utf-16", `application/json; charset="utf-8"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckJSON([]string{s}) == nil && CheckJSON([]string{s, s}) == nil {
			t.Fatalf("two Content-Type headers %q accepted", s)
		}
	})
}
