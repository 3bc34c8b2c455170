package payments

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"

	"github.com/stripe/stripe-go/v76"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/idemkey"
)

var (
	errIdempotencyKeyMissing = apierror.New(http.StatusBadRequest, apierror.TypeIdempotency, "idempotency_key_missing",
		"This request requires an Idempotency-Key header.")
	errIdempotencyKeyInvalid = apierror.New(http.StatusBadRequest, apierror.TypeIdempotency, "idempotency_key_invalid",
		"The Idempotency-Key header must be 1 to 255 visible ASCII characters, bare or quoted.")
)

// idempotencyKey returns the request's Idempotency-Key (see idemkey.Parse)
// and whether there is one.
func idempotencyKey(r *http.Request) (string, bool, error) {
	key, err := idemkey.Parse(r.Header)
	switch {
	case errors.Is(err, idemkey.ErrMissing):
		return "", false, nil
	case err != nil:
		return "", false, errIdempotencyKeyInvalid.WithCause(err)
	}
	return key, true, nil
}

// requireIdempotencyKey refuses a request without a well-formed
// Idempotency-Key, on the endpoints whose route table entry requires one.
func requireIdempotencyKey(r *http.Request) error {
	_, ok, err := idempotencyKey(r)
	if err == nil && !ok {
		err = errIdempotencyKeyMissing
	}
	return err
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
