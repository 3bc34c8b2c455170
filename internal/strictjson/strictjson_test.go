package strictjson

import (
	"errors"
	"testing"
)

// readPoint reads {"x": <positive int>, "tags": [<string>...]} strictly.
func readPoint(doc string) error {
	d := NewDecoder([]byte(doc))
	err := d.Object("", func(name string) error {
		switch name {
		case "x":
			_, err := d.PositiveInt("x", 100)
			return err
		case "tags":
			return d.Array("tags", 2, func(i int) error {
				_, err := d.String(Index("tags", i))
				return err
			})
		}
		return d.Unknown("", name)
	})
	if err != nil {
		return err
	}
	return d.End()
}

func TestDecoder(t *testing.T) {
	tests := []struct {
		doc  string
		kind Kind // 0: accepted
		path string
	}{
		{doc: `{"x":1,"tags":["a","b"]}`},
		{doc: ` {} `},
		{doc: `{"x":100}`},
		{doc: `{"x":101}`, kind: Invalid, path: "x"},
		{doc: `{"x":0}`, kind: Invalid, path: "x"},
		{doc: `{"x":-0}`, kind: Invalid, path: "x"},
		{doc: `{"x":1.0}`, kind: Invalid, path: "x"},
		{doc: `{"x":"1"}`, kind: WrongType, path: "x"},
		{doc: `{"x":true}`, kind: WrongType, path: "x"},
		{doc: `{"x":1,"x":1}`, kind: Duplicate, path: "x"},
		{doc: `{"y":1}`, kind: Unknown, path: "y"},
		{doc: `{"Y":1}`, kind: Unknown, path: ""},
		{doc: `{"sk_live_abc":1}`, kind: Unknown, path: ""},
		{doc: `{"whsec_abc":1,"whsec_abc":1}`, kind: Unknown, path: ""},
		{doc: `{"tags":[],"tags":[]}`, kind: Duplicate, path: "tags"},
		{doc: `{"A":1,"A":1}`, kind: Unknown, path: ""},
		{doc: `{"a\u0000b":1}`, kind: Unknown, path: ""},
		{doc: `{"tags":["a","b","c"]}`, kind: Invalid, path: "tags"},
		{doc: `{"tags":[1]}`, kind: WrongType, path: "tags[0]"},
		{doc: `{"tags":"a"}`, kind: WrongType, path: "tags"},
		{doc: `{"x":1}]`, kind: Malformed},
		{doc: `{"x":1} {}`, kind: Malformed},
		{doc: `{"x":`, kind: Malformed, path: "x"},
		{doc: `{x:1}`, kind: Malformed},
		{doc: `[]`, kind: WrongType},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			err := readPoint(tt.doc)
			if tt.kind == 0 {
				if err != nil {
					t.Fatalf("got %v, want accepted", err)
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

func TestPaths(t *testing.T) {
	if got := Join(Index(Join("", "items"), 3), "sku"); got != "items[3].sku" {
		t.Errorf("got %q", got)
	}
	if got := (&Error{Path: "x", Reason: "must be an integer"}).Error(); got != "x must be an integer" {
		t.Errorf("got %q", got)
	}
}

// TestDuplicateOfAnyName: a reader that accepts any member name still gets
// a duplicate refused, naming the member only when its name is plain.
func TestDuplicateOfAnyName(t *testing.T) {
	for _, tt := range []struct{ doc, path string }{
		{`{"plain":1,"plain":2}`, "plain"},
		{`{"Card4242":1,"Card4242":2}`, ""},
	} {
		d := NewDecoder([]byte(tt.doc))
		err := d.Object("", func(name string) error {
			_, err := d.PositiveInt(name, 10)
			return err
		})
		var e *Error
		if !errors.As(err, &e) || e.Kind != Duplicate || e.Path != tt.path {
			t.Errorf("%s: got %#v, want a duplicate at %q", tt.doc, err, tt.path)
		}
	}
}
