package cardscan

import (
	"fmt"
	"strings"
	"testing"
)

// stripeTestNumbers are Stripe's test card numbers, one or two per brand,
// with the grouping a person would type them in.
var stripeTestNumbers = []struct {
	number, grouped, brand string
}{
	{"4242424242424242", "4242 4242 4242 4242", Visa},
	{"4000056655665556", "4000 0566 5566 5556", Visa},
	{"5555555555554444", "5555 5555 5555 4444", Mastercard},
	{"2223003122003222", "2223 0031 2200 3222", Mastercard},
	{"378282246310005", "3782 822463 10005", Amex},
	{"6011111111111117", "6011 1111 1111 1117", Discover},
	{"3056930009020004", "3056 9300 0902 0004", Diners},
	{"36227206271667", "3622 720627 1667", Diners},
	{"3566002020360505", "3566 0020 2036 0505", JCB},
	{"6200000000000005", "6200 0000 0000 0005", UnionPay},
}

// contexts put a number (as %[1]s) or its grouped form (as %[2]s) where a
// request carries it.
var contexts = []struct{ name, format string }{
	{"bare", "%[1]s"},
	{"JSON string", `{"card":{"number":"%[1]s","exp_month":12}}`},
	{"JSON number", `{"number": %[1]s, "cvc": 123}`},
	{"JSON number at the end", `{"number":%[1]s}`},
	{"form body", "card[number]=%[1]s&card[cvc]=123"},
	{"query string", "/v1/tokens?number=%[1]s&exp=12%%2F25"},
	{"path", "/v1/cards/%[1]s/verify"},
	{"spaced", "card: %[2]s, thanks"},
	{"dashed", "card: %[3]s"},
	{"URL-encoded spaces", "number=%[4]s"},
	{"form-encoded spaces", "number=%[5]s&x=1"},
	{"JSON escape before", `{"note":"paid with\n%[1]s"}`},
	{"followed by CVC", "%[2]s 123"},
	{"header value", "X-Card: %[1]s"},
}

func TestStripeTestNumbersInContext(t *testing.T) {
	for _, n := range stripeTestNumbers {
		dashed := strings.ReplaceAll(n.grouped, " ", "-")
		pct := strings.ReplaceAll(n.grouped, " ", "%20")
		plus := strings.ReplaceAll(n.grouped, " ", "+")
		for _, c := range contexts {
			t.Run(n.brand+"/"+n.number+"/"+c.name, func(t *testing.T) {
				text := fmt.Sprintf(c.format, n.number, n.grouped, dashed, pct, plus)
				got := Find(nil, text)
				if len(got) == 0 {
					t.Fatalf("no card number found in %q", text)
				}
				m := got[0]
				if m.Brand != n.brand || m.Last4 != n.number[len(n.number)-4:] {
					t.Errorf("match %+v, want brand %s and last4 %s", m, n.brand, n.number[len(n.number)-4:])
				}
				if digits := onlyDigits(text[m.Start:m.End]); !strings.HasSuffix(digits, n.number) {
					t.Errorf("match covers %q, want the number %s", text[m.Start:m.End], n.number)
				}
				if !Contains(text) {
					t.Error("Contains = false")
				}
			})
		}
	}
}

// onlyDigits drops everything but digits, after undoing %20 and %2D.
func onlyDigits(s string) string {
	s = strings.NewReplacer("%20", "", "%2D", "").Replace(s)
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= '0' && c <= '9' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// withCheckDigit completes the digits of prefix, padded with zeros to n-1
// digits, with their Luhn check digit.
func withCheckDigit(prefix string, n int) string {
	body := prefix + strings.Repeat("0", n-1-len(prefix))
	for d := byte('0'); d <= '9'; d++ {
		if luhn([]byte(body + string(d))) {
			return body + string(d)
		}
	}
	panic("unreachable")
}

func TestIssuerRanges(t *testing.T) {
	for _, r := range iins {
		for _, edge := range []int{r.lo, r.hi} {
			prefix := fmt.Sprintf("%0*d", r.width, edge)
			for n := minDigits; n <= maxDigits; n++ {
				number := withCheckDigit(prefix, n)
				wantBrand, want := expectedBrand(number)
				t.Run(fmt.Sprintf("%s/%s/%d", r.brand, prefix, n), func(t *testing.T) {
					got := Find(nil, number)
					if (len(got) == 1) != want || want && got[0].Brand != wantBrand {
						t.Fatalf("Find(%s) = %+v, want brand %q (found: %v)", number, got, wantBrand, want)
					}
				})
			}
		}
	}
}

// expectedBrand is the table's meaning spelt out independently: the first
// range (in table order) whose prefix and lengths fit names the brand.
func expectedBrand(number string) (string, bool) {
	for _, r := range iins {
		var p int
		fmt.Sscanf(number[:r.width], "%d", &p)
		if p >= r.lo && p <= r.hi && r.lengths&(1<<len(number)) != 0 {
			return r.brand, true
		}
	}
	return "", false
}

func TestLengthsPerBrand(t *testing.T) {
	tests := []struct {
		prefix string
		n      int
		want   bool
	}{
		{"4", 13, true}, {"4", 14, false}, {"4", 15, false}, {"4", 16, true}, {"4", 17, false}, {"4", 19, true},
		{"51", 15, false}, {"51", 16, true}, {"51", 17, false},
		{"2221", 16, true}, {"2720", 16, true}, {"2220", 16, false}, {"2721", 16, false},
		{"34", 15, true}, {"34", 16, false}, {"37", 15, true}, {"35", 15, false},
		{"6011", 16, true}, {"6011", 19, true},
		{"3528", 16, true}, {"3527", 16, false}, {"3590", 16, false},
		{"300", 14, true}, {"305", 14, true}, {"306", 14, false}, {"36", 14, true}, {"38", 14, true}, {"39", 14, true},
		{"81", 16, true}, {"81", 15, false}, {"82", 16, false},
		{"50", 13, true}, {"56", 19, true}, {"59", 16, false},
		{"1", 16, false}, {"7", 16, false}, {"9", 16, false}, {"0", 16, false},
	}
	for _, tt := range tests {
		number := withCheckDigit(tt.prefix, tt.n)
		if got := Contains(number); got != tt.want {
			t.Errorf("Contains(%s) (prefix %s, %d digits) = %v, want %v", number, tt.prefix, tt.n, got, tt.want)
		}
	}
}

func TestDelimiting(t *testing.T) {
	tests := []struct {
		text string
		want bool
	}{
		{"4242424242424242", true},
		{"a4242424242424242", true},
		{"4242424242424242a", false},
		{"_4242424242424242", true},
		{"14242424242424242", false},
		{"4242424242424242 4", true},
		{"x-4242424242424242", true},
		{"4242424242424242-x", true},
		{"4242424242424242--x", true},
		{"4242--4242--4242--4242", false},
		{"4242  4242  4242  4242", false},
		{"4242 - 4242 - 4242 - 4242", false},
		{"4242.4242.4242.4242", false},
		{"4242424242424242.", true},
		{"=4242424242424242&", true},
		{"(4242424242424242)", true},
		{"\"4242424242424242\"", true},
		{"4242\t4242\t4242\t4242", false},
		{"€4242424242424242", true},
		{"42 42 42 42 42 42 42 42", true},
		{"12 4242 4242 4242 4242", true},
		{"A1 4242 4242 4242 4242", true},
		{"pay 4242 4242 4242 4242", true},
		{"4242 4242 4242 4242 4242", true},
		{"+4242424242424242", true},
		{"4242+4242+4242+4242", true},
		{"4242++4242++4242++4242", false},
		// Issue #9: groupings of any length, and whatever comes before.
		{"3622 7206 2716 67", true},
		{"3622-7206-2716-67", true},
		{"4-2-4-2-4-2-4-2-4-2-4-2-4-2-4-2", true},
		{"v2 4242424242424242", true},
		{"ord-4242424242424242", true},
		{"abc4242424242424242", true},
		{"+4242 4242 4242 4242", true},
		{"+1 4242 4242 4242 4242", true},
		{"2 4242 4242 4242 4242", true},
		{"24242424242424242", false},
		// Letters right after the last digit glue it into a word.
		{"4242424242424242abc", false},
		{"4242424242424242_", false},
		{"abc4242424242424242abc", false},
		{"4242 4242 4242 4242abc", false},
		{"4242 4242 4242 4242 12abc", true},
		// A '.' between two digits makes one number of them.
		{"4242424242424242.5", false},
		{"0.4242424242424242", false},
		{"1.5 4242 4242 4242 4242", true},
		{"4242 4242 4242 4242.5", false},
		{"4242424242424242.", true},
		{"4242424242424242.x", true},
		{".4242424242424242", false},
		{"x.4242424242424242", false},
		{"x. 4242424242424242", true},
		// A phone number: at most 15 digits right after a '+'.
		{"+4915112345678", false},
		{"+49 151 12345678", false},
		{"+49-151-12345678", false},
		{"4915112345678", true},
		{"+378282246310005", false},
		{"+ 378282246310005", true},
		// No exception for hex identifiers (see the package doc).
		{"42424242-4242-4242-4242-424242424242", true},
		{"00-0af7651916cd43dd8448eb211c80319c-4242424242424242-01", true},
	}
	for _, tt := range tests {
		if got := Contains(tt.text); got != tt.want {
			t.Errorf("Contains(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

func TestDecoding(t *testing.T) {
	tests := []struct {
		text string
		want bool
	}{
		{"4242%204242%204242%204242", true},
		{"4242%2d4242%2D4242%2d4242", true},
		{"4242+4242+4242+4242", true},
		{"%34242424242424242", true},
		{`\u0034242424242424242`, true},
		{`"\t4242424242424242\r"`, true},
		{`\"4242424242424242\"`, true},
		{`\/4242424242424242\/`, true},
		// Digits that start inside an escape are judged decoded: "%42" is
		// 'B', and 14 digits follow it.
		{"%%4242424242424242", false},
		{"%4242424242424242", false},
		{"%%204242424242424242", true},
		{"%2B4915112345678", false},
		{"%2B4242424242424242", true},
		{"1%2E4242424242424242", false},
		{"%2D4242424242424242", true},
		{`\u002B4915112345678`, false},
		{"3622%207206%202716%2067", true},
		{"%4", false},
		{"4242424242424242%4", true},
		{`\u12"4242424242424242"`, true},
		{`\x4242424242424242`, true},
		{"4242%2x4242%204242%204242", false},
		{"4242424242424242%41", true},
		{`a\\n4242424242424242`, true},
		{`4242\u00a04242\u00a04242\u00a04242`, false},
		// Go's quoting (%q) of what is not printable: the escape is a
		// delimiter, not the start of a longer run of digits.
		{`"\x004242424242424242"`, true},
		{`"\U000e00015555555555554444"`, true},
		{`"\u00a04242424242424242"`, true},
		{`"\a4242424242424242\v"`, true},
		{`"\xff\xfe378282246310005"`, true},
		// Not Go's: "\x42" is printable, so Go writes 'B'; the escape's
		// bytes stand for themselves.
		{`\x42424242424242`, false},
		{`\U0000004242424242424242`, false},
		{`\x1`, false},
		{`\U0000`, false},
	}
	for _, tt := range tests {
		if got := Contains(tt.text); got != tt.want {
			t.Errorf("Contains(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

func TestFindOffsets(t *testing.T) {
	text := `{"a":"4242 4242 4242 4242","b":"x","c":"5555%205555%205555%204444","d":378282246310005}`
	got := Find(nil, text)
	want := []string{"4242 4242 4242 4242", "5555%205555%205555%204444", "378282246310005"}
	if len(got) != len(want) {
		t.Fatalf("Find = %+v, want %d matches", got, len(want))
	}
	for i, m := range got {
		if text[m.Start:m.End] != want[i] {
			t.Errorf("match %d covers %q, want %q", i, text[m.Start:m.End], want[i])
		}
	}
	if got := Find(got[:1], "no number here"); len(got) != 1 {
		t.Errorf("Find on a clean text changed dst: %+v", got)
	}
}

// TestStreaming writes every positive case in two pieces, split at every
// position, and byte by byte: a number split across writes is found.
func TestStreaming(t *testing.T) {
	for _, c := range readCorpus(t, "positives.txt") {
		text := c.text
		for cut := 0; cut <= len(text); cut++ {
			var s Scanner
			_, _ = s.Write([]byte(text[:cut]))
			_, _ = s.Write([]byte(text[cut:]))
			_ = s.Close()
			if !s.Found() {
				t.Errorf("%q split at %d: not found", text, cut)
			}
		}
		var s Scanner
		for i := range len(text) {
			_, _ = s.Write([]byte{text[i]})
		}
		_ = s.Close()
		if !s.Found() {
			t.Errorf("%q byte by byte: not found", text)
		}
	}
}

// TestFoundBeforeClose: a number followed by a delimiter is found without
// waiting for the end of the stream.
func TestFoundBeforeClose(t *testing.T) {
	var s Scanner
	_, _ = s.Write([]byte("4242424242424242"))
	if s.Found() {
		t.Error("found before the number's end was known")
	}
	_, _ = s.Write([]byte(","))
	if !s.Found() {
		t.Error("not found after the delimiter")
	}
}
