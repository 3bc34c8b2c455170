package jwtverify

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// maxDepth bounds the nesting of JSON objects and arrays in a header or a
// payload; real tokens nest two or three levels.
const maxDepth = 16

// b64 is the only encoding a segment may use: base64url, no padding, and no
// stray bits in the last character (Strict), so that one token has exactly
// one spelling.
var b64 = base64.RawURLEncoding.Strict()

// errDuplicate marks a JSON object that names a member twice.
var errDuplicate = errors.New("duplicate member")

// compact is a compact JWS taken apart, before any key is involved.
type compact struct {
	// signingInput is "<header>.<payload>" exactly as received.
	signingInput []byte
	header       map[string]any
	payload      map[string]any
	signature    []byte
}

// parseCompact splits token into its three segments and decodes them
// strictly: unpadded base64url only, UTF-8 JSON objects without duplicate
// members at any depth and nothing after them.
func parseCompact(token string) (*compact, *Error) {
	h, rest, ok1 := strings.Cut(token, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(s, '.') >= 0 {
		return nil, refuse(ReasonMalformed, "not three dot-separated segments")
	}
	hb, err := decodeSegment(h)
	if err != nil {
		return nil, malformed("header", err)
	}
	pb, err := decodeSegment(p)
	if err != nil {
		return nil, malformed("payload", err)
	}
	sig, err := decodeSegment(s)
	if err != nil {
		return nil, malformed("signature", err)
	}
	header, err := decodeObject(hb)
	if err != nil {
		return nil, malformed("header", err)
	}
	payload, err := decodeObject(pb)
	if err != nil {
		return nil, malformed("payload", err)
	}
	return &compact{
		signingInput: []byte(token[:len(h)+1+len(p)]),
		header:       header,
		payload:      payload,
		signature:    sig,
	}, nil
}

func malformed(segment string, err error) *Error {
	reason := ReasonMalformed
	if errors.Is(err, errDuplicate) {
		reason = ReasonDuplicateMember
	}
	return &Error{Reason: reason, Err: fmt.Errorf("%s: %w", segment, err)}
}

// decodeSegment decodes one non-empty base64url segment. The alphabet is
// checked first because Go's decoder skips CR and LF.
func decodeSegment(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty segment")
	}
	for i := 0; i < len(s); i++ {
		if !isBase64URL(s[i]) {
			return nil, fmt.Errorf("byte %d is not base64url", i)
		}
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("base64url: %w", err)
	}
	return b, nil
}

func isBase64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// decodeObject decodes data, which must be one JSON object in valid UTF-8,
// into a map whose numbers are json.Number. A member named twice in any
// object, at any depth, is an error wrapping errDuplicate: parsers disagree
// on which copy wins, and a token must mean one thing.
func decodeObject(data []byte) (map[string]any, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("invalid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("json: %w", err)
	}
	if tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	obj, err := readObject(dec, 1)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return obj, nil
}

// readObject reads the members of an object whose '{' has been read.
func readObject(dec *json.Decoder, depth int) (map[string]any, error) {
	obj := make(map[string]any)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("json: %w", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errors.New("json: member name is not a string")
		}
		if _, dup := obj[name]; dup {
			return nil, errDuplicate
		}
		v, err := readValue(dec, depth)
		if err != nil {
			return nil, err
		}
		obj[name] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("json: %w", err)
	}
	return obj, nil
}

// readArray reads the elements of an array whose '[' has been read.
func readArray(dec *json.Decoder, depth int) ([]any, error) {
	arr := []any{}
	for dec.More() {
		v, err := readValue(dec, depth)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("json: %w", err)
	}
	return arr, nil
}

func readValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("json: %w", err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	if depth >= maxDepth {
		return nil, errors.New("json: nested too deeply")
	}
	switch d {
	case '{':
		return readObject(dec, depth+1)
	case '[':
		return readArray(dec, depth+1)
	}
	return nil, fmt.Errorf("json: unexpected %q", d)
}
