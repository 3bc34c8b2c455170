package jwtverify

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwa"
)

// DefaultAlgorithms is the allow-list when none is configured and no HMAC
// secret is used.
var DefaultAlgorithms = []string{"RS256", "PS256", "ES256", "EdDSA"}

// supported is every algorithm a Verifier can be configured with. "none" is
// not among them, and never will be.
var supported = map[string]jwa.SignatureAlgorithm{
	"RS256": jwa.RS256, "RS384": jwa.RS384, "RS512": jwa.RS512,
	"PS256": jwa.PS256, "PS384": jwa.PS384, "PS512": jwa.PS512,
	"ES256": jwa.ES256, "ES384": jwa.ES384, "ES512": jwa.ES512,
	"EdDSA": jwa.EdDSA,
	"HS256": jwa.HS256, "HS384": jwa.HS384, "HS512": jwa.HS512,
}

// Algorithms is an allow-list of signature algorithms: all asymmetric, or
// all HMAC.
type Algorithms struct {
	set map[string]bool
}

// ParseAlgorithms checks names (exact, case-sensitive JOSE names) and
// returns the allow-list. It refuses "none" in any spelling, unknown names,
// an empty list, and a list mixing HMAC with asymmetric algorithms: one
// provider never accepts both, so that a public key can never be used as an
// HMAC secret.
func ParseAlgorithms(names []string) (Algorithms, error) {
	if len(names) == 0 {
		return Algorithms{}, fmt.Errorf("no algorithms")
	}
	a := Algorithms{set: make(map[string]bool, len(names))}
	hmac, asym := false, false
	for _, n := range names {
		if strings.EqualFold(n, "none") {
			return Algorithms{}, fmt.Errorf("algorithm %q is never accepted", n)
		}
		if _, ok := supported[n]; !ok {
			return Algorithms{}, fmt.Errorf("unsupported algorithm %q (have %s)", n, strings.Join(supportedNames(), ", "))
		}
		if isHMAC(n) {
			hmac = true
		} else {
			asym = true
		}
		a.set[n] = true
	}
	if hmac && asym {
		return Algorithms{}, fmt.Errorf("HMAC and asymmetric algorithms cannot be allowed together")
	}
	return a, nil
}

// Allows reports whether alg is on the list.
func (a Algorithms) Allows(alg string) bool { return a.set[alg] }

// HMAC reports whether the list holds HMAC algorithms (and so only those).
func (a Algorithms) HMAC() bool {
	for n := range a.set {
		return isHMAC(n)
	}
	return false
}

// Names returns the algorithms, sorted.
func (a Algorithms) Names() []string {
	names := make([]string, 0, len(a.set))
	for n := range a.set {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func isHMAC(alg string) bool { return strings.HasPrefix(alg, "HS") }

func supportedNames() []string {
	names := make([]string, 0, len(supported))
	for n := range supported {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
