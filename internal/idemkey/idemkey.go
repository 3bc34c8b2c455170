// Package idemkey parses the Idempotency-Key request header (the IETF
// Idempotency-Key draft, which Stripe's API takes too). The idempotency
// stage and the payment handler's key derivation both read the key through
// Parse, so that they never disagree about what a client sent.
package idemkey

import (
	"errors"
	"net/http"
)

// Header is the request header's name.
const Header = "Idempotency-Key"

// MaxLen is the longest key accepted (Stripe's limit).
const MaxLen = 255

// Errors of Parse, for the log: the client is told only that the key is
// malformed.
var (
	errSeveral = errors.New("several Idempotency-Key fields")
	errLength  = errors.New("Idempotency-Key of bad length")
	errChar    = errors.New("Idempotency-Key with a character that is not visible ASCII")
	errList    = errors.New("Idempotency-Key is a list")
	errQuoting = errors.New("malformed quoted Idempotency-Key")
)

// ErrMissing is what Parse returns for a request without the header.
var ErrMissing = errors.New("no Idempotency-Key")

// Parse returns the key of h's Idempotency-Key header: one field holding 1
// to MaxLen visible ASCII characters (0x21-0x7E), bare, or as a Structured
// Field string ("..." with \" and \\ escapes) whose content obeys the same
// rule. It refuses, rather than repairs, whatever else: no trimming of
// whitespace, no control or non-ASCII characters, no second field, no list
// (a ',' outside quotes), no parameters. ErrMissing when there is no field.
func Parse(h http.Header) (string, error) {
	values := h.Values(Header)
	switch len(values) {
	case 0:
		return "", ErrMissing
	case 1:
	default:
		return "", errSeveral
	}
	v := values[0]
	if len(v) > 0 && v[0] == '"' {
		var ok bool
		if v, ok = unquote(v); !ok {
			return "", errQuoting
		}
	} else {
		for i := 0; i < len(v); i++ {
			switch v[i] {
			case ',':
				return "", errList
			case '"', '\\':
				return "", errQuoting
			}
		}
	}
	if v == "" || len(v) > MaxLen {
		return "", errLength
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] > 0x7e {
			return "", errChar
		}
	}
	return v, nil
}

// unquote reads a whole field as one Structured Field string (RFC 9651
// section 3.3.3): '"', characters with \" and \\ the only escapes, '"'.
func unquote(s string) (string, bool) {
	if len(s) < 2 || s[len(s)-1] != '"' {
		return "", false
	}
	b := make([]byte, 0, len(s)-2)
	for i := 1; i < len(s)-1; i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 == len(s)-1 || (s[i+1] != '"' && s[i+1] != '\\') {
				return "", false
			}
			i++
			b = append(b, s[i])
		case '"':
			return "", false
		default:
			b = append(b, c)
		}
	}
	return string(b), true
}
