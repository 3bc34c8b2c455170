package payments

import (
	"context"
	"fmt"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/ownership"
	"github.com/paygate/paygate/internal/store"
)

// owned requires user to own objectID. The policy stage checks this too;
// the handler does not rely on it, but reuses its lookup when it ran in the
// same request. An unknown ID and another user's ID are the same 404, so
// that the answer reveals nothing about others' objects.
func (h *Handler) owned(ctx context.Context, objectID, user string) error {
	owner, ok, err := ownership.OwnerForRequest(ctx, h.store, objectID)
	if err != nil {
		return apierror.StoreUnavailable.WithCause(err)
	}
	if !ok || owner != user {
		return errNotFound.WithCause(fmt.Errorf("%s is not the caller's", objectID))
	}
	return nil
}

// readable allows a read of objectID by its owner, or by anyone the policy
// stage granted this very request (the support role reads any existing
// object). Writes never take a grant: they go through owned.
func (h *Handler) readable(ctx context.Context, objectID, user string) error {
	owner, ok, err := ownership.OwnerForRequest(ctx, h.store, objectID)
	if err != nil {
		return apierror.StoreUnavailable.WithCause(err)
	}
	if !ok || owner != user && !ownership.GrantedForRequest(ctx, objectID) {
		return errNotFound.WithCause(fmt.Errorf("%s is not the caller's", objectID))
	}
	return nil
}

// usablePaymentMethod refuses a payment method in a request body that is
// recorded as another user's. One that is not recorded at all (created by
// Stripe.js a moment ago) is left to Stripe, which refuses a payment method
// attached to another customer; so it is not looked up on Stripe either
// (no heal): most are new cards, and Stripe's refusal covers a lost record.
// Another user's card is refused with the very error of a card Stripe does
// not know, so that the answer reveals nothing about others' cards.
func (h *Handler) usablePaymentMethod(ctx context.Context, pm, user string) error {
	owner, ok, err := ownership.RecordedOwner(ctx, h.store, pm)
	if err != nil {
		return apierror.StoreUnavailable.WithCause(err)
	}
	if ok && owner != user {
		return errNotFound.WithCause(fmt.Errorf("payment method %s is another user's", pm))
	}
	return nil
}

// recordOwned writes the ownership index for the objects created or
// attached for user; empty IDs are skipped.
func recordOwned(ctx context.Context, s store.Store, user string, objectIDs ...string) error {
	for _, id := range objectIDs {
		if id == "" {
			continue
		}
		if err := ownership.Record(ctx, s, id, user); err != nil {
			return apierror.StoreUnavailable.WithCause(err)
		}
	}
	return nil
}
