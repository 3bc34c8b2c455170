package redact

import (
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/cardscan"
)

// FuzzGuardAndRedactorAgree checks, for any input, that the card-data
// guard (cardscan.Contains) and the redactor share one definition of a card
// number: what the guard refuses the redactor masks, what the redactor
// masks as a card the guard refuses, and the redactor's output never holds
// a card number the guard would refuse.
func FuzzGuardAndRedactorAgree(f *testing.F) {
	for _, s := range []string{
		"3622 7206 2716 67",
		"+4242424242424242",
		"v2 4242424242424242",
		`{"reference":"ord-4242424242424242"}`,
		"abc4242424242424242",
		"4242424242424242: 1",
		"2 4242 4242 4242 4242",
		"24242424242424242",
		"4242424242424242abc",
		"+4915112345678",
		"phone=%2B4915112345678&card=4242%204242%204242%204242",
		`{"note":"\u0034242424242424242","n":"\n4242424242424242"}`,
		"42424242-4242-4242-4242-424242424242",
		"4242424242424242-dead",
		"cvc=123&number=4242424242424242",
		"[card_ending_4242] 4242 4242 4242 4242",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := String(s)
		if cardscan.Contains(out) {
			t.Fatalf("String(%q) = %q, which the guard refuses", s, out)
		}
		refused := cardscan.Contains(s)
		// A card number is masked as one, or as a sensitive value's part.
		masked := strings.Count(out, "[card_ending_") > strings.Count(s, "[card_ending_")
		if refused && !masked && strings.Count(out, Mask) <= strings.Count(s, Mask) {
			t.Fatalf("the guard refuses %q, the redactor masks no card in it: %q", s, out)
		}
		if masked && !refused {
			t.Fatalf("the redactor masks a card in %q (%q), the guard does not refuse it", s, out)
		}
	})
}
