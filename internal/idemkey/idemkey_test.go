package idemkey

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		name   string
		fields []string
		want   string
		err    error
	}{
		{"bare", []string{"order-42"}, "order-42", nil},
		{"uuid", []string{"8e03978e-40d5-43e8-bc93-6894a57f9324"}, "8e03978e-40d5-43e8-bc93-6894a57f9324", nil},
		{"quoted", []string{`"order-42"`}, "order-42", nil},
		{"quoted escapes", []string{`"a\"b\\c"`}, `a"b\c`, nil},
		{"quoted comma", []string{`"a,b"`}, "a,b", nil},
		{"longest", []string{strings.Repeat("k", MaxLen)}, strings.Repeat("k", MaxLen), nil},
		{"missing", nil, "", ErrMissing},
		{"two fields", []string{"a", "b"}, "", errSeveral},
		{"empty", []string{""}, "", errLength},
		{"empty quoted", []string{`""`}, "", errLength},
		{"too long", []string{strings.Repeat("k", MaxLen+1)}, "", errLength},
		{"too long quoted", []string{`"` + strings.Repeat("k", MaxLen+1) + `"`}, "", errLength},
		{"leading space", []string{" a"}, "", errChar},
		{"trailing space", []string{"a "}, "", errChar},
		{"inner space", []string{"a b"}, "", errChar},
		{"quoted space", []string{`"a b"`}, "", errChar},
		{"tab", []string{"a\tb"}, "", errChar},
		{"control", []string{"a\x01b"}, "", errChar},
		{"DEL", []string{"a\x7fb"}, "", errChar},
		{"non-ASCII", []string{"clé"}, "", errChar},
		{"list", []string{"a, b"}, "", errList},
		{"list of strings", []string{`"a", "b"`}, "", errQuoting},
		{"unterminated", []string{`"abc`}, "", errQuoting},
		{"stray quote", []string{`ab"c`}, "", errQuoting},
		{"backslash bare", []string{`a\b`}, "", errQuoting},
		{"bad escape", []string{`"a\nb"`}, "", errQuoting},
		{"parameter", []string{`"a";x=1`}, "", errQuoting},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, f := range tt.fields {
				h.Add(Header, f)
			}
			got, err := Parse(h)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("Parse(%q) = %q, %v; want %q, %v", tt.fields, got, err, tt.want, tt.err)
			}
		})
	}
}

// FuzzParse: Parse never panics, and whatever it accepts is 1 to MaxLen
// visible ASCII characters that a bare field or a quoted one gives back.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"order-42", `"a\"b"`, `"a,b"`, "a, b", " a", "", `"`, `\`, strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, field string) {
		key, err := Parse(http.Header{Header: {field}})
		if err != nil {
			return
		}
		if len(key) == 0 || len(key) > MaxLen {
			t.Fatalf("Parse(%q) accepted a key of length %d", field, len(key))
		}
		for i := 0; i < len(key); i++ {
			if key[i] < 0x21 || key[i] > 0x7e {
				t.Fatalf("Parse(%q) accepted %q", field, key)
			}
		}
		if field != key {
			quoted := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(key) + `"`
			if field != quoted {
				t.Fatalf("Parse(%q) = %q, which is neither the field nor its quoted form", field, key)
			}
		}
	})
}
