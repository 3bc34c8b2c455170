// Package redact is paygate's one redaction function for everything that is
// logged: String masks the secrets a piece of text may hold, and
// SensitiveName tells which fields, parameters and headers are secret as a
// whole whatever their value. The redacting log encoder (module
// caddy.logging.encoders.redact) applies both to every log entry, and
// paygate's own code passes request-derived text through String before it
// logs it.
//
// What String masks:
//
//   - card numbers, by the one definition the card-data guard refuses them
//     by (package cardscan), as written, URL-encoded or JSON-escaped, down
//     to their last four digits: "[card_ending_4242]";
//   - JWTs (three or more base64url segments, the first decoding to a JSON
//     object);
//   - Stripe secret and restricted keys (sk_..., rk_...) and webhook signing
//     secrets (whsec_...), keeping the prefix ("sk_test_[redacted]");
//   - client secrets of payment and setup intents, keeping the object ID
//     ("pi_123_secret_[redacted]");
//   - the credentials of "Bearer" and "Basic" authorization values;
//   - the value of every name=value pair (queries, forms, cookies),
//     "name": value member (JSON text) and "Name: value" line (headers) whose
//     name is sensitive (see SensitiveName).
//
// Masking errs on the side of too much: a log line loses a little context
// rather than leak a secret.
package redact

import (
	"strings"

	"github.com/paygate/paygate/internal/cardscan"
)

// Mask replaces a secret in the log.
const Mask = "[redacted]"

// String returns s with every secret it holds masked. Text without secrets
// comes back as it is, without allocating. String is idempotent.
func String(s string) string {
	if s == "" {
		return s
	}
	var spanBuf [8]span
	spans := spanBuf[:0]
	f := scanFeatures(s)
	if f.digits >= cardscan.MinDigits {
		for _, m := range cardscan.Find(nil, s) {
			spans = append(spans, span{m.Start, m.End, cardMask(m.Last4)})
		}
	}
	if f.mayHoldToken(s) {
		spans = tokenSpans(spans, s)
	}
	if f.classes&cEmail != 0 {
		spans = emailSpans(spans, s)
	}
	if f.classes&cPair != 0 {
		spans = pairSpans(spans, s)
	}
	if len(spans) == 0 {
		return s
	}
	return apply(s, spans)
}

// Byte classes each scanner needs to find anything: one pass over a text
// tells which scanners can skip it (most logged text, a method, a path, an
// address, a user agent, holds nothing String masks).
const (
	// cDigit: a digit, or the start of an escape that may decode to one.
	cDigit = 1 << iota
	// cUnderscore: every key prefix (sk_, rk_, whsec_) and _secret_ has one.
	cUnderscore
	// cB: the first letter of an authorization scheme (Bearer, Basic).
	cB
	// cColon: a URL's userinfo follows "://"; a pair's name may end in one.
	cColon
	// cDot counts towards a JWT's two dots.
	cDot
	// cEmail: an address's '@', or the '%' of "%40".
	cEmail
	// cPair: a pair's '=' or ':'.
	cPair
)

var classes = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] |= cDigit
	}
	t['%'] |= cDigit | cEmail
	t['\\'] |= cDigit
	t['_'] |= cUnderscore
	t['b'] |= cB
	t['B'] |= cB
	t[':'] |= cColon | cPair
	t['.'] |= cDot
	t['@'] |= cEmail
	t['='] |= cPair
	return t
}()

// features is what one pass over a text found: its classes, and the counts
// of digits (with escapes) and of dots.
type features struct {
	classes      uint8
	digits, dots int
}

// mayHoldToken reports whether s, whose features f are, may hold what
// tokenSpans masks: a JWT (two dots), a key or client secret ('_'), a URL
// with a userinfo ("://"), or an authorization scheme.
func (f features) mayHoldToken(s string) bool {
	switch {
	case f.dots >= 2 || f.classes&cUnderscore != 0:
		return true
	case f.classes&cColon != 0 && strings.Contains(s, "://"):
		return true
	case f.classes&cB != 0:
		for i := 0; i < len(s); i++ {
			if s[i]|0x20 == 'b' && (hasPrefixFold(s[i:], "bearer") || hasPrefixFold(s[i:], "basic")) {
				return true
			}
		}
	}
	return false
}

func scanFeatures(s string) features {
	var f features
	for i := 0; i < len(s); i++ {
		c := classes[s[i]]
		if c == 0 {
			continue
		}
		f.classes |= c
		if c&cDigit != 0 {
			f.digits++
		}
		if c&cDot != 0 {
			f.dots++
		}
	}
	return f
}

// Value returns value as it may be logged under name: Mask when the name is
// sensitive, value itself when it is the request's ID (see requestID), else
// value with its secrets masked.
func Value(name, value string) string {
	switch {
	case SensitiveName(name):
		return Mask
	case requestID(name, value):
		return value
	}
	return String(value)
}

// requestID reports whether value, logged under name, is the request's ID:
// the fields paygate (request_id) and Caddy's access log (uuid) name it by,
// holding a UUID as Caddy makes it (never a client: see reqid). The digit
// groups of one UUID in about 3,400 form a Luhn-valid card number
// ("53055037-8199-4235-…"), and a masked ID would find no log line.
func requestID(name, value string) bool {
	if name != "request_id" && name != "uuid" || len(value) != 36 {
		return false
	}
	for i := range len(value) {
		switch c := value[i]; {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case !('0' <= c && c <= '9' || 'a' <= c && c <= 'f'):
			return false
		}
	}
	return true
}

// cardMask replaces a card number. Its last four digits are glued to a word
// so that they never join the digit groups around them into a new number.
func cardMask(last4 string) string { return "[card_ending_" + last4 + "]" }

// span is a part of a text, [start, end), to be replaced by repl.
type span struct {
	start, end int
	repl       string
}

// apply replaces the spans of s. Overlapping spans merge into one, which
// takes the replacement of the one that starts first, or Mask when one of
// them has it (so that a card number that is also a sensitive parameter's
// value is masked the same way on a second pass).
func apply(s string, spans []span) string {
	// Insertion sort: there are few spans, mostly in order already.
	for i := 1; i < len(spans); i++ {
		for j := i; j > 0 && spans[j].start < spans[j-1].start; j-- {
			spans[j], spans[j-1] = spans[j-1], spans[j]
		}
	}
	out := make([]byte, 0, len(s))
	pos := 0
	for i := 0; i < len(spans); {
		cur := spans[i]
		for i++; i < len(spans) && spans[i].start < cur.end; i++ {
			cur.end = max(cur.end, spans[i].end)
			if spans[i].repl == Mask {
				cur.repl = Mask
			}
		}
		out = append(out, s[pos:cur.start]...)
		out = append(out, cur.repl...)
		pos = cur.end
	}
	out = append(out, s[pos:]...)
	return string(out)
}
