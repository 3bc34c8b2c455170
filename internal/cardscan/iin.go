package cardscan

// Brands of the card numbers the scanner recognizes.
const (
	Visa       = "visa"
	Mastercard = "mastercard"
	Amex       = "amex"
	Discover   = "discover"
	JCB        = "jcb"
	Diners     = "diners"
	UnionPay   = "unionpay"
	Maestro    = "maestro"
)

// Lengths a card number may have, whatever its brand.
const (
	minDigits = 13
	maxDigits = 19
)

// MinDigits is the fewest digits a card number has: a text holding fewer
// digits and escapes ('%', '\\', which may decode to one) holds no card
// number.
const MinDigits = minDigits

// iinRange is a range of issuer identification numbers: the numbers whose
// first width digits lie in [lo, hi] and whose length is in lengths (a bit
// set: bit n for n digits).
type iinRange struct {
	brand   string
	width   int
	lo, hi  int
	lengths uint32
}

// iins is the one table of the issuer ranges the scanner knows, with the
// lengths each brand issues (narrowed to 13-19 digits). Where ranges overlap,
// the first entry names the brand; Maestro's catch-all "6" comes last.
//
//	Visa        4                                  13, 16, 19
//	Mastercard  51-55, 2221-2720                   16
//	Amex        34, 37                             15
//	Discover    6011, 644-649, 65, 622126-622925   16-19
//	JCB         3528-3589                          16-19
//	Diners      300-305, 36, 38-39                 14-19
//	UnionPay    62, 81                             16-19
//	Maestro     50, 56-58, 6                       13-19
var iins = []iinRange{
	{Visa, 1, 4, 4, lengths(13, 16, 19)},
	{Mastercard, 2, 51, 55, lengths(16)},
	{Mastercard, 4, 2221, 2720, lengths(16)},
	{Amex, 2, 34, 34, lengths(15)},
	{Amex, 2, 37, 37, lengths(15)},
	{Discover, 4, 6011, 6011, span(16, 19)},
	{Discover, 3, 644, 649, span(16, 19)},
	{Discover, 2, 65, 65, span(16, 19)},
	{Discover, 6, 622126, 622925, span(16, 19)},
	{JCB, 4, 3528, 3589, span(16, 19)},
	{Diners, 3, 300, 305, span(14, 19)},
	{Diners, 2, 36, 36, span(14, 19)},
	{Diners, 2, 38, 39, span(14, 19)},
	{UnionPay, 2, 62, 62, span(16, 19)},
	{UnionPay, 2, 81, 81, span(16, 19)},
	{Maestro, 2, 50, 50, span(13, 19)},
	{Maestro, 2, 56, 58, span(13, 19)},
	{Maestro, 1, 6, 6, span(13, 19)},
}

func lengths(ns ...int) uint32 {
	var set uint32
	for _, n := range ns {
		set |= 1 << n
	}
	return set
}

func span(lo, hi int) uint32 {
	var set uint32
	for n := lo; n <= hi; n++ {
		set |= 1 << n
	}
	return set
}

// pow10 holds the powers of ten that cut a six-digit prefix down to a width.
var pow10 = [...]int{1, 10, 100, 1000, 10000, 100000}

// brandOf returns the brand of the digits d (ASCII, minDigits to maxDigits of
// them) when they are a card number: a known issuer range, a length that
// issuer uses, and a valid Luhn check digit.
func brandOf(d []byte) (string, bool) {
	p6 := 0
	for _, c := range d[:6] {
		p6 = p6*10 + int(c-'0')
	}
	for i := range iins {
		r := &iins[i]
		if r.lengths&(1<<len(d)) == 0 {
			continue
		}
		if p := p6 / pow10[6-r.width]; p >= r.lo && p <= r.hi {
			return r.brand, luhn(d)
		}
	}
	return "", false
}

// luhn reports whether the ASCII digits d end in a valid Luhn check digit.
func luhn(d []byte) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}
