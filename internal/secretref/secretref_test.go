package secretref

import "testing"

func TestValid(t *testing.T) {
	for s, want := range map[string]bool{
		"{env.STRIPE_SECRET_KEY}":   true,
		"{file./run/secrets/whsec}": true,
		"":                          false,
		"whsec_abc":                 false,
		"sk_test_123":               false,
		"{env.A}{env.B}":            false,
		"x{env.A}":                  false,
		"{env.A}x":                  false,
		"{env.}":                    false,
		"{env.A B}":                 false,
		"{vars.secret}":             false,
		"{http.request.header.X-K}": false,
	} {
		if got := Valid(s); got != want {
			t.Errorf("Valid(%q) = %v, want %v", s, got, want)
		}
	}
}
