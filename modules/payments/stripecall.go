package payments

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/stripe/stripe-go/v76"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/reqid"
)

// stripeCalledVar is the request variable that says a request reached
// Stripe; its value's type is unexported, so nothing else can set it.
const stripeCalledVar = "paygate.payments.stripe_called"

type stripeCalled struct{}

// calledStripe reports whether a call to Stripe was made for r.
func calledStripe(r *http.Request) bool {
	_, ok := caddyhttp.GetVar(r.Context(), stripeCalledVar).(stripeCalled)
	return ok
}

// CardPlaceholder is the placeholder ({paygate.card_fingerprint}) that
// holds the fingerprint Stripe gives for the card a payment used or was
// declined with (never a card number), for the rate-limit stage's
// distinct-card zones.
const CardPlaceholder = "paygate.card_fingerprint"

// noteCard sets CardPlaceholder from a payment method, if it is an
// expanded card.
func noteCard(r *http.Request, pm *stripe.PaymentMethod) {
	if pm == nil || pm.Card == nil || pm.Card.Fingerprint == "" {
		return
	}
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Set(CardPlaceholder, pm.Card.Fingerprint)
	}
}

// stripeCall runs one call to Stripe for request r: do gets a context
// bounded by the handler's timeout (stripe-go's retries included), to set
// on its params, and returns the response its object or list came in. The
// call is counted by op and result; a success is logged with Stripe's
// request ID, which Stripe's support asks for; a failure comes back mapped
// to what the client sees (stripeFailure, which logs it).
func (h *Handler) stripeCall(r *http.Request, op string, do func(ctx context.Context) (*stripe.APIResponse, error)) error {
	caddyhttp.SetVar(r.Context(), stripeCalledVar, stripeCalled{})
	ctx, cancel := context.WithTimeout(r.Context(), time.Duration(h.Timeout))
	defer cancel()
	res, err := do(ctx)
	if se, ok := errors.AsType[*stripe.Error](err); ok {
		// A decline names the card and the charge it declined.
		noteCard(r, se.PaymentMethod)
		if se.ChargeID != "" {
			if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
				repl.Set(DeclinePlaceholder, se.ChargeID)
			}
		}
	}
	if err != nil {
		paymentMetrics.stripeCalls.WithLabelValues(op, stripeResultError).Inc()
		return h.stripeFailure(op, err)
	}
	paymentMetrics.stripeCalls.WithLabelValues(op, stripeResultOK).Inc()
	if c := h.logger.Check(zap.InfoLevel, "stripe call"); c != nil {
		stripeID := ""
		if res != nil {
			stripeID = res.RequestID
		}
		c.Write(zap.String(reqid.LogField, reqid.From(r)), zap.String("op", op), zap.String("stripe_request_id", stripeID))
	}
	return nil
}
