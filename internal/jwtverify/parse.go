package jwtverify

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/paygate/paygate/internal/strictjson"
)

// maxDepth bounds the nesting of JSON objects and arrays in a header, a
// payload or a JWK set, the top object included; real tokens nest two or
// three levels.
const maxDepth = 16

// b64 is the only encoding a segment may use: base64url, no padding, and no
// stray bits in the last character (Strict), so that one token has exactly
// one spelling.
var b64 = base64.RawURLEncoding.Strict()

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
	header, err := strictjson.ReadObject(hb, maxDepth)
	if err != nil {
		return nil, malformed("header", err)
	}
	payload, err := strictjson.ReadObject(pb, maxDepth)
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

// malformed refuses a segment that does not decode. A member given twice
// has its own reason: parsers disagree on which copy wins, and a token must
// mean one thing.
func malformed(segment string, err error) *Error {
	reason := ReasonMalformed
	if se := (*strictjson.Error)(nil); errors.As(err, &se) && se.Kind == strictjson.Duplicate {
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
