package cardscan

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusDir holds the shared corpus of texts with and without card numbers.
const corpusDir = "../../testdata/cardscan"

type corpusCase struct {
	line  int
	brand string
	text  string
}

// readCorpus reads a corpus file: one case per line, "#" comments and blank
// lines skipped; in positives.txt a case is "<brand>|<text>".
func readCorpus(t *testing.T, name string) []corpusCase {
	t.Helper()
	f, err := os.Open(filepath.Join(corpusDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []corpusCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c := corpusCase{line: n, text: line}
		if name == "positives.txt" {
			brand, text, ok := strings.Cut(line, "|")
			if !ok {
				t.Fatalf("%s:%d: want <brand>|<text>", name, n)
			}
			c.brand, c.text = brand, text
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatalf("%s: no cases", name)
	}
	return cases
}

func TestCorpusNegatives(t *testing.T) {
	for _, c := range readCorpus(t, "negatives.txt") {
		if got := Find(nil, c.text); len(got) != 0 {
			t.Errorf("negatives.txt:%d: %q: found %+v", c.line, c.text, got)
		}
	}
}

func TestCorpusPositives(t *testing.T) {
	brands := map[string]bool{}
	for _, c := range readCorpus(t, "positives.txt") {
		got := Find(nil, c.text)
		if len(got) == 0 {
			t.Errorf("positives.txt:%d: %q: no card number found", c.line, c.text)
			continue
		}
		if got[0].Brand != c.brand {
			t.Errorf("positives.txt:%d: %q: brand %s, want %s", c.line, c.text, got[0].Brand, c.brand)
		}
		brands[c.brand] = true
	}
	for _, b := range []string{Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro} {
		if !brands[b] {
			t.Errorf("positives.txt has no %s case", b)
		}
	}
}

// TestGeneratedNegatives scans generated identifiers and credentials, many
// of them holding Luhn-valid, in-range digit runs glued to other characters
// the way base64 and hex strings do. None is a card number.
func TestGeneratedNegatives(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(kind, s string) {
		t.Helper()
		if got := Find(nil, s); len(got) != 0 {
			t.Fatalf("%s %q: found %+v", kind, s, got)
		}
	}
	for i := range 2000 {
		check("JWT", jwtLike(r))
		check("base64url token", b64Token(r, base64.RawURLEncoding))
		check("base64 credential", "Basic "+b64Token(r, base64.StdEncoding))
		check("API key", []string{"sk_test_", "sk_live_", "rk_live_", "whsec_", "pk_test_"}[i%5]+gluedRun(r, alnum))
		check("UUID", uuidLike(r))
		sum := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		check("hex digest", hex.EncodeToString(sum[:]))
		check("epoch ms", fmt.Sprint(1_600_000_000_000+r.Int64N(500_000_000_000)))
		check("phone", phoneLike(r))
	}
}

const (
	alnum     = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b64urlSet = alnum + "-_"
)

// luhnRun returns a random number in a known issuer range with a valid
// check digit: a card number if it stood alone.
func luhnRun(r *rand.Rand) string {
	prefixes := []string{"4", "51", "55", "2221", "34", "37", "6011", "3528", "36", "62"}
	prefix := prefixes[r.IntN(len(prefixes))]
	n := 16
	if prefix == "34" || prefix == "37" {
		n = 15
	}
	var b strings.Builder
	b.WriteString(prefix)
	for b.Len() < n-1 {
		b.WriteByte(byte('0' + r.IntN(10)))
	}
	return withCheckDigit(b.String(), n)
}

func randString(r *rand.Rand, set string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = set[r.IntN(len(set))]
	}
	return string(b)
}

// gluedRun is random text from set with a Luhn-valid run inside, a letter on
// each side of it.
func gluedRun(r *rand.Rand, set string) string {
	letter := func() string { return string(alnum[r.IntN(52)]) }
	return randString(r, set, r.IntN(12)) + letter() + luhnRun(r) + letter() + randString(r, set, r.IntN(12))
}

func jwtLike(r *rand.Rand) string {
	return "eyJ" + gluedRun(r, b64urlSet) + "." + "eyJ" + gluedRun(r, b64urlSet) + "." + gluedRun(r, b64urlSet)
}

// b64Token is the encoding of random bytes with a glued Luhn-valid run
// spliced in, as a credential's characters may happen to hold one.
func b64Token(r *rand.Rand, enc *base64.Encoding) string {
	raw := make([]byte, 12+r.IntN(40))
	for i := range raw {
		raw[i] = byte(r.Uint32())
	}
	s := enc.EncodeToString(raw)
	cut := r.IntN(len(s) - 4)
	for cut > 0 && !isAlpha(s[cut-1]) {
		cut--
	}
	return s[:cut] + gluedRun(r, alnum) + s[cut:]
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func uuidLike(r *rand.Rand) string {
	h := randString(r, "0123456789abcdef", 32)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-" + h[16:20] + "-" + h[20:]
}

func phoneLike(r *rand.Rand) string {
	d := func(n int) string { return randString(r, "0123456789", n) }
	formats := []func() string{
		func() string { return "+1 " + d(3) + " " + d(3) + " " + d(4) },
		func() string { return "+44 " + d(2) + " " + d(4) + " " + d(4) },
		func() string { return "0044 " + d(2) + " " + d(4) + " " + d(4) },
		func() string { return "+" + d(2) + d(10) },
		func() string { return "00" + d(2) + d(11) },
		func() string { return "(" + d(3) + ") " + d(3) + "-" + d(4) },
		func() string { return "+1-" + d(3) + "-" + d(3) + "-" + d(4) },
		func() string { return "+33 " + d(1) + " " + d(2) + " " + d(2) + " " + d(2) + " " + d(2) },
	}
	return formats[r.IntN(len(formats))]()
}
