package cardscan

// Byte classes of the state machine, ordered so that those that leave an
// idle machine as it is come first.
const (
	cOther = iota // ends a run of digits
	cSep          // ' ' or '-': separates digit groups
	cWord         // a letter or '_': glues the digits right before it into a word
	cDot          // '.': glues the digits right after it into a fraction
	cPlus         // '+': a space in form encoding, or a phone number's prefix
	cDigit        // 0-9
)

var classes = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = cWord
		t[c-'a'+'A'] = cWord
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = cDigit
	}
	t['_'] = cWord
	t['-'] = cSep
	t[' '] = cSep
	t['+'] = cPlus
	t['.'] = cDot
	return t
}()

// States of the machine: what the last byte was, as far as it matters.
const (
	sIdle  = iota // between runs
	sPlus         // a '+' between runs
	sPoint        // a '.' between runs
	sGroup        // a digit
	sSep          // a single separator after a digit
	sDot          // a '.' after a digit
)

// Bounds of the state machine's buffers. Once a group has ended, a run
// keeps the groups that a later window may start with: at most keepDigits
// digits, since that window needs at least one more digit and may not
// exceed maxDigits. The group being read adds at most maxDigits stored
// digits.
const (
	keepDigits = maxDigits - 1
	maxGroups  = keepDigits + 1
)

// maxPhone is the most digits a phone number has (E.164): digits right after
// a '+' that are no more are a phone number ("+4915112345678",
// "+49 151 12345678").
const maxPhone = 15

// group is one digit group of the current run.
type group struct {
	start int // offset in the stream of its first byte
	off   int // index of its first digit in machine.digits
}

// hit is a card number found by the machine, before the Scanner records it.
type hit struct {
	start, end int
	brand      string
	last4      [4]byte
}

// machine finds card numbers in a stream of bytes, one byte at a time, in
// constant space. Its vocabulary:
//
//   - a group is a maximal sequence of digits;
//   - a run is a sequence of groups, each separated from the next by one
//     separator (' ', '-', or '+');
//   - a group is glued when a '.' stands right before it (a fraction, a
//     version, an IP address), when a '.' and a digit follow it (the integer
//     part of a decimal), or when a letter or '_' follows its last digit (a
//     hex digest, a base64 string, an ID). A glued group
//     belongs to no run: it ends the run before it, and the run after it
//     starts anew;
//   - a card number is a window of consecutive groups of one run, 13 to 19
//     digits in all, that is in a known issuer range with a valid Luhn digit
//     (so a card number followed by its CVC, "4242 4242 4242 4242 123", is
//     found, and so is the number in "2 4242 4242 4242 4242"), except a
//     window that starts a run right after a '+' and has at most maxPhone
//     digits (a phone number).
//
// Whatever else comes before a run's first digit (letters, '-', any
// punctuation) does not matter.
type machine struct {
	state uint8
	glued bool // a '.' stands right before the current group
	plus  bool // groups[0] starts a run right after a '+'
	// escaping is set by the Scanner, for the machine that reads the
	// stream as written, while the byte is part of an escape or right after
	// one. escaped is set when groups[0] starts at such a byte: the decoded
	// machine judges the windows that start with it.
	escaping bool
	escaped  bool

	groupDigits int // digits in the current group
	groupStart  int // offset in the stream of its first byte
	groupOff    int // index of its first digit in digits
	lastEnd     int // offset in the stream after the last digit

	n      int
	digits [keepDigits + maxDigits]byte
	ngroup int
	groups [maxGroups]group

	found hit // the card number that the last step completed
}

// skip reports whether a byte of class cls leaves the machine as it is: a
// byte other than a digit, a '.' or a '+' between runs. It is step's fast
// path.
func (m *machine) skip(cls uint8) bool {
	return m.state == sIdle && cls <= cWord
}

// step advances the machine by one byte c, of class cls, that covers
// [start, end) of the stream (a decoded escape covers several bytes). It
// reports whether a card number ended before c; the number is then in
// m.found.
func (m *machine) step(c byte, cls uint8, start, end int) bool {
	switch m.state {
	case sIdle, sPlus, sPoint:
		m.idleStep(c, cls, start, end)
	case sGroup:
		switch cls {
		case cDigit:
			m.digit(c, end)
		case cSep, cPlus:
			m.state = sSep
			return m.endGroup()
		case cDot:
			m.state = sDot
		case cWord:
			m.reset()
		default:
			found := m.endGroup()
			m.reset()
			return found
		}
	case sSep:
		if cls == cDigit {
			m.begin(start, false)
			m.digit(c, end)
			return false
		}
		// Two separators in a row, or a separator before anything else.
		m.reset()
		m.idleStep(c, cls, start, end)
	default: // sDot
		if cls == cDigit {
			// "4242.4242": neither group is a card number's part.
			m.reset()
			m.begin(start, true)
			m.digit(c, end)
			return false
		}
		found := m.endGroup()
		m.reset()
		m.idleStep(c, cls, start, end)
		return found
	}
	return false
}

// finish ends the stream, as a delimiter would. It reports whether that
// completed a card number.
func (m *machine) finish() bool { return m.step(0, cOther, 0, 0) }

// idle reports whether the machine is between runs: then its state does
// not depend on the bytes before.
func (m *machine) idle() bool { return m.state == sIdle }

// idleStep handles a byte between runs.
func (m *machine) idleStep(c byte, cls uint8, start, end int) {
	switch cls {
	case cDigit:
		plus := m.state == sPlus
		m.begin(start, m.state == sPoint)
		m.plus = plus
		m.escaped = m.escaping
		m.digit(c, end)
	case cPlus:
		m.state = sPlus
	case cDot:
		m.state = sPoint
	default:
		m.state = sIdle
	}
}

// begin starts a group; glued when a '.' stands right before it.
func (m *machine) begin(start int, glued bool) {
	m.state = sGroup
	m.glued = glued
	m.groupDigits = 0
	m.groupStart = start
	m.groupOff = m.n
}

func (m *machine) digit(c byte, end int) {
	if m.groupDigits < maxDigits {
		m.digits[m.n] = c
		m.n++
	}
	m.groupDigits++
	m.lastEnd = end
}

// endGroup closes the current group, which no letter follows, and reports
// whether a card number ends with it.
func (m *machine) endGroup() bool {
	if m.glued || m.groupDigits > maxDigits {
		m.resetRun()
		return false
	}
	m.groups[m.ngroup] = group{start: m.groupStart, off: m.groupOff}
	m.ngroup++
	found := m.window()
	m.trim()
	return found
}

// window looks for the longest card number that ends with the group just
// closed.
func (m *machine) window() bool {
	for i := range m.ngroup {
		g := m.groups[i]
		l := m.n - g.off
		if l > maxDigits || i == 0 && (m.escaped || m.plus && l <= maxPhone) {
			continue
		}
		if l < minDigits {
			break
		}
		if brand, ok := brandOf(m.digits[g.off:m.n]); ok {
			m.found = hit{start: g.start, end: m.lastEnd, brand: brand}
			copy(m.found.last4[:], m.digits[m.n-4:m.n])
			return true
		}
	}
	return false
}

// trim forgets the groups that no later window can start with.
func (m *machine) trim() {
	k := 0
	for k < m.ngroup && m.n-m.groups[k].off > keepDigits {
		k++
	}
	if k == 0 {
		return
	}
	m.plus, m.escaped = false, false
	if k == m.ngroup {
		m.n, m.ngroup = 0, 0
		return
	}
	shift := m.groups[k].off
	m.n = copy(m.digits[:], m.digits[shift:m.n])
	m.ngroup = copy(m.groups[:], m.groups[k:m.ngroup])
	for i := range m.ngroup {
		m.groups[i].off -= shift
	}
}

// reset ends the run: the machine is between runs.
func (m *machine) reset() {
	m.state = sIdle
	m.resetRun()
}

func (m *machine) resetRun() {
	m.n, m.ngroup = 0, 0
	m.glued, m.plus, m.escaped = false, false, false
}
