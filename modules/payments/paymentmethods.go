package payments

import (
	"context"
	"errors"
	"net/http"

	"github.com/stripe/stripe-go/v76"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/ownership"
)

// maxCards is the most saved cards listed (one page of Stripe's list).
const maxCards = 100

// listPaymentMethods serves GET /v1/payment_methods: the caller's saved
// cards, id, brand, last4 and expiry only. A user without a Stripe
// customer has none (listing creates no customer). Every card listed is
// recorded as the caller's, since it is attached to the caller's customer:
// cards saved by Stripe Elements reach the ownership index this way even
// where no webhook is processed, and can then be detached.
func (h *Handler) listPaymentMethods(c *call) error {
	views := []paymentMethodView{}
	cus, ok, err := h.customer(c.r.Context(), c.user)
	if errors.Is(err, ownership.ErrOverBudget) {
		// A new user's checkout lists saved cards before any payment:
		// over the budget of lookups, they have none as far as is known.
		ok, err = false, nil
	}
	if err != nil {
		return err
	}
	if ok {
		pms, err := h.listCards(c.r, cus, true)
		if err != nil {
			return err
		}
		for _, pm := range pms {
			if err := recordOwned(c.r.Context(), h.store, c.user, pm.ID); err != nil {
				return err
			}
			views = append(views, viewPaymentMethod(pm))
		}
	}
	writeJSON(c.w, http.StatusOK, listView[paymentMethodView]{Data: views})
	return nil
}

// detachPaymentMethod serves DELETE /v1/payment_methods/{id}: the caller's
// own card only; its ownership record goes with it.
func (h *Handler) detachPaymentMethod(c *call) error {
	ctx := c.r.Context()
	if err := h.owned(ctx, c.id, c.user); err != nil {
		return err
	}
	if err := h.detach(c.r, c.id); err != nil {
		return err
	}
	if err := ownership.Erase(ctx, h.store, c.id); err != nil {
		return apierror.StoreUnavailable.WithCause(err)
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// listCards lists the card payment methods of customer cus: the first page
// (up to maxCards) when firstPage is set, else all of them.
func (h *Handler) listCards(r *http.Request, cus string, firstPage bool) ([]*stripe.PaymentMethod, error) {
	var pms []*stripe.PaymentMethod
	err := h.stripeCall(r, "payment_method.list", func(ctx context.Context) (*stripe.APIResponse, error) {
		params := &stripe.CustomerListPaymentMethodsParams{Customer: stripe.String(cus), Type: stripe.String("card")}
		params.Context = ctx
		params.Limit = stripe.Int64(maxCards)
		params.Single = firstPage
		it := h.stripe.Customers.ListPaymentMethods(params)
		for it.Next() {
			pms = append(pms, it.PaymentMethod())
		}
		if err := it.Err(); err != nil {
			return nil, err
		}
		return it.PaymentMethodList().LastResponse, nil
	})
	if err != nil {
		return nil, err
	}
	return pms, nil
}

// detach detaches payment method id from its customer.
func (h *Handler) detach(r *http.Request, id string) error {
	return h.stripeCall(r, "payment_method.detach", func(ctx context.Context) (*stripe.APIResponse, error) {
		params := &stripe.PaymentMethodDetachParams{}
		params.Context = ctx
		pm, err := h.stripe.PaymentMethods.Detach(id, params)
		if err != nil {
			return nil, err
		}
		return pm.LastResponse, nil
	})
}
