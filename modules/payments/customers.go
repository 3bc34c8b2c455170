package payments

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/stripe/stripe-go/v76"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/ownership"
	"github.com/paygate/paygate/internal/reqid"
	"github.com/paygate/paygate/internal/store"
)

// customerGenTTL outlives Stripe's idempotency window (24 hours): once the
// generation record is gone, every key made with the old generation has
// been forgotten by Stripe too.
const customerGenTTL = 25 * time.Hour

// customerKey is the store key of user's Stripe customer ID.
func customerKey(user string) string { return store.Key(user, "customer") }

// customerGenKey is the store key of user's customer generation, which
// changes when the customer is deleted (see customerIdempotencyKey). It
// outlives the erasure of the user's records by customerGenTTL, so it is
// keyed by a digest of the user, not the user ID.
func customerGenKey(user string) string { return store.Key(store.Digest(user), "customer_gen") }

// customer returns user's Stripe customer ID, if the user has one. A
// mapping the store lost is found again on Stripe (healCustomer).
func (h *Handler) customer(ctx context.Context, user string) (string, bool, error) {
	v, ok, err := h.store.Get(ctx, customerKey(user))
	if err != nil {
		return "", false, apierror.StoreUnavailable.WithCause(err)
	}
	if ok {
		return string(v), true, nil
	}
	return h.healCustomer(ctx, user)
}

// ensureCustomer returns user's Stripe customer, creating it on first use.
// Concurrent first uses, on any replica, send Stripe the same idempotency
// key with the same parameters, so Stripe creates one customer and answers
// all of them with it; the mapping is then stored with PutIfAbsent, and a
// caller that finds it already stored uses the stored one.
func (h *Handler) ensureCustomer(r *http.Request, user string) (string, error) {
	ctx := r.Context()
	id, ok, err := h.customer(ctx, user)
	switch {
	case errors.Is(err, ownership.ErrOverBudget):
		// Every first payment searches Stripe before creating a customer;
		// over the replica's budget of lookups, first payments go on and
		// create it, as they did before heals existed: a user whose
		// mapping the store lost just now then gets a second customer
		// only past Stripe's idempotency window (see healCustomer).
	case err != nil || ok:
		return id, err
	}
	gen, _, err := h.store.Get(ctx, customerGenKey(user))
	if err != nil {
		return "", apierror.StoreUnavailable.WithCause(err)
	}
	var cus *stripe.Customer
	err = h.stripeCall(r, "customer.create", func(callCtx context.Context) (*stripe.APIResponse, error) {
		params := &stripe.CustomerParams{}
		params.Context = callCtx
		params.AddMetadata("paygate_user", user)
		params.SetIdempotencyKey(customerIdempotencyKey(user, string(gen)))
		var err error
		if cus, err = h.stripe.Customers.New(params); err != nil {
			var se *stripe.Error
			if errors.As(err, &se) && se.HTTPStatusCode >= 500 {
				// Stripe keeps a failed result under its idempotency key
				// for a day and would replay it to every later first
				// payment: the next attempt takes a new generation, so a
				// new key.
				if genErr := h.store.Set(ctx, customerGenKey(user), []byte(rand.Text()), customerGenTTL); genErr != nil {
					h.logger.Warn("could not renew the customer generation after a Stripe failure", zap.Error(genErr))
				}
			}
			return nil, err
		}
		return cus.LastResponse, nil
	})
	if err != nil {
		return "", err
	}
	stored, err := h.store.PutIfAbsent(ctx, customerKey(user), []byte(cus.ID), 0)
	if err != nil {
		return "", apierror.StoreUnavailable.WithCause(err)
	}
	// The search that found no customer before this one was created is
	// not the answer any more, should the store lose the mapping.
	ownership.HealerOf(h.store).Forget(kindCustomer, user)
	if stored {
		return cus.ID, nil
	}
	id, ok, err = h.customer(ctx, user)
	switch {
	case err != nil:
		return "", err
	case !ok:
		// Erased between the two calls: this request loses the race.
		return "", errConflict.WithCause(fmt.Errorf("customer mapping of %s erased during creation", cus.ID))
	}
	if id != cus.ID {
		h.logger.Warn("stripe customer created but not used: another request mapped the user first",
			zap.String(reqid.LogField, reqid.From(r)), zap.String("customer", cus.ID), zap.String("mapped_customer", id))
	}
	return id, nil
}

// customerIdempotencyKey is the key of the customer creation for user: the
// same for every concurrent first payment of the user, so that Stripe
// creates one customer. gen changes when the user's customer is deleted,
// so that a later first payment creates a new one instead of replaying the
// deleted customer.
func customerIdempotencyKey(user, gen string) string {
	sum := sha256.Sum256([]byte("customer\x00" + user + "\x00" + gen))
	return "paygate-customer-" + hex.EncodeToString(sum[:])
}

var errConflict = apierror.New(http.StatusConflict, apierror.TypeAPI, "conflict",
	"The request conflicted with another one. Please retry.")

// eraseCustomer serves DELETE /v1/customers/me, the right to deletion: it
// detaches every saved card, deletes the Stripe customer, and erases the
// mapping and the ownership (and status) records of the customer's objects.
// Each step can run again, so a call that failed half-way, or a second
// call, finishes the work (a second call finds nothing and answers 204).
func (h *Handler) eraseCustomer(c *call) error {
	ctx := c.r.Context()
	cus, ok, err := h.customer(ctx, c.user)
	if err != nil {
		return err
	}
	if !ok {
		// No customer (left): records the index still names, should
		// there be any, go too.
		if err := h.eraseOwned(ctx, c.user, nil); err != nil {
			return err
		}
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	c.resource = cus

	pms, err := h.listCards(c.r, cus, false)
	if err != nil {
		return err
	}
	objects := make([]string, 0, len(pms))
	for _, pm := range pms {
		if err := h.detach(c.r, pm.ID); err != nil {
			return err
		}
		objects = append(objects, pm.ID)
	}
	intents, err := h.customerIntents(c.r, cus)
	if err != nil {
		return err
	}
	objects = append(objects, intents...)

	err = h.stripeCall(c.r, "customer.delete", func(ctx context.Context) (*stripe.APIResponse, error) {
		params := &stripe.CustomerParams{}
		params.Context = ctx
		deleted, err := h.stripe.Customers.Del(cus, params)
		if err != nil {
			return nil, err
		}
		return deleted.LastResponse, nil
	})
	// resource_missing: deleted by an earlier call that failed later.
	if err != nil && apierror.Resolve(err, http.StatusInternalServerError).Code != errNotFound.Code {
		return err
	}

	if err := h.eraseOwned(ctx, c.user, objects); err != nil {
		return err
	}
	// A new generation first, then the mapping: should the second fail,
	// the next call repeats the erasure and its first payment after that
	// cannot replay the deleted customer's creation.
	if err := h.store.Set(ctx, customerGenKey(c.user), []byte(rand.Text()), customerGenTTL); err != nil {
		return apierror.StoreUnavailable.WithCause(err)
	}
	if err := h.store.Delete(ctx, customerKey(c.user)); err != nil {
		return apierror.StoreUnavailable.WithCause(err)
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// customerIntents lists the IDs of the customer's payment and setup intents
// and of the payment methods they used.
func (h *Handler) customerIntents(r *http.Request, cus string) ([]string, error) {
	var ids []string
	add := func(id string, pm *stripe.PaymentMethod) {
		ids = append(ids, id)
		if pm != nil && pm.ID != "" {
			ids = append(ids, pm.ID)
		}
	}
	err := h.stripeCall(r, "payment_intent.list", func(ctx context.Context) (*stripe.APIResponse, error) {
		params := &stripe.PaymentIntentListParams{Customer: stripe.String(cus)}
		params.Context = ctx
		params.Limit = stripe.Int64(100)
		it := h.stripe.PaymentIntents.List(params)
		for it.Next() {
			pi := it.PaymentIntent()
			add(pi.ID, pi.PaymentMethod)
		}
		if err := it.Err(); err != nil {
			return nil, err
		}
		return it.PaymentIntentList().LastResponse, nil
	})
	if err != nil {
		return nil, err
	}
	err = h.stripeCall(r, "setup_intent.list", func(ctx context.Context) (*stripe.APIResponse, error) {
		params := &stripe.SetupIntentListParams{Customer: stripe.String(cus)}
		params.Context = ctx
		params.Limit = stripe.Int64(100)
		it := h.stripe.SetupIntents.List(params)
		for it.Next() {
			si := it.SetupIntent()
			add(si.ID, si.PaymentMethod)
		}
		if err := it.Err(); err != nil {
			return nil, err
		}
		return it.SetupIntentList().LastResponse, nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// eraseOwned erases the ownership, status and dispute records of the
// objects recorded as user's: those of objects (the customer's objects on
// Stripe) and those the user's index names (which also holds what Stripe
// no longer links to the customer, such as a payment method replaced at
// confirmation); others' records (should an ID be theirs) stay. The index
// goes last, so that a call that fails half-way finds the rest again; the
// owners go through ownership.Erase, so that this replica forgets them at
// once.
func (h *Handler) eraseOwned(ctx context.Context, user string, objects []string) error {
	owned, err := ownership.OwnedBy(ctx, h.store, user, objects)
	if err != nil {
		return apierror.StoreUnavailable.WithCause(err)
	}
	keys := make([]string, 0, 3*len(owned))
	for _, id := range owned {
		keys = append(keys, statusKey(id), disputeKey(id), subjectKey(id))
	}
	if err := h.store.Delete(ctx, keys...); err != nil {
		return apierror.StoreUnavailable.WithCause(err)
	}
	if err := ownership.Erase(ctx, h.store, owned...); err != nil {
		return apierror.StoreUnavailable.WithCause(err)
	}
	if err := ownership.EraseIndex(ctx, h.store, user); err != nil {
		return apierror.StoreUnavailable.WithCause(err)
	}
	return nil
}
