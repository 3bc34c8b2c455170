package payments

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"

	"github.com/stripe/stripe-go/v76"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/store"
)

// Errors a Stripe call may end in, as the client sees them. None carries
// Stripe's own message: it may name internals (an account, a parameter
// paygate sets), and its wording is Stripe's to change.
var (
	errUpstream = apierror.New(http.StatusBadGateway, apierror.TypeAPI, "upstream_unavailable",
		"The payment service is temporarily unavailable. Please retry.")
	errUpstreamDown = apierror.New(http.StatusServiceUnavailable, apierror.TypeAPI, "upstream_unavailable",
		"The payment service is temporarily unavailable. Please retry.")
	errInternal = apierror.New(http.StatusInternalServerError, apierror.TypeAPI, "internal_error",
		"An internal error occurred.")
	errStripeInvalid = apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, "bad_request",
		"The payment request could not be processed.")
	errUnexpectedState = apierror.New(http.StatusConflict, apierror.TypeInvalidRequest, "payment_intent_unexpected_state",
		"The payment is not in a state that allows this.")
	errStripeKeyReused = apierror.New(http.StatusUnprocessableEntity, apierror.TypeIdempotency, "idempotency_key_reused",
		"This Idempotency-Key was used with a different request.")
	errStripeKeyInUse = apierror.New(http.StatusConflict, apierror.TypeIdempotency, "idempotency_key_in_use",
		"A request with this Idempotency-Key is still being processed. Please retry.")
)

// cardErrors are the card error codes a client may see, with their
// messages; any other card error is reported as card_error, so that the
// codes (which are also metric labels) stay a fixed set.
var cardErrors = map[stripe.ErrorCode]string{
	stripe.ErrorCodeCardDeclined:                       "Your card was declined.",
	stripe.ErrorCodeExpiredCard:                        "Your card has expired.",
	stripe.ErrorCodeIncorrectCVC:                       "Your card's security code is incorrect.",
	stripe.ErrorCodeIncorrectNumber:                    "Your card number is incorrect.",
	stripe.ErrorCodeIncorrectZip:                       "Your card's postal code is incorrect.",
	stripe.ErrorCodeInvalidCVC:                         "Your card's security code is invalid.",
	stripe.ErrorCodeInvalidExpiryMonth:                 "Your card's expiration month is invalid.",
	stripe.ErrorCodeInvalidExpiryYear:                  "Your card's expiration year is invalid.",
	stripe.ErrorCodeInvalidNumber:                      "Your card number is invalid.",
	stripe.ErrorCodeProcessingError:                    "An error occurred while processing your card. Please retry.",
	stripe.ErrorCodeAuthenticationRequired:             "Your card requires authentication.",
	stripe.ErrorCodeCardDeclineRateLimitExceeded:       "Your card was declined too many times. Please wait and retry.",
	stripe.ErrorCodePaymentIntentAuthenticationFailure: "The authentication of your card failed.",
}

// hiddenDeclines are decline codes that tell a card tester or a fraudster
// too much; the client sees generic_decline, the log the real code
// (Stripe's guidance for fraudulent, lost and stolen cards).
var hiddenDeclines = map[stripe.DeclineCode]bool{
	"fraudulent":         true,
	"lost_card":          true,
	"stolen_card":        true,
	"pickup_card":        true,
	"merchant_blacklist": true,
	"restricted_card":    true,
	"security_violation": true,
}

var declineCodePattern = regexp.MustCompile(`^[a-z_]{1,50}$`)

// stripeFailure maps the error of Stripe call op to what the client sees,
// with a cause that holds Stripe's request ID and codes but never
// stripe.Error's own text (which embeds the payment intent, client secret
// included). It logs what the operator needs: every failure with its
// request ID and codes, and an authentication failure as an alert.
func (h *Handler) stripeFailure(op string, err error) *apierror.Error {
	if errors.Is(err, store.ErrUnavailable) {
		return apierror.StoreUnavailable.WithCause(err)
	}
	var se *stripe.Error
	if !errors.As(err, &se) {
		// A connection error or a timeout: Stripe never answered.
		cause := fmt.Errorf("stripe %s: %w", op, err)
		h.logger.Warn("stripe call failed", zap.String("op", op), zap.Error(cause))
		return errUpstreamDown.WithCause(cause)
	}
	cause := fmt.Errorf("stripe %s: status %d, type %s, code %s, decline_code %s, request %s",
		op, se.HTTPStatusCode, se.Type, se.Code, se.DeclineCode, se.RequestID)
	fields := []zap.Field{
		zap.String("op", op),
		zap.Int("stripe_status", se.HTTPStatusCode),
		zap.String("stripe_error_type", string(se.Type)),
		zap.String("stripe_error_code", string(se.Code)),
		zap.String("stripe_request_id", se.RequestID),
	}
	switch {
	case se.HTTPStatusCode == http.StatusUnauthorized || se.HTTPStatusCode == http.StatusForbidden:
		h.logger.Error("stripe refused paygate's API key: check stripe_key", append(fields, zap.Bool("alert", true))...)
		return errInternal.WithCause(cause)
	case se.HTTPStatusCode == http.StatusTooManyRequests:
		h.logger.Warn("stripe rate limit", fields...)
		return errUpstreamDown.WithHeader("Retry-After", "1").WithCause(cause)
	}
	h.logger.Info("stripe call failed", fields...)
	switch se.Type {
	case stripe.ErrorTypeCard:
		return cardFailure(se).WithCause(cause)
	case stripe.ErrorTypeIdempotency:
		return errStripeKeyReused.WithCause(cause)
	case stripe.ErrorTypeInvalidRequest:
		switch se.Code {
		case stripe.ErrorCodeResourceMissing:
			return errNotFound.WithCause(cause)
		case stripe.ErrorCodeIdempotencyKeyInUse:
			return errStripeKeyInUse.WithHeader("Retry-After", "1").WithCause(cause)
		case stripe.ErrorCodePaymentIntentUnexpectedState:
			return errUnexpectedState.WithCause(cause)
		case stripe.ErrorCodePaymentIntentAuthenticationFailure:
			return cardFailure(se).WithCause(cause)
		}
		return errStripeInvalid.WithCause(cause)
	}
	return errUpstream.WithCause(cause)
}

// cardFailure is the 402 for a card error.
func cardFailure(se *stripe.Error) *apierror.Error {
	code, msg := "card_error", "Your card could not be charged."
	if m, ok := cardErrors[se.Code]; ok {
		code, msg = string(se.Code), m
	}
	e := apierror.New(http.StatusPaymentRequired, apierror.TypeCard, code, msg)
	if se.Code == stripe.ErrorCodeCardDeclined {
		e.DeclineCode = "generic_decline"
		if d := se.DeclineCode; declineCodePattern.MatchString(string(d)) && !hiddenDeclines[d] {
			e.DeclineCode = string(d)
		}
	}
	return e
}
