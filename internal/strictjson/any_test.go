package strictjson

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestReadObject(t *testing.T) {
	tests := []struct {
		name, doc string
		kind      Kind // 0: accepted
		path      string
	}{
		{name: "empty", doc: ` {} `},
		{name: "every type", doc: `{"s":"x","n":1.5e3,"b":true,"z":null,"a":[1,{"k":[]}],"o":{"p":{}}}`},
		{name: "at the depth limit", doc: `{"a":{"b":[{}]}}`},
		{name: "one level too deep", doc: `{"a":{"b":[{"c":[]}]}}`, kind: Invalid, path: "a.b[0].c"},
		{name: "deep array", doc: `{"a":[[[[1]]]]}`, kind: Invalid, path: "a[0][0][0]"},
		{name: "duplicate", doc: `{"alg":"EdDSA","alg":"none"}`, kind: Duplicate, path: "alg"},
		{name: "duplicate through an escape", doc: `{"sub":"a","\u0073ub":"b"}`, kind: Duplicate, path: "sub"},
		{name: "duplicate in a nested object", doc: `{"ctx":{"role":"a","role":"b"}}`, kind: Duplicate, path: "ctx.role"},
		{name: "duplicate inside an array", doc: `{"ctx":[{"role":"a","role":"b"}]}`, kind: Duplicate, path: "ctx[0].role"},
		{name: "duplicate of a name not to echo", doc: `{"o":{"Card4242":1,"Card4242":2}}`, kind: Duplicate, path: "o"},
		{name: "same name in two objects", doc: `{"a":{"x":1},"b":{"x":1}}`},
		{name: "invalid UTF-8", doc: "{\"a\":\"\xff\"}", kind: Malformed},
		{name: "two names that U+FFFD would join", doc: "{\"a\xfe\":1,\"a\xff\":2}", kind: Malformed},
		{name: "array", doc: `[]`, kind: WrongType},
		{name: "string", doc: `"x"`, kind: WrongType},
		{name: "null", doc: `null`, kind: WrongType},
		{name: "trailing data", doc: `{"a":1}x`, kind: Malformed},
		{name: "second document", doc: `{} {}`, kind: Malformed},
		{name: "truncated", doc: `{"a":[1,`, kind: Malformed, path: "a[1]"},
		{name: "trailing comma", doc: `{"a":1,}`, kind: Malformed},
		{name: "empty", doc: ``, kind: Malformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj, err := ReadObject([]byte(tt.doc), 4)
			if tt.kind == 0 {
				if err != nil || obj == nil {
					t.Fatalf("got %v, %v; want accepted", obj, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Kind != tt.kind || e.Path != tt.path {
				t.Fatalf("got %#v, want kind %d at %q", err, tt.kind, tt.path)
			}
		})
	}
}

// TestReadObjectValues: what is accepted reads as encoding/json with
// UseNumber reads it.
func TestReadObjectValues(t *testing.T) {
	doc := `{"s":"x","n":-1.5e3,"b":false,"z":null,"a":[1,{"k":[]}],"o":{"p":{}}}`
	got, err := ReadObject([]byte(doc), 4)
	if err != nil {
		t.Fatal(err)
	}
	if want := decodeStd(t, doc); !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

func decodeStd(t testing.TB, doc string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var want map[string]any
	if err := dec.Decode(&want); err != nil {
		t.Fatal(err)
	}
	return want
}
