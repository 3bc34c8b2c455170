package cardscan

// States of the decoder.
const (
	dText      = iota // between escapes
	dPercent          // after '%' (and maybe one hex digit)
	dBackslash        // after '\'
	dUnicode          // after "\u" (and up to three hex digits)
)

// decoder undoes, in a stream, the encodings that hide a card number's
// digits or separators from a plain scan: URL percent-escapes (queries, form
// bodies, URL-encoded paths and headers) and JSON string escapes
// ("\n4242...", "\u0020"). Malformed escapes pass through as they are. A
// '+' needs no decoding: the machine reads it as a space where it separates
// digit groups. It feeds the decoded bytes, each with the span of the stream
// it came from, to Scanner.emit.
type decoder struct {
	state uint8
	start int     // stream offset of the pending escape
	pend  [6]byte // the pending escape's bytes, as written
	npend int
}

func (s *Scanner) decode(c byte, at int) {
	d := &s.dec
	switch d.state {
	case dText:
		switch c {
		case '%':
			d.begin(dPercent, c, at)
		case '\\':
			d.begin(dBackslash, c, at)
		default:
			s.emit(c, at, at+1)
		}
		return
	case dPercent:
		if unhex(c) >= 0 {
			if d.npend == 2 {
				s.escaped(byte(unhex(d.pend[1])<<4|unhex(c)), at)
				d.state = dText
				return
			}
			d.pend[d.npend] = c
			d.npend++
			return
		}
	case dBackslash:
		switch c {
		case 'u':
			d.state = dUnicode
			d.pend[d.npend] = c
			d.npend++
			return
		case '"', '\\', '/':
			s.escaped(c, at)
			d.state = dText
			return
		case 'b', 'f', 'n', 'r', 't':
			// Control characters: delimiters, whichever they are.
			s.escaped('\n', at)
			d.state = dText
			return
		}
	case dUnicode:
		if unhex(c) >= 0 {
			if d.npend < 5 {
				d.pend[d.npend] = c
				d.npend++
				return
			}
			r := unhex(d.pend[2])<<12 | unhex(d.pend[3])<<8 | unhex(d.pend[4])<<4 | unhex(c)
			if r >= 0x80 {
				r = 0x80 // a delimiter, like every byte of a non-ASCII character
			}
			s.escaped(byte(r), at)
			d.state = dText
			return
		}
	}
	// A malformed escape: its bytes stand for themselves, and c starts over.
	s.flushEscape()
	s.decode(c, at)
}

// escaped emits c, decoded from the escape that ends at at.
func (s *Scanner) escaped(c byte, at int) {
	s.escEnd = at + 1
	s.emit(c, s.dec.start, at+1)
}

func (d *decoder) begin(state uint8, c byte, at int) {
	d.state = state
	d.start = at
	d.pend[0] = c
	d.npend = 1
}

// flushEscape passes a pending escape's bytes on as they were written.
func (s *Scanner) flushEscape() {
	d := &s.dec
	for i := range d.npend {
		s.emit(d.pend[i], d.start+i, d.start+i+1)
	}
	d.state = dText
	d.npend = 0
}

// unhex returns the value of the hex digit c, or -1.
func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}
