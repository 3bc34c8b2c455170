package redact

import (
	"encoding/base64"
	"strings"
)

// Character sets, as tables indexed by byte.
var (
	// wordChars may be part of an identifier: letters, digits, '_'.
	wordChars = charSet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
	// jwtChars make up a JWT: base64url segments joined by dots.
	jwtChars = charSet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")
	// secretChars may follow a key's prefix: base64 (standard and url),
	// and '%' for a URL-encoded key.
	secretChars = charSet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+/=%")
	// credentialStops end the credential of an authorization value.
	credentialStops = charSet(" \t\r\n,;\"'&<>\\")
	// authorityStops end a URL's userinfo.
	authorityStops = charSet("/?#@ \t\r\n\"'<>\\")
)

func charSet(chars string) (t [256]bool) {
	for _, c := range []byte(chars) {
		t[c] = true
	}
	return t
}

// keyPrefixes start a Stripe secret: a secret or restricted API key, or a
// webhook signing secret. The prefix itself stays readable.
var keyPrefixes = []string{"sk_live_", "sk_test_", "rk_live_", "rk_test_", "sk_", "rk_", "whsec_"}

// clientSecret joins an intent's ID and the secret that lets a browser
// confirm it ("pi_123_secret_abc").
const clientSecret = "_secret_"

// tokenSpans appends the spans of the JWTs, keys, client secrets,
// authorization credentials and URL passwords in s.
func tokenSpans(spans []span, s string) []span {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case 'e':
			if end := jwtEnd(s, i); end > 0 {
				spans = append(spans, span{i, end, Mask})
				i = end - 1
			}
		case 's', 'r', 'w':
			if !tokenStart(s, i) {
				continue
			}
			for _, p := range keyPrefixes {
				if strings.HasPrefix(s[i:], p) {
					end := scanWhile(s, i+len(p), &secretChars)
					if end > i+len(p) {
						spans = append(spans, span{i + len(p), end, Mask})
					}
					i = end - 1
					break
				}
			}
		case '_':
			if strings.HasPrefix(s[i:], clientSecret) && i > 0 && wordChars[s[i-1]] {
				start := i + len(clientSecret)
				end := scanWhile(s, start, &secretChars)
				if end > start {
					spans = append(spans, span{start, end, Mask})
				}
				i = end - 1
			}
		case 'b', 'B':
			if start, end := credential(s, i); end > start {
				spans = append(spans, span{start, end, Mask})
				i = end - 1
			}
		case ':':
			if start, end := userinfoPassword(s, i); end > start {
				spans = append(spans, span{start, end, Mask})
				i = end - 1
			}
		}
	}
	return spans
}

// tokenStart reports whether a token may start at s[i]: at the start of s,
// after a character that cannot be part of an identifier, or after an
// escape: a percent-escape ("token%3DeyJ..."), or a backslash escape of
// JSON or Go's quoting ("\nsk_live_...", "\u00a0whsec_...", "\x00eyJ...").
func tokenStart(s string, i int) bool {
	return i == 0 || !wordChars[s[i-1]] || i >= 3 && s[i-3] == '%' || afterBackslashEscape(s, i)
}

// afterBackslashEscape reports whether a backslash escape ends right before
// s[i]: a letter one ("\n"), or "\x", "\u" or "\U" and their hex digits.
// An escaped backslash before the letter ("\\n") counts too: masking errs
// on the side of too much.
func afterBackslashEscape(s string, i int) bool {
	if i >= 2 && s[i-2] == '\\' && strings.IndexByte("abfnrtv", s[i-1]) >= 0 {
		return true
	}
	for _, e := range [...]struct {
		letter byte
		digits int
	}{{'x', 2}, {'u', 4}, {'U', 8}} {
		j := i - e.digits - 2
		if j >= 0 && s[j] == '\\' && s[j+1] == e.letter && isHex(s[j+2:i]) {
			return true
		}
	}
	return false
}

// isHex reports whether s is all hex digits.
func isHex(s string) bool {
	for i := range len(s) {
		if !strings.ContainsRune("0123456789abcdefABCDEF", rune(s[i])) {
			return false
		}
	}
	return true
}

// jwtEnd returns the end of the JWT at s[i], or 0 when there is none: "eyJ"
// and base64url characters with at least two dots (three segments, or five
// for an encrypted token).
func jwtEnd(s string, i int) int {
	if s[i] != 'e' || !tokenStart(s, i) {
		return 0
	}
	end := scanWhile(s, i, &jwtChars)
	header, _, _ := strings.Cut(s[i:end], ".")
	if strings.Count(s[i:end], ".") < 2 || !jsonObjectStart(header) {
		return 0
	}
	return end
}

// maxJWTHeader bounds the header segment decoded to recognise a JWT; a
// longer one is a token all the same (no header is that long honestly).
const maxJWTHeader = 4 << 10

// jsonObjectStart reports whether seg, a base64url segment, decodes to the
// start of a JSON object with a member: '{', optional JSON white space, '"'.
// Every JWT header does, however it is spaced ("eyJ…" is only the compact
// spelling; "eyAi…" is '{ "'), which a prefix check would miss.
func jsonObjectStart(seg string) bool {
	if len(seg) > maxJWTHeader {
		return true
	}
	seg = seg[:len(seg)&^3] // whole quanta decode without padding questions
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil || len(b) == 0 || b[0] != '{' {
		return false
	}
	for _, c := range b[1:] {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '"':
			return true
		}
		return false
	}
	return false
}

// credential returns the span of the credential after an authorization
// scheme ("Bearer", "Basic", in any case) at s[i], or an empty span. The
// scheme and its credential may be separated by spaces, '+' or "%20".
func credential(s string, i int) (int, int) {
	var n int
	switch {
	case hasPrefixFold(s[i:], "bearer"):
		n = len("bearer")
	case hasPrefixFold(s[i:], "basic"):
		n = len("basic")
	default:
		return 0, 0
	}
	if i > 0 && wordChars[s[i-1]] {
		return 0, 0
	}
	j := i + n
	for {
		if j < len(s) && (s[j] == ' ' || s[j] == '+') {
			j++
		} else if strings.HasPrefix(s[j:], "%20") {
			j += 3
		} else {
			break
		}
	}
	if j == i+n {
		return 0, 0
	}
	end := scanUntil(s, j, &credentialStops)
	if end < len(s) && s[end] == '"' && s[end-1] == '=' {
		// An auth-param of a challenge (Bearer error="invalid_token"), not
		// a credential.
		return 0, 0
	}
	return j, end
}

// userinfoPassword returns the span of the password in a URL's userinfo
// ("https://user:password@host") when s[i] starts the URL's "://", or an
// empty span.
func userinfoPassword(s string, i int) (int, int) {
	if !strings.HasPrefix(s[i:], "://") {
		return 0, 0
	}
	start := i + 3
	at := scanUntil(s, start, &authorityStops)
	if at == len(s) || s[at] != '@' {
		return 0, 0
	}
	colon := strings.IndexByte(s[start:at], ':')
	if colon < 0 {
		return 0, 0
	}
	return start + colon + 1, at
}

// scanWhile returns the end of the run of characters of set that starts at
// s[i].
func scanWhile(s string, i int, set *[256]bool) int {
	for i < len(s) && set[s[i]] {
		i++
	}
	return i
}

// scanUntil returns the index of the first character of stops at or after
// s[i], or len(s).
func scanUntil(s string, i int, stops *[256]bool) int {
	for i < len(s) && !stops[s[i]] {
		i++
	}
	return i
}

// hasPrefixFold is strings.HasPrefix ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
