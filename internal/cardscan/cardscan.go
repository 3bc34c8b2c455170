// Package cardscan finds payment card numbers (PANs) in text. It is the one
// definition that the card-data guard (which refuses a request holding one)
// and the log redactor (which masks one) share, so that what one refuses the
// other masks. A card number is:
//
//   - 13 to 19 digits, in a known issuer range with a length that issuer
//     uses (see iins), with a valid Luhn check digit;
//   - written with its digits either together or separated by single
//     spaces or dashes, in any grouping ("4242424242424242",
//     "4242 4242 4242 4242", "3622 7206 2716 67", "42-42-4242-4242-4242");
//     a '+' counts as a space, as in form encoding;
//   - not glued to further digits: the digits right before and after it, if
//     any, are separated from it by a single space or dash (so in
//     "2 4242 4242 4242 4242" the last sixteen digits are a card number, and
//     in "24242424242424242" no sixteen of the seventeen are). Digits right
//     after a '.' are a fraction, and digits right before a '.' and a digit
//     are an integer part ("4242424242424242.5", "0.4242424242424242",
//     ".4242424242424242", "v4.242.4242424242424242" hold no card number:
//     a '.' before the first digit is the one punctuation mark that hides
//     it, so that masking a secret right before a fraction never frees it),
//     and a double separator breaks the digits apart
//     ("4242  4242  4242  4242" holds none);
//   - not followed right after its last digit by a letter or '_'
//     ("4242424242424242abc", a base64 string): such digits are part of a
//     word. Whatever else comes before the first digit does not matter:
//     letters, '+', '-' or any punctuation ("abc4242424242424242",
//     "ord-4242424242424242", "+4242424242424242", "v2 4242424242424242" are
//     card numbers).
//
// One exception keeps phone numbers, which a booking's payment request may
// well carry, from being taken for card numbers: digits right after a '+'
// (not one between two digits) that are at most 15 in all (E.164's
// maximum), in any grouping, are a phone number: "+4915112345678",
// "+49 151 12345678". A Luhn-valid 13-digit number starting with 4 is a Visa
// number, and one German mobile number in ten is one. A card number of 16
// digits or more after a '+' is still found, as are 13 to 15 digits after
// "+ ".
//
// Hex identifiers get no exception: digits in a UUID or a trace ID are
// found like any others (measured in fprate_test.go: about 3 UUIDs in
// 10,000). An exception for digits in a long hex string would not survive
// redaction: masking one number in the string shortens it and frees
// another, which the guard would then refuse in the redacted log.
//
// Letters right after the last digit hide a number, against false
// positives: a random hex string (a digest, a trace ID) holds runs of 13 or
// more digits glued to letters on both sides far more often than at its
// end (measured: random UUIDs are found 3 times in 10,000 with this rule,
// 10 times without it; SHA-256 digests 0.4 and 11 times in 100,000; W3C
// trace IDs 2 and 9 times in 10,000), while base62 identifiers, Stripe's
// among them, essentially never hold 13 digits in a row.
//
// Text is scanned twice in one pass: as written, and decoded (URL
// percent-escapes, JSON string escapes), so that
// "4242%204242%204242%204242" in a query and "\n4242424242424242" in a JSON
// string are found too. A number found in either is found, except that
// where a number's first digit is part of an escape or right after one, the
// decoded text alone decides ("%2B4915112345678" is a phone number; in
// "%4242424242424242", "%42" is a 'B' and 14 digits follow it). So masking
// a number never changes how the text before it decodes, and a redacted
// text holds no number the guard would refuse.
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
	// escEnd is the offset right after the last escape decoded (0 before
	// the first: an escape ends at 2 or later).
	escEnd int

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
		s.record(s.raw.found)
	}
	if s.apart {
		s.flushEscape()
		if s.decoded.finish() {
			s.record(s.decoded.found)
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
	sc := Scanner{collect: true, matches: dst, base: len(dst)}
	write(&sc, s)
	_ = sc.Close()
	return sc.matches
}

func write[T ~string | ~[]byte](s *Scanner, p T) {
	for i := 0; i < len(p); i++ {
		c, at := p[i], s.pos+i
		if !s.apart && (c == '%' || c == '\\') {
			s.decoded = s.raw
			s.decoded.escaping = false
			s.apart = true
		}
		s.rawStep(c, at)
		if s.apart {
			s.decode(c, at)
			// The raw machine leaves a digit right after an escape to the
			// decoded one, which must then still run.
			s.apart = s.dec.state != dText || s.escEnd == at+1 || !s.raw.idle() || !s.decoded.idle()
		}
	}
	s.pos += len(p)
}

// rawStep feeds the byte c, at offset at, to the raw machine. A window
// whose first digit is part of an escape, or right after one, is the
// decoded machine's to judge: it sees what stands before that digit
// ("%2B4915112345678" is a phone number, "%4224242424242" holds 'B' and 11
// digits), and masking a number never changes how the text before it
// decodes.
func (s *Scanner) rawStep(c byte, at int) {
	if cls := classes[c]; !s.raw.skip(cls) {
		s.raw.escaping = s.dec.state != dText || at > 0 && s.escEnd == at
		if s.raw.step(c, cls, at, at+1) {
			s.record(s.raw.found)
		}
	}
}

// emit feeds one decoded byte, which stands for [start, end) of the stream,
// to the decoded machine.
func (s *Scanner) emit(c byte, start, end int) {
	if cls := classes[c]; !s.decoded.skip(cls) && s.decoded.step(c, cls, start, end) {
		s.record(s.decoded.found)
	}
}

func (s *Scanner) record(h hit) {
	s.found = true
	if !s.collect {
		return
	}
	for _, seen := range s.matches[s.base:] {
		if seen.Start == h.start && seen.End == h.end {
			return
		}
	}
	s.matches = append(s.matches, Match{Start: h.start, End: h.end, Brand: h.brand, Last4: string(h.last4[:])})
}
