package redact

import "strings"

// emailMask replaces an e-mail address: personal data under the GDPR, which
// a log keeps no longer than it must and an operator never needs in clear.
const emailMask = "[email]"

// localChars and domainChars may be part of an address's local part and
// domain, as they are written in query strings and logs (RFC 5321's common
// subset, and '%' for a percent-encoded '+').
var (
	localChars  = charSet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+-%")
	domainChars = charSet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-")
)

// emailSpans appends the spans of the e-mail addresses in s, with the '@'
// written as it is or percent-encoded ("%40", as in a query string).
func emailSpans(spans []span, s string) []span {
	for i := 0; i < len(s); i++ {
		var after int
		switch {
		case s[i] == '@':
			after = i + 1
		case s[i] == '%' && strings.HasPrefix(s[i:], "%40"):
			after = i + 3
		default:
			continue
		}
		start := i
		for start > 0 && localChars[s[start-1]] {
			start--
		}
		end := scanWhile(s, after, &domainChars)
		for end > after && s[end-1] == '.' {
			end-- // a full stop after the address is not part of it
		}
		// Right after "//" or ':' it is a URL's userinfo, whose password
		// the token rules mask; its user name and host are no address.
		userinfo := start > 0 && s[start-1] == ':' || strings.HasSuffix(s[:start], "//")
		if start < i && !userinfo && isDomain(s[after:end]) {
			spans = append(spans, span{start, end, emailMask})
			i = end - 1
		}
	}
	return spans
}

// isDomain reports whether d is a host name with a top-level label of at
// least two letters ("example.com"), not a bare host or an IP address.
func isDomain(d string) bool {
	dot := strings.LastIndexByte(d, '.')
	if dot <= 0 || len(d)-dot-1 < 2 {
		return false
	}
	for _, c := range []byte(d[dot+1:]) {
		if (c|0x20) < 'a' || (c|0x20) > 'z' {
			return false
		}
	}
	return true
}
