// Package strictjson reads JSON documents of a known shape strictly: a
// member the reader does not ask for, a member given twice, a value of the
// wrong type, a number that is not a plain integer, or anything after the
// document is an error naming where it happened. encoding/json alone
// accepts duplicate members (the last wins) and, without
// DisallowUnknownFields, ignores unknown ones; both let a client smuggle a
// field past a validator. ReadObject reads a document of an open shape (a
// JWT's header and claims) with the same refusal of duplicate members, at
// any depth.
//
// Errors carry a path ("items[2].quantity") built only from member names the
// reader knows, plus array indices, so that a message built from an Error
// never echoes what the client sent.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Kind classifies an Error.
type Kind int

const (
	// Malformed: not JSON, or something follows the document.
	Malformed Kind = iota + 1
	// Unknown: a member the reader does not accept.
	Unknown
	// Duplicate: a member given more than once.
	Duplicate
	// WrongType: a value of another JSON type than the one expected.
	WrongType
	// Invalid: a value of the right type that the reader refuses.
	Invalid
	// Missing: a required member is absent.
	Missing
)

// Error is a refusal with the path of the offending member.
type Error struct {
	Kind Kind
	// Path locates the member, e.g. "items[2].quantity"; "" is the
	// document itself. An unknown member's own name is part of Path only
	// when it is a plain lowercase name (see Unknown), never arbitrary
	// client text.
	Path string
	// Reason says what was wrong, in words fixed by the reader (never the
	// client's value), e.g. "must be a positive integer".
	Reason string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + " " + e.Reason
}

// Decoder reads one JSON document.
type Decoder struct {
	dec *json.Decoder
}

// NewDecoder returns a Decoder over data.
func NewDecoder(data []byte) *Decoder {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return &Decoder{dec: dec}
}

// safeNamePattern is what a member's name must look like to be named in an
// error: short, lowercase letters and underscores, so that it can carry no
// card number, token or markup.
var safeNamePattern = regexp.MustCompile(`^[a-z][a-z_]{0,39}$`)

// secretPrefixes start the names of Stripe secrets, which a name is not
// allowed to look like either: log scanners look for them.
var secretPrefixes = []string{"sk_", "rk_", "whsec_"}

// safeName reports whether an unknown member's name may be named in an
// error.
func safeName(name string) bool {
	if !safeNamePattern.MatchString(name) {
		return false
	}
	for _, p := range secretPrefixes {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	return true
}

// token reads the next token; a syntax error or a premature end is
// Malformed at path.
func (d *Decoder) token(path string) (json.Token, error) {
	tok, err := d.dec.Token()
	if err != nil {
		return nil, &Error{Kind: Malformed, Path: path, Reason: "is not valid JSON"}
	}
	return tok, nil
}

// Object reads an object at path, calling member with each member's name;
// member must read the value (with one of the Decoder's methods) or return
// an error, typically d.Unknown(path, name). A member seen twice is a
// Duplicate error before member is called again.
func (d *Decoder) Object(path string, member func(name string) error) error {
	tok, err := d.token(path)
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return wrongType(path, "an object")
	}
	return d.members(path, member)
}

// members reads the members of an object whose opening brace has been
// read; see Object.
func (d *Decoder) members(path string, member func(name string) error) error {
	seen := make(map[string]bool)
	for d.dec.More() {
		tok, err := d.token(path)
		if err != nil {
			return err
		}
		name, ok := tok.(string)
		if !ok {
			return &Error{Kind: Malformed, Path: path, Reason: "is not valid JSON"}
		}
		if seen[name] {
			if safeName(name) {
				return &Error{Kind: Duplicate, Path: Join(path, name), Reason: "is given more than once"}
			}
			return &Error{Kind: Duplicate, Path: path, Reason: "has a member given more than once"}
		}
		seen[name] = true
		if err := member(name); err != nil {
			return err
		}
	}
	_, err := d.token(path) // the closing brace; More reported the end
	return err
}

// Unknown is the error for a member the reader does not accept. The name is
// in the error's path only when it is a plain lowercase name.
func (d *Decoder) Unknown(path, name string) error {
	if safeName(name) {
		return &Error{Kind: Unknown, Path: Join(path, name), Reason: "is not a known parameter"}
	}
	return &Error{Kind: Unknown, Path: path, Reason: "has a member that is not a known parameter"}
}

// Array reads an array of at most max elements at path, calling elem with
// each index; elem must read the element.
func (d *Decoder) Array(path string, max int, elem func(i int) error) error {
	tok, err := d.token(path)
	if err != nil {
		return err
	}
	if tok != json.Delim('[') {
		return wrongType(path, "an array")
	}
	return d.elements(path, max, elem)
}

// elements reads the elements of an array whose opening bracket has been
// read; see Array.
func (d *Decoder) elements(path string, max int, elem func(i int) error) error {
	n := 0
	for d.dec.More() {
		if n == max {
			return &Error{Kind: Invalid, Path: path, Reason: fmt.Sprintf("has more than %d elements", max)}
		}
		if err := elem(n); err != nil {
			return err
		}
		n++
	}
	_, err := d.token(path)
	return err
}

// String reads a string at path.
func (d *Decoder) String(path string) (string, error) {
	tok, err := d.token(path)
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", wrongType(path, "a string")
	}
	return s, nil
}

// PositiveInt reads a positive integer of at most max at path. Only plain
// digits are an integer: 1.0, 1e3 and -1 are refused, as is anything above
// max.
func (d *Decoder) PositiveInt(path string, max int64) (int64, error) {
	tok, err := d.token(path)
	if err != nil {
		return 0, err
	}
	num, ok := tok.(json.Number)
	if !ok {
		return 0, wrongType(path, "an integer")
	}
	reason := fmt.Sprintf("must be a positive integer of at most %d", max)
	for _, c := range []byte(num) {
		if c < '0' || c > '9' {
			return 0, &Error{Kind: Invalid, Path: path, Reason: reason}
		}
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil || n < 1 || n > max {
		return 0, &Error{Kind: Invalid, Path: path, Reason: reason}
	}
	return n, nil
}

// End requires that nothing but white space follows the document.
func (d *Decoder) End() error {
	if _, err := d.dec.Token(); !errors.Is(err, io.EOF) {
		return &Error{Kind: Malformed, Reason: "must hold one JSON document and nothing after it"}
	}
	return nil
}

// Join appends a member name to a path.
func Join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// Index appends an array index to a path.
func Index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func wrongType(path, want string) error {
	return &Error{Kind: WrongType, Path: path, Reason: "must be " + want}
}
