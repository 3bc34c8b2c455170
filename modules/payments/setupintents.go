package payments

import (
	"net/http"

	"github.com/stripe/stripe-go/v76"

	"github.com/paygate/paygate/internal/payreq"
)

// createSetupIntent serves POST /v1/setup_intents: a setup intent on the
// caller's customer, whose client secret Stripe Elements uses to save a
// card for later (off-session) payments. The card's payment method is
// recorded as the caller's when the setup_intent.succeeded event arrives
// (events mode) or when the caller lists their cards.
func (h *Handler) createSetupIntent(c *call) error {
	if err := payreq.ParseEmpty(c.body); err != nil {
		return requestError(err)
	}
	cus, err := h.ensureCustomer(c.r, c.user)
	if err != nil {
		return err
	}
	ctx, cancel := h.withTimeout(c.r.Context())
	defer cancel()
	params := &stripe.SetupIntentParams{
		Customer:           stripe.String(cus),
		PaymentMethodTypes: stripe.StringSlice([]string{"card"}),
		Usage:              stripe.String(string(stripe.SetupIntentUsageOffSession)),
	}
	params.Context = ctx
	params.AddMetadata("paygate_user", c.user)
	if err := h.forwardIdempotencyKey(c, &params.Params, "setup_intent.create"); err != nil {
		return err
	}
	si, err := h.stripe.SetupIntents.New(params)
	if err != nil {
		return h.stripeFailure("setup_intent.create", err)
	}
	h.stripeOK(c.r, "setup_intent.create", si.LastResponse)
	c.resource = si.ID
	if err := h.recordOwned(c.r.Context(), c.user, si.ID); err != nil {
		return err
	}
	writeJSON(c.w, http.StatusCreated, setupIntentView{ID: si.ID, Status: string(si.Status), ClientSecret: si.ClientSecret})
	return nil
}
