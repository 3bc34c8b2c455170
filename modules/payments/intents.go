package payments

import (
	"net/http"

	"github.com/stripe/stripe-go/v76"

	"github.com/paygate/paygate/internal/payreq"
)

// createPaymentIntent serves POST /v1/payment_intents: the amount is the
// catalog's price of the items, the customer the caller's (created on first
// use); nothing else from the body reaches Stripe but the reference (in
// metadata) and a payment method. The Idempotency-Key is required and goes
// to Stripe (scoped to the user), so that a retry never creates a second
// payment.
func (h *Handler) createPaymentIntent(c *call) error {
	key, ok, err := idempotencyKey(c.r)
	if err != nil {
		return err
	}
	if !ok {
		return errIdempotencyKeyMissing
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

	callCtx, cancel := h.withTimeout(ctx)
	defer cancel()
	params := &stripe.PaymentIntentParams{
		Amount:             stripe.Int64(quote.Amount),
		Currency:           stripe.String(quote.Currency),
		Customer:           stripe.String(cus),
		Description:        stripe.String(quote.Description),
		PaymentMethodTypes: stripe.StringSlice([]string{"card"}),
	}
	if req.PaymentMethod != "" {
		params.PaymentMethod = stripe.String(req.PaymentMethod)
	}
	params.Context = callCtx
	params.AddMetadata("paygate_user", c.user)
	params.AddMetadata("paygate_reference", req.Reference)
	params.SetIdempotencyKey(stripeIdempotencyKey(c.user, "payment_intent.create", key))
	pi, err := h.stripe.PaymentIntents.New(params)
	if err != nil {
		return h.stripeFailure("payment_intent.create", err)
	}
	h.stripeOK(c.r, "payment_intent.create", pi.LastResponse)
	c.resource = pi.ID
	if err := h.recordOwned(ctx, c.user, pi.ID, req.PaymentMethod); err != nil {
		return err
	}
	writeJSON(c.w, http.StatusCreated, viewIntent(pi, true))
	return nil
}

// getPaymentIntent serves GET /v1/payment_intents/{id}: the caller's own
// intent, without its client secret.
func (h *Handler) getPaymentIntent(c *call) error {
	if err := h.owned(c.r.Context(), c.id, c.user); err != nil {
		return err
	}
	ctx, cancel := h.withTimeout(c.r.Context())
	defer cancel()
	params := &stripe.PaymentIntentParams{}
	params.Context = ctx
	pi, err := h.stripe.PaymentIntents.Get(c.id, params)
	if err != nil {
		return h.stripeFailure("payment_intent.get", err)
	}
	h.stripeOK(c.r, "payment_intent.get", pi.LastResponse)
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
	callCtx, cancel := h.withTimeout(ctx)
	defer cancel()
	params := &stripe.PaymentIntentConfirmParams{UseStripeSDK: stripe.Bool(true)}
	if req.PaymentMethod != "" {
		params.PaymentMethod = stripe.String(req.PaymentMethod)
	}
	params.Context = callCtx
	if err := h.forwardIdempotencyKey(c, &params.Params, "payment_intent.confirm"); err != nil {
		return err
	}
	pi, err := h.stripe.PaymentIntents.Confirm(c.id, params)
	if err != nil {
		return h.stripeFailure("payment_intent.confirm", err)
	}
	h.stripeOK(c.r, "payment_intent.confirm", pi.LastResponse)
	if err := h.recordOwned(ctx, c.user, req.PaymentMethod); err != nil {
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
	ctx, cancel := h.withTimeout(c.r.Context())
	defer cancel()
	params := &stripe.PaymentIntentCancelParams{}
	params.Context = ctx
	if err := h.forwardIdempotencyKey(c, &params.Params, "payment_intent.cancel"); err != nil {
		return err
	}
	pi, err := h.stripe.PaymentIntents.Cancel(c.id, params)
	if err != nil {
		return h.stripeFailure("payment_intent.cancel", err)
	}
	h.stripeOK(c.r, "payment_intent.cancel", pi.LastResponse)
	writeJSON(c.w, http.StatusOK, viewIntent(pi, false))
	return nil
}

// forwardIdempotencyKey passes the request's Idempotency-Key, if it has one,
// to Stripe, scoped to the user, the action and the object. Without one,
// stripe-go makes a key of its own, which its retries reuse.
func (h *Handler) forwardIdempotencyKey(c *call, params *stripe.Params, action string) error {
	key, ok, err := idempotencyKey(c.r)
	if err != nil || !ok {
		return err
	}
	params.SetIdempotencyKey(stripeIdempotencyKey(c.user, action+" "+c.id, key))
	return nil
}
