package jwtverify

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxNumericDate is 9999-12-31T23:59:59Z: a later date is not a real one,
// and bounding it keeps the conversion to time.Time exact.
const maxNumericDate = 253402300799

// Claims is a verified token's claim set. It is read-only: the token cache
// shares one value between requests.
type Claims struct {
	// Subject is sub, non-empty.
	Subject string
	// Issuer is iss.
	Issuer string
	// Audience is aud as a list.
	Audience []string
	// Expiry is exp.
	Expiry time.Time

	values map[string]any
}

// Value returns the claim name as a string: a string as it is, a number as
// the token wrote it, true or false, and arrays and objects as compact JSON.
// It reports false when the claim is absent or null.
func (c *Claims) Value(name string) (string, bool) {
	v, ok := c.values[name]
	if !ok || v == nil {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	}
	// Arrays and objects of decoded JSON always marshal.
	b, _ := json.Marshal(v)
	return string(b), true
}

// checkClaims type-checks the registered claims as RFC 7519 defines them,
// whatever a lenient library would accept, then checks them against the
// configuration and now.
func (v *Verifier) checkClaims(p map[string]any, now time.Time) (*Claims, *Error) {
	exp, ok, err := numericDate(p, "exp")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, refuse(ReasonClaimMissing, "exp is required")
	}
	nbf, hasNBF, err := numericDate(p, "nbf")
	if err != nil {
		return nil, err
	}
	iat, hasIAT, err := numericDate(p, "iat")
	if err != nil {
		return nil, err
	}
	iss, hasISS, err := stringClaim(p, "iss")
	if err != nil {
		return nil, err
	}
	sub, hasSub, err := stringClaim(p, "sub")
	if err != nil {
		return nil, err
	}
	aud, hasAud, err := audience(p)
	if err != nil {
		return nil, err
	}

	switch {
	case !now.Before(exp.Add(v.skew)):
		return nil, &Error{Reason: ReasonExpired, Err: fmt.Errorf("expired %s ago", now.Sub(exp).Round(time.Second))}
	case hasNBF && now.Add(v.skew).Before(nbf):
		return nil, &Error{Reason: ReasonNotYetValid, Err: fmt.Errorf("valid in %s", nbf.Sub(now).Round(time.Second))}
	case hasIAT && now.Add(v.skew).Before(iat):
		return nil, &Error{Reason: ReasonIssuedInFuture, Err: fmt.Errorf("issued %s in the future", iat.Sub(now).Round(time.Second))}
	case !hasISS || iss != v.issuer:
		return nil, refuse(ReasonIssuer, "iss is not the configured issuer")
	case !hasAud || !slices.ContainsFunc(aud, v.audiences.has):
		return nil, refuse(ReasonAudience, "aud names none of the configured audiences")
	case !hasSub || sub == "" || strings.ContainsFunc(sub, isControl) || strings.TrimSpace(sub) != sub:
		// White space around sub would make one user two: paygate keys
		// ownership, limits and idempotency by sub as it is, while HTTP
		// trims the identity header the upstream reads it from.
		return nil, refuse(ReasonSubject, "sub is missing, empty, or has control characters or white space around it")
	}
	for _, name := range v.required {
		if p[name] == nil {
			return nil, &Error{Reason: ReasonClaimMissing, Err: fmt.Errorf("required claim %q is missing", name)}
		}
	}
	return &Claims{Subject: sub, Issuer: iss, Audience: aud, Expiry: exp, values: p}, nil
}

// numericDate reads a NumericDate claim: a positive JSON number of seconds
// (fractions allowed) no later than maxNumericDate.
func numericDate(p map[string]any, name string) (time.Time, bool, *Error) {
	raw, ok := p[name]
	if !ok {
		return time.Time{}, false, nil
	}
	n, isNum := raw.(json.Number)
	if !isNum {
		return time.Time{}, false, &Error{Reason: ReasonMalformed, Err: fmt.Errorf("%s is not a number", name)}
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || f <= 0 || f > maxNumericDate || math.IsNaN(f) {
		return time.Time{}, false, &Error{Reason: ReasonMalformed, Err: fmt.Errorf("%s is not a positive date before year 10000", name)}
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true, nil
}

func stringClaim(p map[string]any, name string) (string, bool, *Error) {
	raw, ok := p[name]
	if !ok {
		return "", false, nil
	}
	s, isString := raw.(string)
	if !isString {
		return "", false, &Error{Reason: ReasonMalformed, Err: fmt.Errorf("%s is not a string", name)}
	}
	return s, true, nil
}

// audience reads aud: a string, or an array of strings.
func audience(p map[string]any) ([]string, bool, *Error) {
	switch raw := p["aud"].(type) {
	case nil:
		if _, present := p["aud"]; present {
			return nil, false, refuse(ReasonMalformed, "aud is null")
		}
		return nil, false, nil
	case string:
		return []string{raw}, true, nil
	case []any:
		aud := make([]string, len(raw))
		for i, a := range raw {
			s, ok := a.(string)
			if !ok {
				return nil, false, refuse(ReasonMalformed, "aud holds a non-string")
			}
			aud[i] = s
		}
		return aud, true, nil
	}
	return nil, false, refuse(ReasonMalformed, "aud is neither a string nor an array of strings")
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// stringSet is a set of configured strings.
type stringSet map[string]bool

func (s stringSet) has(v string) bool { return s[v] }
