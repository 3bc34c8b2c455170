package cardscan

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// FuzzScan checks, for any input, that Find finds what the two machines
// find when each runs over the whole stream (without the Scanner's shortcut
// of running one machine while the decoded stream equals the raw one), that
// streaming in two pieces or byte by byte finds the same, that every match
// lies inside the input and, where it was found as written, is 13 to 19
// digits in a known range with a valid Luhn digit.
func FuzzScan(f *testing.F) {
	for _, s := range []string{
		"4242424242424242",
		`{"number":"4242 4242 4242 4242","cvc":"123"}`,
		"card[number]=4242%204242%204242%204242&x=1",
		"3782-822463-10005",
		`{"note":"a\n6011111111111117\u0020"}`,
		"FR76 3000 6000 0112 3456 7890 189",
		"+4915112345678",
		"pi_3MtwBwLkdIwHu7ix28a3tqPa_secret_YrKJUKribcBjcG8HVhfZluoGH",
		"%%%2\\u00\\",
		"4242 4242 4242 4242 4242 4242 4242 4242",
		"3622 7206 2716 67",
		"ord-4242424242424242 v2 4242424242424242abc",
		"phone=%2B4915112345678&n=1%2E4242424242424242",
		"42424242-4242-4242-4242-424242424242",
		"4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-2-dead",
		"4242424242424242-deadbeefdeadbeefdeadbeef 0.4242424242424242",
	} {
		f.Add([]byte(s), uint(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint) {
		matches := Find(nil, string(data))
		if got, want := spans(matches), spans(reference(data)); got != want {
			t.Fatalf("Find = %s, reference = %s", got, want)
		}

		var s Scanner
		k := int(cut % uint(len(data)+1))
		_, _ = s.Write(data[:k])
		_, _ = s.Write(data[k:])
		_ = s.Close()
		if s.Found() != (len(matches) > 0) {
			t.Fatalf("split at %d: Found = %v, Find = %+v", k, s.Found(), matches)
		}
		var b Scanner
		for i := range data {
			_, _ = b.Write(data[i : i+1])
		}
		_ = b.Close()
		if b.Found() != s.Found() {
			t.Fatalf("byte by byte: Found = %v, want %v", b.Found(), s.Found())
		}

		for _, m := range matches {
			if m.Start < 0 || m.End > len(data) || m.Start >= m.End {
				t.Fatalf("match %+v outside the input (%d bytes)", m, len(data))
			}
			if len(m.Last4) != 4 || strings.Trim(m.Last4, "0123456789") != "" || m.Brand == "" {
				t.Fatalf("match %+v: bad last4 or brand", m)
			}
			text := string(data[m.Start:m.End])
			if strings.Trim(text, "0123456789 -+") != "" {
				continue // found after decoding
			}
			digits := strings.NewReplacer(" ", "", "-", "", "+", "").Replace(text)
			if brand, ok := brandOf([]byte(digits)); len(digits) < minDigits || len(digits) > maxDigits || !ok || brand != m.Brand {
				t.Fatalf("match %+v covers %q, not a card number", m, text)
			}
			if !strings.HasSuffix(digits, m.Last4) {
				t.Fatalf("match %+v: last4 is not the end of %q", m, digits)
			}
		}
	})
}

// reference runs the raw machine over data, and the decoder and the decoded
// machine over data, each from start to end.
func reference(data []byte) []Match {
	s := Scanner{collect: true}
	for i, c := range data {
		s.rawStep(c, i)
		s.decode(c, i)
	}
	if s.raw.finish() {
		s.record(s.raw.found)
	}
	s.flushEscape()
	if s.decoded.finish() {
		s.record(s.decoded.found)
	}
	return s.matches
}

// spans lists the matches' spans, sorted, as text.
func spans(ms []Match) string {
	list := make([]string, len(ms))
	for i, m := range ms {
		list[i] = fmt.Sprintf("%08d-%08d", m.Start, m.End)
	}
	slices.Sort(list)
	return strings.Join(list, ",")
}
