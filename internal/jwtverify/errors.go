package jwtverify

import "errors"

// Reason is a stable code saying why a token was refused. Reasons double as
// metric labels and audit reasons, so the set is fixed: it is Reasons.
type Reason string

// Reasons a token is refused for.
const (
	// ReasonTooLarge: the token is longer than the configured limit; it was
	// not parsed.
	ReasonTooLarge Reason = "token_too_large"
	// ReasonMalformed: not a compact JWS of unpadded base64url segments
	// holding JSON objects, or a header or registered claim of the wrong
	// type.
	ReasonMalformed Reason = "token_malformed"
	// ReasonDuplicateMember: a JSON object in the header or the payload
	// names a member twice.
	ReasonDuplicateMember Reason = "duplicate_member"
	// ReasonAlgNotAllowed: the header's alg is not in the allow-list ("none"
	// never is).
	ReasonAlgNotAllowed Reason = "alg_not_allowed"
	// ReasonCritUnsupported: the header has a crit member or a b64 member
	// (RFC 7797's unencoded payloads, which are not access tokens); no
	// extension is understood.
	ReasonCritUnsupported Reason = "crit_unsupported"
	// ReasonTypeMismatch: the header's typ is not the configured one.
	ReasonTypeMismatch Reason = "typ_mismatch"
	// ReasonKeyUnknown: no configured key has the token's kid.
	ReasonKeyUnknown Reason = "kid_unknown"
	// ReasonKeyMismatch: keys with the token's kid exist, but none is bound
	// to the token's alg.
	ReasonKeyMismatch Reason = "key_mismatch"
	// ReasonKeysUnavailable: a JWKS could not be loaded, or its last good
	// copy is older than the staleness bound; requests fail closed.
	ReasonKeysUnavailable Reason = "keys_unavailable"
	// ReasonSignatureInvalid: the signature does not verify.
	ReasonSignatureInvalid Reason = "signature_invalid"
	// ReasonExpired: exp is in the past (beyond the skew).
	ReasonExpired Reason = "token_expired"
	// ReasonNotYetValid: nbf is in the future (beyond the skew).
	ReasonNotYetValid Reason = "token_not_yet_valid"
	// ReasonIssuedInFuture: iat is in the future (beyond the skew).
	ReasonIssuedInFuture Reason = "issued_in_future"
	// ReasonIssuer: iss is missing or not the configured issuer.
	ReasonIssuer Reason = "issuer_mismatch"
	// ReasonAudience: aud is missing or names none of the configured
	// audiences.
	ReasonAudience Reason = "audience_mismatch"
	// ReasonSubject: sub is missing, empty, holds control characters or has
	// white space around it.
	ReasonSubject Reason = "subject_invalid"
	// ReasonClaimMissing: a claim the configuration requires is absent.
	ReasonClaimMissing Reason = "claim_missing"
)

// Reasons lists every Reason, for pre-initialised metrics and tests.
var Reasons = []Reason{
	ReasonTooLarge, ReasonMalformed, ReasonDuplicateMember, ReasonAlgNotAllowed,
	ReasonCritUnsupported, ReasonTypeMismatch, ReasonKeyUnknown, ReasonKeyMismatch,
	ReasonKeysUnavailable, ReasonSignatureInvalid, ReasonExpired, ReasonNotYetValid,
	ReasonIssuedInFuture, ReasonIssuer, ReasonAudience, ReasonSubject, ReasonClaimMissing,
}

// Error is a refused token: a reason code and, for the log, a detail that
// never holds the token or a claim value taken from it.
type Error struct {
	// Reason is the stable code.
	Reason Reason
	// Alg is the token's algorithm when it is one the verifier supports,
	// else "".
	Alg string
	// KeyID is the token's kid when it names a configured key, else "".
	KeyID string
	// Err is the detail.
	Err error
}

// Error returns the reason and the detail.
func (e *Error) Error() string {
	if e.Err == nil {
		return "jwt: " + string(e.Reason)
	}
	return "jwt: " + string(e.Reason) + ": " + e.Err.Error()
}

// Unwrap returns the detail.
func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns the Reason of the *Error in err's chain, or "" when there
// is none.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func refuse(reason Reason, detail string) *Error {
	return &Error{Reason: reason, Err: errors.New(detail)}
}
