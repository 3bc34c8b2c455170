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
//     in "24242424242424242" no sixteen of the seventeen are). A '.' between
//     two digits glues them ("4242424242424242.5", "0.4242424242424242",
//     "v4.242.4242424242424242" hold no card number), and a double
//     separator breaks the digits apart ("4242  4242  4242  4242" holds
//     none);
//   - not followed right after its last digit by a letter or '_'
//     ("4242424242424242abc", a base64 string): such digits are part of a
//     word. Whatever comes before the first digit does not matter:
//     letters, '+', '-' or any punctuation ("abc4242424242424242",
//     "ord-4242424242424242", "+4242424242424242", "v2 4242424242424242" are
//     card numbers).
//
// Two exceptions keep identifiers that a payment API sees in every request
// from being taken for card numbers (each measured in fprate_test.go):
//
//   - a phone number: digits right after a '+' (not one between two digits)
//     that are at most 15 in all (E.164's maximum), counted from that '+',
//     in any grouping: "+4915112345678", "+49 151 12345678". A Luhn-valid
//     13-digit number starting with 4 is a Visa number, and one German
//     mobile number in ten is one; a card number of 16 digits or more
//     after a '+' is still found, as are 13 to 15 digits after "+ ";
//   - a hex identifier: digits in a string of at least 32 hex digits as
//     written (not decoded from escapes), single dashes allowed between them
//     (a UUID, a trace ID, a digest), unless a space separates the number's
//     groups: random UUIDs hold a Luhn-valid run in a known range about
//     three times in 10,000 otherwise.
//
// Letters right after the last digit hide a number, against false
// positives: a random hex string (a digest, a trace ID) holds runs of 13 or
// more digits glued to letters on both sides far more often than at its
// end, while base62 identifiers, Stripe's among them, essentially never
// hold 13 digits in a row.
//
// Text is scanned twice in one pass: as written, and decoded (URL
// percent-escapes, JSON string escapes), so that
// "4242%204242%204242%204242" in a query and "\n4242424242424242" in a JSON
// string are found too. A number found in either is found; where digits
// follow an escape right away, the decoded text alone decides
// ("%2B4915112345678" is a phone number).
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
	s.raw.finish()
	s.drain(&s.raw)
	if s.apart {
		s.flushEscape()
		s.decoded.finish()
		s.drain(&s.decoded)
	}
	return nil
}

// Found reports whether a card number has been found so far. A number is
// found once the byte after it has been written (when it lies in a string of
// hex digits, once that string ends short of an identifier), or at Close.
func (s *Scanner) Found() bool { return s.found }

// Contains reports whether s holds a card number.
func Contains(s string) bool {
	var sc Scanner
	write(&sc, s)
	_ = sc.Close()
	return sc.found
}

// Find appends to dst every card number in s, in the order they are found
// (by where they end, but for numbers in a hex string, which are found when
// it ends), and returns the extended slice. A number found both as written and decoded is
// reported once; overlapping candidates (a number, then the same digits
// with a group more) may both be reported.
func Find(dst []Match, s string) []Match {
	sc := Scanner{collect: true, matches: dst, base: len(dst)}
	write(&sc, s)
	_ = sc.Close()
	return sc.matches
}

// FindWide is Find.
//
// Deprecated: the guard and the redactor now share one definition of a card
// number, so there is nothing wider to find; use Find.
func FindWide(dst []Match, s string) []Match {
	return Find(dst, s)
}

func write[T ~string | ~[]byte](s *Scanner, p T) {
	for i := 0; i < len(p); i++ {
		c, at := p[i], s.pos+i
		if !s.apart && (c == '%' || c == '\\') {
			s.decoded = s.raw
			s.decoded.afterEscape = 0
			s.apart = true
		}
		if cls := classes[c]; !s.raw.fast(c, cls) {
			s.raw.step(c, cls, at, at+1)
			s.drain(&s.raw)
		}
		if s.apart {
			s.decode(c, at)
			// The raw machine leaves a digit right after an escape to the
			// decoded one, which must then still run.
			s.apart = s.dec.state != dText || s.raw.afterEscape == at+2 || !s.raw.idle() || !s.decoded.idle()
		}
	}
	s.pos += len(p)
}

// emit feeds one decoded byte, which stands for [start, end) of the stream,
// to the decoded machine.
func (s *Scanner) emit(c byte, start, end int) {
	if cls := classes[c]; end-start > 1 || !s.decoded.fast(c, cls) {
		s.decoded.step(c, cls, start, end)
		s.drain(&s.decoded)
	}
}

// drain records the card numbers that machine m is sure of.
func (s *Scanner) drain(m *machine) {
	if m.nsure == 0 {
		return
	}
	for _, h := range m.found[:m.nsure] {
		s.record(h)
	}
	m.nfound = copy(m.found[:], m.found[m.nsure:m.nfound])
	m.nsure = 0
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
