package payments

import (
	"context"
	"net/http"

	"github.com/stripe/stripe-go/v76"

	"github.com/paygate/paygate/internal/payreq"
)

// createSetupIntent serves POST /v1/setup_intents: a setup intent on the
// caller's customer, whose client secret Stripe Elements uses to save a
// card for later (off-session) payments. The card's payment method is
// recorded as the caller's when the setup_intent.succeeded event arrives
// (payment_events) or when the caller lists their cards.
func (h *Handler) createSetupIntent(c *call) error {
	if err := payreq.ParseEmpty(c.body); err != nil {
		return requestError(err)
	}
	cus, err := h.ensureCustomer(c.r, c.user)
	if err != nil {
		return err
	}
	params := &stripe.SetupIntentParams{
		Customer:           stripe.String(cus),
		PaymentMethodTypes: stripe.StringSlice([]string{"card"}),
		Usage:              stripe.String(string(stripe.SetupIntentUsageOffSession)),
	}
	params.AddMetadata("paygate_user", c.user)
	if err := forwardIdempotencyKey(c, &params.Params, "setup_intent.create"); err != nil {
		return err
	}
	var si *stripe.SetupIntent
	err = h.stripeCall(c.r, "setup_intent.create", func(ctx context.Context) (*stripe.APIResponse, error) {
		params.Context = ctx
		var err error
		if si, err = h.stripe.SetupIntents.New(params); err != nil {
			return nil, err
		}
		return si.LastResponse, nil
	})
	if err != nil {
		return err
	}
	c.resource = si.ID
	if err := recordOwned(c.r.Context(), h.store, c.user, si.ID); err != nil {
		return err
	}
	writeJSON(c.w, http.StatusCreated, setupIntentView{ID: si.ID, Status: string(si.Status), ClientSecret: si.ClientSecret})
	return nil
}

// getSetupIntent serves GET /v1/setup_intents/{id}: the caller's own setup
// intent (or one the policy let the caller read), without its client
// secret.
func (h *Handler) getSetupIntent(c *call) error {
	if err := h.readable(c.r.Context(), c.id, c.user); err != nil {
		return err
	}
	var si *stripe.SetupIntent
	err := h.stripeCall(c.r, "setup_intent.get", func(ctx context.Context) (*stripe.APIResponse, error) {
		params := &stripe.SetupIntentParams{}
		params.Context = ctx
		var err error
		if si, err = h.stripe.SetupIntents.Get(c.id, params); err != nil {
			return nil, err
		}
		return si.LastResponse, nil
	})
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, setupIntentView{ID: si.ID, Status: string(si.Status)})
	return nil
}
