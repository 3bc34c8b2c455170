package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// FuzzReadObject checks the open-shape reader against encoding/json: what it
// accepts is one valid JSON object and reads the same; what it refuses is
// refused with an Error (it refuses more than encoding/json: duplicate
// members, invalid UTF-8, deep nesting).
func FuzzReadObject(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"a":1,"a":2}`, `{"a":{"b":[1,{"c":null}]}}`, `[]`, `{"a":1}x`,
		`{"\u0061":1,"a":2}`, "{\"a\":\"\xff\"}", `{"a":1e400}`, `{"a":[[[[[[[[1]]]]]]]]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, err := ReadObject(data, 8)
		if err != nil {
			if !errors.As(err, new(*Error)) {
				t.Fatalf("refused with %T %v, want an *Error", err, err)
			}
			return
		}
		if !json.Valid(data) || bytes.TrimLeft(data, " \t\r\n")[0] != '{' {
			t.Fatalf("accepted %q, which is not a JSON object", data)
		}
		if want := decodeStd(t, string(data)); !reflect.DeepEqual(obj, want) {
			t.Fatalf("read %q as %#v, encoding/json as %#v", data, obj, want)
		}
	})
}

// FuzzDecoder feeds arbitrary documents to a known-shape reader: it never
// panics, refuses with an Error whose path is built only from the names it
// knows, and accepts only valid JSON.
func FuzzDecoder(f *testing.F) {
	for _, s := range []string{
		`{"x":1,"tags":["a","b"]}`, `{"x":1,"x":1}`, `{"y":1}`, `{"tags":[1]}`, `{"x":1.0}`, `{"x":1} {}`, `{"x":`,
	} {
		f.Add([]byte(s))
	}
	known := map[string]bool{"": true, "x": true, "tags": true, "tags[0]": true, "tags[1]": true, "y": true}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := readPoint(string(data))
		if err == nil {
			if !json.Valid(data) {
				t.Fatalf("accepted %q, which is not JSON", data)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("refused with %T %v, want an *Error", err, err)
		}
		if !known[e.Path] && !safeName(e.Path) {
			t.Fatalf("error path %q may carry client text", e.Path)
		}
	})
}
