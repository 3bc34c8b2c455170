package cardscan

// States of the decoder.
const (
	dText      = iota // between escapes
	dPercent          // after '%' (and maybe one hex digit)
	dBackslash        // after '\'
	dHex              // after "\u", "\x" or "\U" (and fewer hex digits than it takes)
)

// decoder undoes, in a stream, the encodings that hide a card number's
// digits or separators from a plain scan: URL percent-escapes (queries, form
// bodies, URL-encoded paths and headers), JSON string escapes ("\n4242...",
// "\u0020"), and the escapes Go's quoting (%q, strconv.Quote) writes for
// what is not printable ("\x00", "\a", "\U000e0001"), so that a quoted
// piece of a request in a log line is read as the request was: a number
// right after such an escape is a number, not the tail of a longer run of
// digits. Malformed escapes pass through as they are. A
// '+' needs no decoding: the machine reads it as a space where it separates
// digit groups. It feeds the decoded bytes, each with the span of the stream
// it came from, to Scanner.emit.
type decoder struct {
	state uint8
	start int      // stream offset of the pending escape
	pend  [10]byte // the pending escape's bytes, as written
	npend int
	need  int // the bytes a dHex escape has in all: "\x" 4, "\u" 6, "\U" 10
}

// escapeDigits tells how many hex digits follow each escape letter.
var escapeDigits = [256]int{'x': 2, 'u': 4, 'U': 8}

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
		case 'u', 'x', 'U':
			d.state = dHex
			d.need = 2 + escapeDigits[c]
			d.pend[d.npend] = c
			d.npend++
			return
		case '"', '\\', '/':
			s.escaped(c, at)
			d.state = dText
			return
		case 'a', 'b', 'f', 'n', 'r', 't', 'v':
			// Control characters: delimiters, whichever they are.
			s.escaped('\n', at)
			d.state = dText
			return
		}
	case dHex:
		if unhex(c) >= 0 {
			d.pend[d.npend] = c
			d.npend++
			if d.npend < d.need {
				return
			}
			if r, ok := d.hexValue(); ok {
				s.escaped(r, at)
				d.state = dText
				return
			}
			// Not an escape Go or JSON would write: its bytes stand for
			// themselves.
			s.flushEscape()
			return
		}
	}
	// A malformed escape: its bytes stand for themselves, and c starts over.
	s.flushEscape()
	s.decode(c, at)
}

// hexValue returns the byte that the complete hex escape in pend stands for
// as far as card numbers go: an ASCII character as it is, anything beyond
// ASCII as 0x80, a delimiter (like every byte of a non-ASCII character). A
// JSON "\u" escape may stand for any character; Go writes "\x" and "\U"
// only for what is not printable, so one that decodes to a printable ASCII
// character ("\x42") is not an escape at all.
func (d *decoder) hexValue() (byte, bool) {
	var r uint32
	for _, c := range d.pend[2:d.npend] {
		r = r<<4 | uint32(unhex(c))
	}
	if d.pend[1] != 'u' && r >= ' ' && r < 0x7f {
		return 0, false
	}
	if r >= 0x80 {
		return 0x80, true
	}
	return byte(r), true
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
