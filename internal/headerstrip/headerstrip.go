// Package headerstrip removes request header fields that only paygate may
// set (identity headers, method overrides) in every spelling a client can
// send them in, and keeps a client from having the fields paygate sets
// dropped on the way to the upstream.
//
// Spelling: upstream frameworks that read headers through CGI-style names
// (HTTP_X_USER_ID) see X-User-Id, x-user-id and X_User_Id as one field, so
// a field is matched by its folded name (Fold), never by its exact bytes.
package headerstrip

import (
	"net/http"
	"net/textproto"
	"strings"
	"unicode/utf8"
)

// Fold returns the spelling-free form of a header field name: lower case,
// with '_' read as '-'.
func Fold(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// Names is a set of header field names, held folded: each stands for every
// spelling of its name.
type Names map[string]bool

// NewNames returns the set of names.
func NewNames(names ...string) Names {
	n := make(Names, len(names))
	for _, name := range names {
		n[Fold(name)] = true
	}
	return n
}

// Has reports whether name, in any spelling, is in n. An ASCII name (as
// every name a client can send is) is folded on the stack: the stages look
// up every request header.
func (n Names) Has(name string) bool {
	var buf [64]byte
	if folded, ok := foldASCII(buf[:0], name); ok {
		return n[string(folded)]
	}
	return n[Fold(name)]
}

// foldASCII appends Fold(name) to dst for an ASCII name; false for any
// other name.
func foldASCII(dst []byte, name string) ([]byte, bool) {
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= utf8.RuneSelf:
			return nil, false
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c == '_':
			c = '-'
		}
		dst = append(dst, c)
	}
	return dst, true
}

// Strip removes from h every field whose name, in any spelling, is in n.
func (n Names) Strip(h http.Header) {
	for name := range h {
		if n.Has(name) {
			delete(h, name)
		}
	}
}

// UnlistFromConnection removes from h's Connection header every token that
// names, in any spelling, a field in n, keeping the other tokens as they
// were; a Connection line left empty goes. A proxy deletes the fields the
// Connection header lists as hop-by-hop (RFC 9110 §7.6.1), so without this a
// client could have a field paygate sets for the upstream (an identity
// header, say) deleted after paygate set it.
func (n Names) UnlistFromConnection(h http.Header) {
	lines := h["Connection"]
	if len(n) == 0 || len(lines) == 0 {
		return
	}
	kept := lines[:0:0]
	for _, line := range lines {
		var tokens []string
		for _, tok := range strings.Split(line, ",") {
			// Trimmed as proxies trim it (Caddy's and Go's reverse
			// proxies use textproto.TrimString).
			if tok = textproto.TrimString(tok); tok != "" && !n.Has(tok) {
				tokens = append(tokens, tok)
			}
		}
		if len(tokens) > 0 {
			kept = append(kept, strings.Join(tokens, ", "))
		}
	}
	if len(kept) == 0 {
		delete(h, "Connection")
		return
	}
	h["Connection"] = kept
}
