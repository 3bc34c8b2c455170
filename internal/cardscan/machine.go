package cardscan

// Byte classes of the state machine, ordered so that the delimiters that
// leave an idle machine as it is come first and the characters of a unit
// last.
const (
	cOther = iota // a delimiter
	cDash         // '-': joins digit groups
	cDot          // '.': joins tokens (decimals, host names, versions)
	cSpace        // ' ': separates digit groups
	cPlus         // '+': a space in a form-encoded text, or a phone number's prefix
	cDigit        // 0-9
	cWord         // a letter or '_'
)

var classes = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = cDigit
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = cWord
		t[c-'a'+'A'] = cWord
	}
	t['_'] = cWord
	t['-'] = cDash
	t['.'] = cDot
	t[' '] = cSpace
	t['+'] = cPlus
	return t
}()

// Bounds of the state machine's buffers. A run keeps at most keepDigits
// digits once a group has ended (a later window needs another group of at
// least minGroup digits and may not exceed maxDigits), plus the group being
// read (at most maxDigits stored).
const (
	minGroup   = 3
	keepDigits = maxDigits - minGroup
	maxGroups  = keepDigits/minGroup + 2
)

// group is one digit group of the current run.
type group struct {
	start int // offset in the stream of its first byte
	off   int // index of its first digit in machine.digits
}

// machine finds card numbers in a stream of bytes, one byte at a time, in
// constant space. Its vocabulary:
//
//   - a unit is a maximal token of letters, digits and '_', where a single '-'
//     or '.' between two such characters joins the token (UUIDs, order
//     references, decimals, host names and base64url strings are each one
//     unit). A unit of digits and dashes only, of 3 to 19 digits, is a digit
//     group; any other unit is not.
//   - a run is a sequence of digit groups separated by single spaces (or
//     single '+', a space in form encoding).
//   - a card number is a window of consecutive groups of one run, 13 to 19
//     digits in all, that is in a known issuer range with a valid Luhn digit
//     (so a card number followed by its CVC, "4242 4242 4242 4242 123", is
//     found).
//
// A run that follows, after a single space, a unit of letters and digits
// (the "FR76" of a spaced IBAN), and a run right after a '+' that does not
// separate two groups (an international phone number, "+4915112345678"), are
// tainted: they hold no card numbers, unless the machine is wide.
type machine struct {
	wide    bool // report tainted runs too
	inUnit  bool
	joiner  uint8 // cDash or cDot just after the unit's last character, else 0
	spaced  bool  // the last unit ended at a single space
	tainted bool  // the run follows an alphanumeric unit
	letters bool  // the current unit is not made of digits and dashes only
	alpha   bool  // the current unit has a letter or '_'

	unitDigits int
	unitStart  int
	unitEnd    int
	unitOff    int

	n      int
	digits [keepDigits + maxDigits]byte
	ngroup int
	groups [maxGroups]group

	match Match
}

// skip reports whether a byte of class cls leaves the machine as it is: a
// letter or digit inside a unit that is already not a digit group, or a
// delimiter between runs. It is step's fast path.
func (m *machine) skip(cls uint8) bool {
	if m.inUnit {
		return m.letters && m.joiner == 0 && (cls == cWord && m.alpha || cls == cDigit && m.unitDigits > 0)
	}
	return !m.spaced && cls <= cSpace
}

// step advances the machine by one byte c, of class cls, that covers
// [start, end) of the stream (a decoded escape covers several bytes). It
// reports whether a card number ended just before c; the number is then in
// m.match.
func (m *machine) step(c byte, cls uint8, start, end int) bool {
	switch cls {
	case cDigit, cWord:
		if !m.inUnit {
			m.beginUnit(start)
		} else if m.joiner != 0 {
			if m.joiner == cDot {
				m.letters = true
			}
			m.joiner = 0
		}
		if cls == cDigit {
			if !m.letters && m.unitDigits < maxDigits {
				m.digits[m.n] = c
				m.n++
			}
			m.unitDigits++
		} else {
			m.letters = true
			m.alpha = true
		}
		m.unitEnd = end
		return false
	case cDash, cDot:
		if m.inUnit && m.joiner == 0 {
			m.joiner = cls
			return false
		}
	case cSpace, cPlus:
		if m.inUnit {
			single := m.joiner == 0
			found := m.endUnit()
			m.spaced = single
			return found
		}
		if cls == cPlus {
			// "+4915112345678": an international phone number.
			m.resetRun()
			m.tainted = true
			m.spaced = true
			return false
		}
	}
	// Any other byte ends the run.
	found := m.inUnit && m.endUnit()
	m.spaced = false
	m.resetRun()
	return found
}

// idle reports whether the machine is between runs: then its state does
// not depend on the bytes before.
func (m *machine) idle() bool { return !m.inUnit && !m.spaced }

// finish ends the stream: a unit still open ends here. It reports whether
// that completed a card number.
func (m *machine) finish() bool {
	found := m.inUnit && m.endUnit()
	m.spaced = false
	m.resetRun()
	return found
}

func (m *machine) beginUnit(start int) {
	if !m.spaced {
		m.resetRun()
	}
	m.spaced = false
	m.inUnit = true
	m.letters = false
	m.alpha = false
	m.unitDigits = 0
	m.unitStart = start
	m.unitOff = m.n
}

// endUnit closes the current unit and, when it is a digit group, looks for
// a card number ending with it.
func (m *machine) endUnit() bool {
	m.inUnit = false
	m.joiner = 0
	if m.letters {
		alnum := m.alpha && m.unitDigits > 0
		m.resetRun()
		m.tainted = alnum
		return false
	}
	if m.unitDigits < minGroup || m.unitDigits > maxDigits {
		m.resetRun()
		return false
	}
	m.groups[m.ngroup] = group{start: m.unitStart, off: m.unitOff}
	m.ngroup++
	found := (!m.tainted || m.wide) && m.window()
	m.trim()
	return found
}

// window looks for the longest card number that ends with the group just
// closed.
func (m *machine) window() bool {
	for i := range m.ngroup {
		g := m.groups[i]
		l := m.n - g.off
		if l > maxDigits {
			continue
		}
		if l < minDigits {
			return false
		}
		if brand, ok := brandOf(m.digits[g.off:m.n]); ok {
			m.match = Match{Start: g.start, End: m.unitEnd, Brand: brand, Last4: string(m.digits[m.n-4 : m.n])}
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

func (m *machine) resetRun() {
	m.n, m.ngroup = 0, 0
	m.tainted = false
}
