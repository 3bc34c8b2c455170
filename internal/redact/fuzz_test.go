package redact

import (
	"strings"
	"testing"
)

// planted are secrets that String must mask wherever they stand between
// two line breaks.
var planted = []string{
	"4242424242424242",
	"4242 4242 4242 4242",
	"4242%204242%204242%204242",
	"378282246310005",
	jwt,
	"sk_live_51HxAbCdEf0123456789",
	"rk_test_51HxAbCdEf0123456789",
	"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	testClientSecret,
	"Bearer opaque-token-value",
	"Basic dXNlcjpwYXNzd29yZA==",
}

// FuzzString checks that String is idempotent (so nothing it would mask
// is left in its output) and that a planted secret between line breaks is
// masked whatever surrounds it.
func FuzzString(f *testing.F) {
	for _, s := range []string{
		"",
		"/v1/x?card[number]=4242424242424242&cvc=123",
		`{"cvc":"123","number":4242424242424242}`,
		"Authorization: Bearer " + jwt,
		"https://u:p@h/",
		`{\"cvc\":\"1\"}`,
		"whsec_%2B%2F sk_test_x eyJa.b.c pi_1_secret_2",
		"FR76 3000 6000 0112 3456 7890 189",
	} {
		f.Add(s, s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, prefix, suffix string, pick uint8) {
		out := String(prefix)
		if again := String(out); again != out {
			t.Fatalf("not idempotent:\n in  %q\n out %q\n again %q", prefix, out, again)
		}
		secret := planted[int(pick)%len(planted)]
		in := prefix + "\n" + secret + "\n" + suffix
		out = String(in)
		// The secret may be in the prefix or suffix too, glued to other
		// characters: only the planted one must be gone.
		if strings.Count(out, secret) > strings.Count(prefix, secret)+strings.Count(suffix, secret) {
			t.Fatalf("String(%q) = %q keeps %q", in, out, secret)
		}
		if again := String(out); again != out {
			t.Fatalf("not idempotent:\n in  %q\n out %q\n again %q", in, out, again)
		}
	})
}
