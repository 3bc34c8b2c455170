package stripewebhook

import (
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"
)

// Bounds of the Stripe-Signature header, checked before any HMAC is
// computed. Stripe sends one t, one v1 per active secret (two while a
// secret is rolled) and, in test mode, a v0: far below both.
const (
	maxSignatureHeader = 1024
	maxV1Signatures    = 8
	// v1Length is the length of a hex-encoded HMAC-SHA256.
	v1Length = 64
	// maxUnixTime bounds a parsed t (year 10000): a larger one is refused
	// as in the future rather than overflowing time.Unix.
	maxUnixTime = 253402300800
)

// Why a Stripe-Signature header or its check failed: the values of
// paygate_webhook_signature_failures_total's reason label and of the audit
// event's reason. The client is told none of them.
const (
	reasonMissing     = "header_missing"
	reasonRepeated    = "header_repeated"
	reasonTooLong     = "header_too_long"
	reasonTooMany     = "too_many_signatures"
	reasonMalformed   = "header_malformed"
	reasonTooOld      = "timestamp_too_old"
	reasonFuture      = "timestamp_in_future"
	reasonNoMatch     = "no_matching_signature"
	reasonUnsupported = "no_v1_signature"
)

// signatureError is a refused signature, with its reason.
type signatureError struct{ reason string }

func (e *signatureError) Error() string { return "stripe signature: " + e.reason }

func refuse(reason string) error { return &signatureError{reason: reason} }

// signatureHeader is a parsed Stripe-Signature header.
type signatureHeader struct {
	// raw is the header as received, for stripe-go's check.
	raw string
	// t is the signing time.
	t time.Time
	// v1 counts the v1 signatures.
	v1 int
}

// parseSignature checks the Stripe-Signature header values of a request
// strictly: exactly one header, at most maxSignatureHeader bytes, a list of
// key=value pairs with exactly one t (a decimal Unix time) and between one
// and maxV1Signatures v1 values, each a hex HMAC-SHA256. Other keys (v0,
// schemes Stripe may add) are allowed and ignored, as Stripe documents.
// Being stricter than stripe-go's parser (which lets a later t override an
// earlier one and skips undecodable v1 values) means that what stripe-go
// then checks is exactly what was parsed here.
func parseSignature(values []string) (signatureHeader, error) {
	switch {
	case len(values) == 0 || len(values) == 1 && values[0] == "":
		return signatureHeader{}, refuse(reasonMissing)
	case len(values) > 1:
		return signatureHeader{}, refuse(reasonRepeated)
	case len(values[0]) > maxSignatureHeader:
		return signatureHeader{}, refuse(reasonTooLong)
	}
	h := signatureHeader{raw: values[0]}
	var haveT bool
	for pair := range strings.SplitSeq(h.raw, ",") {
		key, value, ok := strings.Cut(pair, "=")
		if !ok || key == "" || value == "" || strings.Contains(value, "=") {
			return signatureHeader{}, refuse(reasonMalformed)
		}
		switch key {
		case "t":
			sec, err := strconv.ParseInt(value, 10, 64)
			if haveT || err != nil || value[0] == '+' || value[0] == '-' {
				return signatureHeader{}, refuse(reasonMalformed)
			}
			if sec > maxUnixTime {
				// Far in the future (and past what time.Time holds).
				return signatureHeader{}, refuse(reasonFuture)
			}
			h.t, haveT = time.Unix(sec, 0), true
		case "v1":
			if h.v1++; h.v1 > maxV1Signatures {
				return signatureHeader{}, refuse(reasonTooMany)
			}
			if _, err := hex.DecodeString(value); err != nil || len(value) != v1Length {
				return signatureHeader{}, refuse(reasonMalformed)
			}
		}
	}
	switch {
	case !haveT:
		return signatureHeader{}, refuse(reasonMalformed)
	case h.v1 == 0:
		return signatureHeader{}, refuse(reasonUnsupported)
	}
	return h, nil
}

// verify checks a parsed header against the exact body: its time within
// tolerance of now (the handler's clock), in the past and in the future
// (stripe-go bounds only a signature's age, on the real clock), then every
// v1 signature against every secret, with stripe-go's webhook package. It
// reports the secret's index that matched.
func verify(body []byte, h signatureHeader, secrets []string, tolerance time.Duration, now time.Time) (int, error) {
	switch {
	case now.Sub(h.t) > tolerance:
		return -1, refuse(reasonTooOld)
	case h.t.Sub(now) > tolerance:
		return -1, refuse(reasonFuture)
	}
	for i, secret := range secrets {
		// The time was checked above; after parseSignature, stripe-go can
		// only find no matching signature.
		if webhook.ValidatePayloadIgnoringTolerance(body, h.raw, secret) == nil {
			return i, nil
		}
	}
	return -1, refuse(reasonNoMatch)
}
