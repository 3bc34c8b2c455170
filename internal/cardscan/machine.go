package cardscan

// Byte classes of the state machine, ordered so that those that leave an
// idle machine outside a hex string as it is come first.
const (
	cOther = iota // ends a run of digits
	cSep          // ' ' or '-': separates digit groups
	cDot          // '.': between two digits, joins them into one number
	cWord         // a letter other than a-f, or '_': glues the digits before it
	cPlus         // '+': a space in form encoding, or a phone number's prefix
	cDigit        // 0-9
	cHex          // a-f, A-F: a letter, but a hex digit too
)

var classes = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = cWord
		t[c-'a'+'A'] = cWord
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = cHex
		t[c-'a'+'A'] = cHex
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

// Exceptions against false positives.
const (
	// maxPhone is the most digits a phone number has (E.164): digits right
	// after a '+' that are no more are a phone number ("+4915112345678",
	// "+49 151 12345678").
	maxPhone = 15
	// hexID is the fewest hex digits of a hex identifier (a UUID, an MD5
	// digest, a trace ID; SHA digests are longer): digits inside a string of
	// at least that many hex digits, single dashes allowed between them,
	// are part of it.
	hexID = 32
	// maxPending is how many numbers found in a hex string that may still
	// grow into an identifier are kept until it is known; beyond that, the
	// oldest is reported (which errs on the side of finding).
	maxPending = 3
)

// group is one digit group of the current run.
type group struct {
	start  int  // offset in the stream of its first byte
	off    int  // index of its first digit in machine.digits
	spaced bool // a space or '+' separates it from the group before
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
//   - a group is glued when a '.' joins it to a digit on either side (a
//     decimal, a version, an IP address) or when a letter or '_' follows its
//     last digit (a hex digest, a base64 string, an ID). A glued group
//     belongs to no run: it ends the run before it, and the run after it
//     starts anew;
//   - a card number is a window of consecutive groups of one run, 13 to 19
//     digits in all, that is in a known issuer range with a valid Luhn digit
//     (so a card number followed by its CVC, "4242 4242 4242 4242 123", is
//     found, and so is the number in "2 4242 4242 4242 4242"), except a
//     window that starts a run right after a '+' and has at most maxPhone
//     digits (a phone number), and a window without spaces that lies in a
//     hex string of hexID hex digits or more (an identifier), counting only
//     bytes as written.
//
// Whatever else comes before a run's first digit (letters, '-', any
// punctuation) does not matter.
//
// The machine reports what it finds in found: found[:nsure] are card
// numbers, found[nsure:nfound] are pending until the hex string they lie in
// turns out long enough to be an identifier (they are dropped) or ends
// short of it (they are card numbers).
type machine struct {
	state uint8
	glued bool // a '.' joins the current group to the digit before it
	plus  bool // groups[0] starts a run right after a '+'
	// afterEscape is the offset right after the last escape the Scanner
	// decoded, plus one, when this machine reads the stream as written; 0
	// otherwise. escaped is set when groups[0] starts there: the decoded
	// machine judges the windows that start with it.
	afterEscape int
	escaped     bool

	groupDigits int  // digits in the current group
	groupStart  int  // offset in the stream of its first byte
	groupOff    int  // index of its first digit in digits
	groupSpaced bool // a space or '+' separates it from the group before
	lastEnd     int  // offset in the stream after the last digit
	spaced      bool // the last separator was a space or '+'

	n      int
	digits [keepDigits + maxDigits]byte
	ngroup int
	groups [maxGroups]group

	// The hex string the last byte is in: hex digits so far (at most
	// hexID), and whether the last byte was a dash after them. endedHex is
	// the length of the last one that ended.
	hex      int
	hexDash  bool
	endedHex int

	nsure, nfound int
	found         [maxPending + 1]hit
}

// fast handles a byte between runs while nothing is pending, the common
// case, and reports whether it did; step handles every other byte. Between
// runs, only a digit or a '+' changes more than the hex string.
func (m *machine) fast(c byte, cls uint8) bool {
	if m.state != sIdle || m.nfound != 0 || cls == cDigit || cls == cPlus {
		return false
	}
	m.hexStep(c, cls)
	return true
}

// step advances the machine by one byte c, of class cls, that covers
// [start, end) of the stream (a decoded escape covers several bytes), and
// adds to found what it completes.
func (m *machine) step(c byte, cls uint8, start, end int) {
	afterDot := m.state == sDot
	hexCls := cls
	if end-start > 1 {
		// A decoded escape: a hex string is made of bytes as written, so
		// that it is the same in both machines wherever they both see it,
		// and masking a number in it never frees another.
		hexCls = cOther
	}
	m.hexStep(c, hexCls)
	h, ok := m.runStep(c, cls, start, end)
	switch {
	case !ok:
	case h.spaced:
		m.add(h.hit, false)
	case !afterDot && m.hex > 0:
		// The hex string that holds the number goes on (c is a dash).
		if m.hex < hexID {
			m.add(h.hit, true)
		}
	case m.endedHex < hexID:
		m.add(h.hit, false)
	}
}

// finish ends the stream, as a delimiter would.
func (m *machine) finish() { m.step(0, cOther, 0, 0) }

// idle reports whether the machine is between runs and outside a hex
// string: then its state does not depend on the bytes before.
func (m *machine) idle() bool { return m.state == sIdle && m.hex == 0 }

// hexStep follows the hex string that c extends or ends.
func (m *machine) hexStep(c byte, cls uint8) {
	switch {
	case cls == cDigit || cls == cHex:
		m.hexDash = false
		if m.hex < hexID {
			m.hex++
			if m.hex == hexID {
				m.nfound = m.nsure // an identifier: what is pending is part of it
			}
		}
		return
	case cls == cSep && c == '-' && m.hex > 0 && !m.hexDash:
		m.hexDash = true
		return
	}
	if m.hex > 0 {
		m.endedHex = m.hex
		m.hex, m.hexDash = 0, false
		m.nsure = m.nfound // short of an identifier: what is pending is found
	}
}

// add adds a card number to found, pending or not. One pending more than
// maxPending makes the oldest a card number.
func (m *machine) add(h hit, pending bool) {
	m.found[m.nfound] = h
	m.nfound++
	if !pending {
		m.nsure = m.nfound
	} else if m.nfound-m.nsure > maxPending {
		m.nsure++
	}
}

// candidate is a window that is a card number unless it is part of a hex
// identifier.
type candidate struct {
	hit
	spaced bool // the window holds a space: no identifier holds it
}

// runStep advances the digit runs by one byte and reports the window that
// it completes, if any.
func (m *machine) runStep(c byte, cls uint8, start, end int) (candidate, bool) {
	switch m.state {
	case sIdle, sPlus:
		m.idleStep(c, cls, start, end)
	case sGroup:
		switch cls {
		case cDigit:
			m.digit(c, end)
		case cSep, cPlus:
			m.state = sSep
			h, ok := m.endGroup()
			m.spaced = c != '-'
			return h, ok
		case cDot:
			m.state = sDot
		case cWord, cHex:
			m.reset()
		default:
			h, ok := m.endGroup()
			m.reset()
			return h, ok
		}
	case sSep:
		if cls == cDigit {
			m.begin(start, false)
			m.digit(c, end)
			return candidate{}, false
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
			return candidate{}, false
		}
		h, ok := m.endGroup()
		m.reset()
		m.idleStep(c, cls, start, end)
		return h, ok
	}
	return candidate{}, false
}

// idleStep handles a byte between runs.
func (m *machine) idleStep(c byte, cls uint8, start, end int) {
	switch cls {
	case cDigit:
		plus := m.state == sPlus
		m.begin(start, false)
		m.plus = plus
		m.escaped = start+1 == m.afterEscape
		m.digit(c, end)
	case cPlus:
		m.state = sPlus
	default:
		m.state = sIdle
	}
}

// begin starts a group; glued when a '.' joins it to the digit before.
func (m *machine) begin(start int, glued bool) {
	m.groupSpaced = m.state == sSep && m.spaced
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
// the card number, if any, that ends with it.
func (m *machine) endGroup() (candidate, bool) {
	if m.glued || m.groupDigits > maxDigits {
		m.resetRun()
		return candidate{}, false
	}
	m.groups[m.ngroup] = group{start: m.groupStart, off: m.groupOff, spaced: m.groupSpaced}
	m.ngroup++
	h, ok := m.window()
	m.trim()
	return h, ok
}

// window looks for the longest card number that ends with the group just
// closed.
func (m *machine) window() (candidate, bool) {
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
			h := candidate{hit: hit{start: g.start, end: m.lastEnd, brand: brand}}
			copy(h.last4[:], m.digits[m.n-4:m.n])
			for _, later := range m.groups[i+1 : m.ngroup] {
				h.spaced = h.spaced || later.spaced
			}
			return h, true
		}
	}
	return candidate{}, false
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
