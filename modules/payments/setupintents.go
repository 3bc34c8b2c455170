package payments

import (
	"context"
	"errors"
	"net/http"

	"github.com/stripe/stripe-go/v76"

	"github.com/paygate/paygate/internal/payreq"
	"github.com/paygate/paygate/internal/webhookevent"
)

// createSetupIntent serves POST /v1/setup_intents: a setup intent on the
// caller's customer, whose client secret Stripe Elements uses to save a
// card for later (off-session) payments. The card's payment method is
// recorded as the caller's when the setup_intent.succeeded event arrives
// (payment_events) or when the caller lists their cards. The caller is
// kept as its subject for setup_intent.setup_failed events, which count as
// declines (see EventProcessor).
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
	h.recordSubject(c.r.Context(), c.r, si.ID, webhookevent.TypeSetupFailed)
	writeJSON(c.w, http.StatusCreated, setupIntentView{ID: si.ID, Status: string(si.Status), ClientSecret: si.ClientSecret})
	return nil
}

// cancelSetupIntent cancels the setup intent id at Stripe (abandoned); one
// Stripe will not cancel any more (it succeeded, or was canceled) is left
// as it is.
func (h *Handler) cancelSetupIntent(r *http.Request, id string) error {
	params := &stripe.SetupIntentCancelParams{
		CancellationReason: stripe.String(string(stripe.SetupIntentCancellationReasonAbandoned)),
	}
	return h.stripeCall(r, "setup_intent.cancel", func(ctx context.Context) (*stripe.APIResponse, error) {
		params.Context = ctx
		si, err := h.stripe.SetupIntents.Cancel(id, params)
		if se, ok := errors.AsType[*stripe.Error](err); ok && se.Code == stripe.ErrorCodeSetupIntentUnexpectedState {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return si.LastResponse, nil
	})
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
