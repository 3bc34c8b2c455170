package payments

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/stripe/stripe-go/v76"

	"github.com/paygate/paygate/internal/apierror"
)

// idempotencyHeader is the request header of the IETF Idempotency-Key
// draft, which Stripe's API takes too.
const idempotencyHeader = "Idempotency-Key"

// maxIdempotencyKey is the longest key accepted (Stripe's limit).
const maxIdempotencyKey = 255

var (
	errIdempotencyKeyMissing = apierror.New(http.StatusBadRequest, apierror.TypeIdempotency, "idempotency_key_missing",
		"This request requires an Idempotency-Key header.")
	errIdempotencyKeyInvalid = apierror.New(http.StatusBadRequest, apierror.TypeIdempotency, "idempotency_key_invalid",
		"The Idempotency-Key header must be 1 to 255 printable ASCII characters.")
)

// idempotencyKey returns the request's Idempotency-Key, bare or as a
// Structured Field string ("..."), and whether there is one.
func idempotencyKey(r *http.Request) (string, bool, error) {
	values := r.Header.Values(idempotencyHeader)
	switch len(values) {
	case 0:
		return "", false, nil
	case 1:
	default:
		return "", false, errIdempotencyKeyInvalid.WithCause(errors.New("several Idempotency-Key fields"))
	}
	key := strings.TrimSpace(values[0])
	if len(key) >= 2 && key[0] == '"' && key[len(key)-1] == '"' {
		var ok bool
		if key, ok = unquote(key[1 : len(key)-1]); !ok {
			return "", false, errIdempotencyKeyInvalid.WithCause(errors.New("malformed quoted Idempotency-Key"))
		}
	}
	if key == "" || len(key) > maxIdempotencyKey {
		return "", false, errIdempotencyKeyInvalid.WithCause(errors.New("Idempotency-Key of bad length"))
	}
	for _, c := range []byte(key) {
		if c < 0x20 || c > 0x7e {
			return "", false, errIdempotencyKeyInvalid.WithCause(errors.New("Idempotency-Key with a non-printable character"))
		}
	}
	return key, true, nil
}

// unquote undoes a Structured Field string's escapes (\" and \\; RFC 9651
// allows no others).
func unquote(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			if i+1 == len(s) || (s[i+1] != '"' && s[i+1] != '\\') {
				return "", false
			}
			i++
			b.WriteByte(s[i])
		case c == '"':
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// stripeIdempotencyKey is the key sent to Stripe for a client's key: scoped
// by user and action, as the idempotency stage scopes it, so that two users
// who happen to choose the same key never collide in Stripe's idempotency
// layer (which is per Stripe account). The same client key for the same
// user and action always gives the same Stripe key, so a retry reaches
// Stripe as the same request.
func stripeIdempotencyKey(user, action, key string) string {
	sum := sha256.Sum256([]byte(user + "\x00" + action + "\x00" + key))
	return "paygate-" + hex.EncodeToString(sum[:])
}

// forwardIdempotencyKey passes the request's Idempotency-Key, if it has one,
// to Stripe, scoped to the user, the action and the object. Without one,
// stripe-go makes a key of its own, which its retries reuse.
func forwardIdempotencyKey(c *call, params *stripe.Params, action string) error {
	key, ok, err := idempotencyKey(c.r)
	if err != nil || !ok {
		return err
	}
	params.SetIdempotencyKey(stripeIdempotencyKey(c.user, action+" "+c.id, key))
	return nil
}
