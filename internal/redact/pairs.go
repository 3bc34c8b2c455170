package redact

import "strings"

var (
	// nameChars make up a parameter, field or header name, including the
	// brackets of nested form names, raw or percent-encoded.
	nameChars = charSet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.[]%")
	// paramStops end a name=value parameter's value.
	paramStops = charSet("&;, \t\r\n\"'<>\\")
	// scalarStops end a JSON member's unquoted value.
	scalarStops = charSet(",}] \t\r\n\\")
	// lineStops end a header line's value.
	lineStops = charSet("\r\n\"\\")
)

// Forms of a name before '=' or ':'.
const (
	plainName   = iota // name=value, Name: value
	quotedName         // "name": value
	escapedName        // \"name\": value, JSON text inside a JSON string
)

// pairSpans appends the spans of the values whose names are sensitive, in
// name=value parameters, "name": value members and Name: value lines.
func pairSpans(spans []span, s string) []span {
	for i := 0; i < len(s); i++ {
		sep := s[i]
		if sep != '=' && sep != ':' {
			continue
		}
		name, form := nameBefore(s, i)
		if name == "" || !SensitiveName(name) {
			continue
		}
		start, end := valueAfter(s, i+1, sep, form)
		if end > start {
			spans = append(spans, span{start, end, Mask})
			i = end - 1
		}
	}
	return spans
}

// nameBefore returns the name that ends at s[i] (a '=' or ':'), and its
// form. A name is a run of nameChars, quoted or not: what it is does not
// depend on anything further away.
func nameBefore(s string, i int) (string, int) {
	end, form := i, plainName
	if s[i] == ':' {
		j := i
		for j > 0 && s[j-1] == ' ' {
			j--
		}
		if j > 0 && s[j-1] == '"' {
			end, form = j-1, quotedName
			if end > 0 && s[end-1] == '\\' {
				end, form = end-1, escapedName
			}
		}
	}
	k := end
	for k > 0 && end-k < maxName && nameChars[s[k-1]] {
		k--
	}
	switch form {
	case quotedName:
		if k == 0 || s[k-1] != '"' {
			return "", form
		}
	case escapedName:
		if k < 2 || s[k-1] != '"' || s[k-2] != '\\' {
			return "", form
		}
	}
	return s[k:end], form
}

// valueAfter returns the span of the value that starts at s[i], after the
// separator sep of a name of the given form.
func valueAfter(s string, i int, sep byte, form int) (int, int) {
	if sep == ':' {
		for i < len(s) && s[i] == ' ' {
			i++
		}
	}
	switch {
	case i >= len(s):
		return i, i
	case strings.HasPrefix(s[i:], `\"`):
		end := strings.Index(s[i+2:], `\"`)
		if end < 0 {
			return i + 2, len(s)
		}
		return i + 2, i + 2 + end
	case s[i] == '"':
		end := i + 1
		for end < len(s) && (s[end] != '"' || s[end-1] == '\\') {
			end++
		}
		return i + 1, end
	case form != plainName && (s[i] == '[' || s[i] == '{'):
		return i, closing(s, i)
	case form != plainName:
		return i, scanUntil(s, i, &scalarStops)
	case sep == '=':
		return i, scanUntil(s, i, &paramStops)
	default:
		return i, scanUntil(s, i, &lineStops)
	}
}

// closing returns the index after the bracket that closes the one at s[i],
// or len(s).
func closing(s string, i int) int {
	depth := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return j + 1
			}
		}
	}
	return len(s)
}
