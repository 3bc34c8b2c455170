package strictjson

import (
	"encoding/json"
	"math"
	"unicode/utf8"
)

// ReadObject reads data, which must be one JSON object in valid UTF-8 with
// nothing after it, of any members, as Any reads it: for documents whose
// shape is open (a JWT's header and claims, a JWK set) but which must still
// mean one thing to every parser. The object itself is the first of the
// depth levels it may nest.
//
// UTF-8 is checked first because encoding/json reads an invalid byte as
// U+FFFD, which would make two member names that another parser tells apart
// one name here.
func ReadObject(data []byte, depth int) (map[string]any, error) {
	if !utf8.Valid(data) {
		return nil, &Error{Kind: Malformed, Reason: "is not valid UTF-8"}
	}
	d := NewDecoder(data)
	v, err := d.Any("", depth)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, wrongType("", "an object")
	}
	if err := d.End(); err != nil {
		return nil, err
	}
	return obj, nil
}

// Any reads a value of any shape at path, nested at most depth levels deep
// (each object and array is one level), into what encoding/json with
// UseNumber gives: map[string]any, []any, string, json.Number, bool or nil.
// A member given twice in any object, at any depth, is a Duplicate error, as
// in Object; nesting deeper than depth is Invalid.
func (d *Decoder) Any(path string, depth int) (any, error) {
	tok, err := d.token(path)
	if err != nil {
		return nil, err
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	if depth < 1 {
		return nil, &Error{Kind: Invalid, Path: path, Reason: "is nested too deeply"}
	}
	switch delim {
	case '{':
		obj := make(map[string]any)
		err := d.members(path, func(name string) error {
			v, err := d.Any(memberPath(path, name), depth-1)
			obj[name] = v
			return err
		})
		if err != nil {
			return nil, err
		}
		return obj, nil
	case '[':
		arr := []any{}
		err := d.elements(path, math.MaxInt, func(i int) error {
			v, err := d.Any(Index(path, i), depth-1)
			arr = append(arr, v)
			return err
		})
		if err != nil {
			return nil, err
		}
		return arr, nil
	}
	// A closing delimiter where a value belongs: json.Decoder reports that
	// as a syntax error, so this is only a guard.
	return nil, &Error{Kind: Malformed, Path: path, Reason: "is not valid JSON"}
}

// memberPath is the path of a member of an object at path: its name is
// part of it only when it is safe to put in an error (see safeName).
func memberPath(path, name string) string {
	if safeName(name) {
		return Join(path, name)
	}
	return path
}
