package payapi

import (
	"errors"
	"fmt"
	"strings"
)

// ErrAmbiguousPath is wrapped by every reason Match refuses a path.
var ErrAmbiguousPath = errors.New("ambiguous path")

// maxSegment is the longest path segment accepted, in bytes. No ID of the
// API comes near it; a longer one is refused rather than looked up, logged
// and audited.
const maxSegment = 255

// checkPath accepts only request paths that every server, framework and
// proxy reads the same way, and returns their segments. p is the path as it
// is sent on (url.URL.EscapedPath). It refuses, with an error wrapping
// ErrAmbiguousPath:
//
//   - percent-encoding of any byte: encoded '/' or '\' (%2F, %5C), encoded
//     dots (%2e), NUL (%00), double encoding (%25); no API path needs it;
//   - any character other than '/' and RFC 3986's unreserved ones (letters,
//     digits, '-', '.', '_', '~'), which takes in backslashes, ';'
//     parameters, spaces and non-ASCII bytes;
//   - dot segments ("." and ".."), empty segments ("//" and a trailing '/')
//     and segments longer than maxSegment bytes;
//   - a segment that differs only in case from a literal of a route
//     template ("/V1/...", "/v1/Payment_Intents"), since Caddy's path
//     matcher and many applications match paths case-insensitively.
func (t *Table) checkPath(p string) ([]string, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("%w: it does not start with '/'", ErrAmbiguousPath)
	}
	if p == "/" {
		return nil, nil
	}
	segments := strings.Split(p[1:], "/")
	for _, s := range segments {
		if err := checkSegment(s); err != nil {
			return nil, err
		}
		if lower := strings.ToLower(s); lower != s && t.literals[lower] {
			return nil, fmt.Errorf("%w: a case variant of the route segment %q", ErrAmbiguousPath, lower)
		}
	}
	return segments, nil
}

// checkSegment applies checkPath's rules to one segment.
func checkSegment(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: an empty segment ('//' or a trailing '/')", ErrAmbiguousPath)
	case s == "." || s == "..":
		return fmt.Errorf("%w: a dot segment", ErrAmbiguousPath)
	case len(s) > maxSegment:
		return fmt.Errorf("%w: a segment longer than %d bytes", ErrAmbiguousPath, maxSegment)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case unreserved(c):
		case c == '%':
			return fmt.Errorf("%w: percent-encoding", ErrAmbiguousPath)
		case c == ';':
			return fmt.Errorf("%w: a ';' parameter", ErrAmbiguousPath)
		case c == '\\':
			return fmt.Errorf("%w: a backslash", ErrAmbiguousPath)
		default:
			return fmt.Errorf("%w: the character %q", ErrAmbiguousPath, c)
		}
	}
	return nil
}

// unreserved reports whether c is an RFC 3986 unreserved character.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
