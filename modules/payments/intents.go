package payments

import (
	"context"
	"net/http"

	"github.com/stripe/stripe-go/v76"

	"github.com/paygate/paygate/internal/payreq"
	"github.com/paygate/paygate/internal/webhookevent"
)

// createPaymentIntent serves POST /v1/payment_intents: the amount is the
// catalog's price of the items, the customer the caller's (created on first
// use); nothing else from the body reaches Stripe but the reference (in
// metadata) and a payment method. The Idempotency-Key is required and goes
// to Stripe (scoped to the user), so that a retry never creates a second
// payment.
func (h *Handler) createPaymentIntent(c *call) error {
	// The route table requires the key here (serveAPI checked it).
	key, _, err := idempotencyKey(c.r)
	if err != nil {
		return err
	}
	req, err := payreq.ParseCreatePaymentIntent(c.body)
	if err != nil {
		return requestError(err)
	}
	quote, err := h.catalog.Price(req.Items, req.Currency)
	if err != nil {
		return requestError(err)
	}
	ctx := c.r.Context()
	if req.PaymentMethod != "" {
		if err := h.usablePaymentMethod(ctx, req.PaymentMethod, c.user); err != nil {
			return err
		}
	}
	cus, err := h.ensureCustomer(c.r, c.user)
	if err != nil {
		return err
	}

	var pi *stripe.PaymentIntent
	err = h.stripeCall(c.r, "payment_intent.create", func(ctx context.Context) (*stripe.APIResponse, error) {
		params := &stripe.PaymentIntentParams{
			Amount:             stripe.Int64(quote.Amount),
			Currency:           stripe.String(quote.Currency),
			Customer:           stripe.String(cus),
			Description:        stripe.String(quote.Description),
			PaymentMethodTypes: stripe.StringSlice([]string{"card"}),
		}
		if req.PaymentMethod != "" {
			params.PaymentMethod = stripe.String(req.PaymentMethod)
			// The card's fingerprint, for the card-testing defence.
			params.AddExpand("payment_method")
		}
		params.Context = ctx
		params.AddMetadata("paygate_user", c.user)
		params.AddMetadata("paygate_reference", req.Reference)
		params.SetIdempotencyKey(stripeIdempotencyKey(c.user, "payment_intent.create", key))
		var err error
		if pi, err = h.stripe.PaymentIntents.New(params); err != nil {
			return nil, err
		}
		return pi.LastResponse, nil
	})
	if err != nil {
		return err
	}
	noteCard(c.r, pi.PaymentMethod)
	h.recordSubject(ctx, c.r, pi.ID, webhookevent.TypePaymentFailed)
	c.resource = pi.ID
	if err := recordOwned(ctx, h.store, c.user, pi.ID, req.PaymentMethod); err != nil {
		return err
	}
	writeJSON(c.w, http.StatusCreated, viewIntent(pi, true))
	return nil
}

// getPaymentIntent serves GET /v1/payment_intents/{id}: the caller's own
// intent (or one the policy let the caller read), without its client
// secret.
func (h *Handler) getPaymentIntent(c *call) error {
	if err := h.readable(c.r.Context(), c.id, c.user); err != nil {
		return err
	}
	var pi *stripe.PaymentIntent
	err := h.stripeCall(c.r, "payment_intent.get", func(ctx context.Context) (*stripe.APIResponse, error) {
		params := &stripe.PaymentIntentParams{}
		params.Context = ctx
		var err error
		if pi, err = h.stripe.PaymentIntents.Get(c.id, params); err != nil {
			return nil, err
		}
		return pi.LastResponse, nil
	})
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, viewIntent(pi, false))
	return nil
}

// confirmPaymentIntent serves POST /v1/payment_intents/{id}/confirm. With
// use_stripe_sdk, a card that needs 3-D Secure comes back as
// requires_action with next_action, which Stripe.js completes with the
// client secret.
func (h *Handler) confirmPaymentIntent(c *call) error {
	ctx := c.r.Context()
	if err := h.owned(ctx, c.id, c.user); err != nil {
		return err
	}
	req, err := payreq.ParseConfirmPaymentIntent(c.body)
	if err != nil {
		return requestError(err)
	}
	if req.PaymentMethod != "" {
		if err := h.usablePaymentMethod(ctx, req.PaymentMethod, c.user); err != nil {
			return err
		}
	}
	params := &stripe.PaymentIntentConfirmParams{UseStripeSDK: stripe.Bool(true)}
	if req.PaymentMethod != "" {
		params.PaymentMethod = stripe.String(req.PaymentMethod)
	}
	// The card's fingerprint, for the card-testing defence.
	params.AddExpand("payment_method")
	h.recordSubject(ctx, c.r, c.id, webhookevent.TypePaymentFailed)
	if err := forwardIdempotencyKey(c, &params.Params, "payment_intent.confirm"); err != nil {
		return err
	}
	var pi *stripe.PaymentIntent
	err = h.stripeCall(c.r, "payment_intent.confirm", func(ctx context.Context) (*stripe.APIResponse, error) {
		params.Context = ctx
		var err error
		if pi, err = h.stripe.PaymentIntents.Confirm(c.id, params); err != nil {
			return nil, err
		}
		return pi.LastResponse, nil
	})
	if err != nil {
		return err
	}
	noteCard(c.r, pi.PaymentMethod)
	if err := recordOwned(ctx, h.store, c.user, req.PaymentMethod); err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, viewIntent(pi, true))
	return nil
}

// cancelPaymentIntent serves POST /v1/payment_intents/{id}/cancel.
func (h *Handler) cancelPaymentIntent(c *call) error {
	if err := h.owned(c.r.Context(), c.id, c.user); err != nil {
		return err
	}
	if err := payreq.ParseEmpty(c.body); err != nil {
		return requestError(err)
	}
	params := &stripe.PaymentIntentCancelParams{}
	if err := forwardIdempotencyKey(c, &params.Params, "payment_intent.cancel"); err != nil {
		return err
	}
	var pi *stripe.PaymentIntent
	err := h.stripeCall(c.r, "payment_intent.cancel", func(ctx context.Context) (*stripe.APIResponse, error) {
		params.Context = ctx
		var err error
		if pi, err = h.stripe.PaymentIntents.Cancel(c.id, params); err != nil {
			return nil, err
		}
		return pi.LastResponse, nil
	})
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, viewIntent(pi, false))
	return nil
}
