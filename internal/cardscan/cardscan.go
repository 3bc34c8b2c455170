// Package cardscan finds payment card numbers (PANs) in text: 13 to 19
// digits, optionally grouped by single spaces or dashes ("4242 4242 4242
// 4242", "4242-4242-4242-4242"), in a known issuer range (see iins) and with
// a valid Luhn check digit, delimited so that they are not part of a longer
// token: a digit run glued to letters or other digits ("pi_3Mtw...",
// "ORD-2024-000123", a UUID, a decimal, a base64 string) is not a card number.
//
// Text is scanned twice in one pass: as written, and decoded (URL
// percent-escapes, JSON string escapes), so that
// "4242%204242%204242%204242" in a query and "\n4242424242424242" in a JSON
// string are found too.
//
// The cost is linear in the input, constant in space and free of
// allocations while no number is found: a byte-at-a-time state machine with
// no backtracking and no buffering of the input, which may arrive in pieces
// of any size (a number split across two writes is found).
package cardscan

// Match is a card number found in a stream.
type Match struct {
	// Start and End are the offsets, in the stream as written, of the
	// number's first byte and of the byte after its last one (separators and
	// escapes included).
	Start, End int
	// Brand is the issuer's brand, one of the brand constants.
	Brand string
	// Last4 is the number's last four digits.
	Last4 string
}

// Scanner finds card numbers in a stream written to it in pieces. The zero
// value is ready to use; a Scanner is not safe for concurrent use.
type Scanner struct {
	raw     machine // the stream as written
	decoded machine // the stream after decoding
	dec     decoder
	// apart is set while the decoded stream differs from the stream as
	// written: from the start of an escape until both machines are idle
	// again. Otherwise the raw machine stands for both.
	apart bool
	pos   int
	found bool

	// collect keeps every match in matches (for Find); otherwise only found
	// is recorded.
	collect bool
	matches []Match
	base    int // matches[:base] were the caller's
}

// Write scans p as the next piece of the stream. It never fails.
func (s *Scanner) Write(p []byte) (int, error) {
	write(s, p)
	return len(p), nil
}

// Close ends the stream: a number at its very end is found now.
func (s *Scanner) Close() error {
	if s.raw.finish() {
		s.record(s.raw.match)
	}
	if s.apart {
		s.flushEscape()
		if s.decoded.finish() {
			s.record(s.decoded.match)
		}
	}
	return nil
}

// Found reports whether a card number has been found so far. A number is
// found once the byte after it has been written, or at Close.
func (s *Scanner) Found() bool { return s.found }

// Contains reports whether s holds a card number.
func Contains(s string) bool {
	var sc Scanner
	write(&sc, s)
	_ = sc.Close()
	return sc.found
}

// Find appends to dst every card number in s, ordered by where they end, and
// returns the extended slice. A number found both as written and decoded is
// reported once; overlapping candidates (a number, then the same digits
// with a group more) may both be reported.
func Find(dst []Match, s string) []Match {
	return find(dst, s, false)
}

// FindWide is Find that also reports the numbers that the rules against
// false positives let through: those right after a '+' (taken for phone
// numbers) or after a word of letters and digits (taken for the rest of an
// IBAN). Redaction uses it: a log may lose a phone number to the mask, but
// must never keep a card number.
func FindWide(dst []Match, s string) []Match {
	return find(dst, s, true)
}

func find(dst []Match, s string, wide bool) []Match {
	sc := Scanner{collect: true, matches: dst, base: len(dst)}
	sc.raw.wide = wide
	write(&sc, s)
	_ = sc.Close()
	return sc.matches
}

func write[T ~string | ~[]byte](s *Scanner, p T) {
	for i := 0; i < len(p); i++ {
		c, at := p[i], s.pos+i
		if !s.apart && (c == '%' || c == '\\') {
			s.decoded = s.raw
			s.apart = true
		}
		if cls := classes[c]; !s.raw.skip(cls) && s.raw.step(c, cls, at, at+1) {
			s.record(s.raw.match)
		}
		if s.apart {
			s.decode(c, at)
			s.apart = s.dec.state != dText || !s.raw.idle() || !s.decoded.idle()
		}
	}
	s.pos += len(p)
}

// emit feeds one decoded byte, which stands for [start, end) of the stream,
// to the decoded machine.
func (s *Scanner) emit(c byte, start, end int) {
	if cls := classes[c]; !s.decoded.skip(cls) && s.decoded.step(c, cls, start, end) {
		s.record(s.decoded.match)
	}
}

func (s *Scanner) record(m Match) {
	s.found = true
	if !s.collect {
		return
	}
	for _, seen := range s.matches[s.base:] {
		if seen.Start == m.Start && seen.End == m.End {
			return
		}
	}
	s.matches = append(s.matches, m)
}
