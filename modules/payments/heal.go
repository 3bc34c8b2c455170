package payments

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/ownership"
	"github.com/paygate/paygate/internal/payapi"
)

// metadataUser is the metadata key under which paygate writes, on every
// Stripe customer, payment intent and setup intent it creates, the user it
// created it for.
const metadataUser = "paygate_user"

// kindCustomer is the heal metric's kind of a customer mapping.
const kindCustomer = "customer"

// The handler is the ownership index's resolver (ownership.Resolver): an
// owner the store lost is read from what paygate wrote on Stripe. Only
// fields that no one but a secret-key holder can write are trusted: the
// metadata of customers and intents (Stripe.js, with the publishable key,
// can confirm an intent but not change its metadata or customer). A payment
// method's own metadata can be written from a browser, so a payment
// method's owner is its customer's user, never what its metadata says.

// OwnerKind is the resource type of an ID of paygate's payment API (pi_,
// seti_, pm_ with a valid body), or "" for anything else, which is never
// looked up.
func (h *Handler) OwnerKind(objectID string) string {
	for _, rt := range payapi.Default().Routes() {
		if rt.IDPrefix != "" && rt.ValidID(objectID) {
			return rt.ResourceType
		}
	}
	return ""
}

// ResolveOwner reads objectID from Stripe, with its customer expanded.
// An intent is the user's its metadata names when its customer is that
// same user's and not deleted (paygate always creates intents on the
// user's customer; a customer deleted by the right to deletion takes its
// intents' ownership with it); a payment method is its customer's user's.
func (h *Handler) ResolveOwner(ctx context.Context, objectID string) (string, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(h.Timeout))
	defer cancel()
	kind := h.OwnerKind(objectID)
	var (
		meta map[string]string
		cus  *stripe.Customer
		err  error
	)
	switch kind {
	case "payment_intent":
		params := &stripe.PaymentIntentParams{}
		params.Context = ctx
		params.AddExpand("customer")
		var pi *stripe.PaymentIntent
		if pi, err = h.stripe.PaymentIntents.Get(objectID, params); err == nil {
			meta, cus = pi.Metadata, pi.Customer
		}
	case "setup_intent":
		params := &stripe.SetupIntentParams{}
		params.Context = ctx
		params.AddExpand("customer")
		var si *stripe.SetupIntent
		if si, err = h.stripe.SetupIntents.Get(objectID, params); err == nil {
			meta, cus = si.Metadata, si.Customer
		}
	case "payment_method":
		params := &stripe.PaymentMethodParams{}
		params.Context = ctx
		params.AddExpand("customer")
		var pm *stripe.PaymentMethod
		if pm, err = h.stripe.PaymentMethods.Get(objectID, params); err == nil {
			cus = pm.Customer
		}
	default:
		return "", false, nil
	}
	op := kind + ".heal"
	if err != nil {
		if stripeNotFound(err) {
			paymentMetrics.stripeCalls.WithLabelValues(op, stripeResultOK).Inc()
			return "", false, nil
		}
		paymentMetrics.stripeCalls.WithLabelValues(op, stripeResultError).Inc()
		return "", false, fmt.Errorf("payments: looking up the owner of %s on Stripe: %w", objectID, stripeCause(err))
	}
	paymentMetrics.stripeCalls.WithLabelValues(op, stripeResultOK).Inc()
	owner, ok := customerUser(cus)
	if !ok {
		return "", false, nil
	}
	if kind != "payment_method" && meta[metadataUser] != owner {
		h.logger.Warn("ownership heal: an intent's metadata and its customer name different users; not healed",
			zap.String("object", objectID))
		return "", false, nil
	}
	return owner, true, nil
}

// customerUser is the user paygate created cus for, if cus is a live
// customer of paygate's.
func customerUser(cus *stripe.Customer) (string, bool) {
	if cus == nil || cus.Deleted {
		return "", false
	}
	user := cus.Metadata[metadataUser]
	return user, validUserID(user)
}

// stripeNotFound reports whether Stripe answered that the object does not
// exist.
func stripeNotFound(err error) bool {
	se, ok := errors.AsType[*stripe.Error](err)
	return ok && (se.HTTPStatusCode == http.StatusNotFound || se.Code == stripe.ErrorCodeResourceMissing)
}

// stripeCause is err without Stripe's message (which may embed an object
// and its client secret): its type, code, status and request ID.
func stripeCause(err error) error {
	if se, ok := errors.AsType[*stripe.Error](err); ok {
		return fmt.Errorf("stripe error %s/%s, status %d, request %s", se.Type, se.Code, se.HTTPStatusCode, se.RequestID)
	}
	return err
}

// healCustomer finds user's customer on Stripe when the store lost the
// mapping: a search by the metadata paygate wrote, then a retrieval of the
// one found (search is eventually consistent: a customer deleted a moment
// ago may still be found). Several live customers for one user (a store
// lost twice within a minute) give the oldest, which is kept; none gives
// "not found", and the caller may create one, as before. The mapping
// found is stored with PutIfAbsent: one written meanwhile stands. When
// Stripe fails the answer is an error (503), never "not found", which
// would make a second customer; over the lookup budget it is an error
// wrapping ownership.ErrOverBudget, which each caller decides on (the
// right to deletion answers 503).
func (h *Handler) healCustomer(ctx context.Context, user string) (string, bool, error) {
	hl := ownership.HealerOf(h.store)
	if hl == nil {
		return "", false, nil
	}
	id, found, err := hl.Lookup(ctx, kindCustomer, user, func(ctx context.Context) (string, string, error) {
		ctx, cancel := context.WithTimeout(ctx, time.Duration(h.Timeout))
		defer cancel()
		cus, outcome, err := h.searchCustomer(ctx, user)
		if err != nil || cus == "" {
			return "", ownership.HealNotFound, err
		}
		stored, err := h.store.PutIfAbsent(ctx, customerKey(user), []byte(cus), 0)
		if err != nil {
			return "", "", err
		}
		if !stored {
			v, ok, err := h.store.Get(ctx, customerKey(user))
			if err != nil || !ok {
				return "", ownership.HealNotFound, err
			}
			return string(v), outcome, nil
		}
		h.logger.Warn("customer mapping healed from Stripe: the store had lost it",
			zap.String("customer", cus), zap.String("user_hash", ownership.UserHash(user)))
		return cus, outcome, nil
	})
	if err != nil {
		return "", false, apierror.StoreUnavailable.WithCause(err)
	}
	return id, found, nil
}

// searchCustomer returns the live customer paygate created for user, if
// Stripe's search finds one, and the heal outcome (conflict when there
// are several).
func (h *Handler) searchCustomer(ctx context.Context, user string) (string, string, error) {
	params := &stripe.CustomerSearchParams{}
	params.Context = ctx
	params.Query = "metadata['" + metadataUser + "']:" + searchString(user)
	params.Limit = stripe.Int64(10)
	params.Single = true
	var found []*stripe.Customer
	it := h.stripe.Customers.Search(params)
	for it.Next() {
		// The query is escaped; what comes back is checked all the same.
		if c := it.Customer(); c.Metadata[metadataUser] == user && !c.Deleted {
			found = append(found, c)
		}
	}
	if err := it.Err(); err != nil {
		paymentMetrics.stripeCalls.WithLabelValues("customer.search", stripeResultError).Inc()
		return "", "", fmt.Errorf("payments: searching the customer of a user on Stripe: %w", stripeCause(err))
	}
	paymentMetrics.stripeCalls.WithLabelValues("customer.search", stripeResultOK).Inc()
	slices.SortFunc(found, func(a, b *stripe.Customer) int { return int(a.Created - b.Created) })
	for _, c := range found {
		params := &stripe.CustomerParams{}
		params.Context = ctx
		got, err := h.stripe.Customers.Get(c.ID, params)
		switch {
		case stripeNotFound(err):
			paymentMetrics.stripeCalls.WithLabelValues("customer.heal", stripeResultOK).Inc()
			continue
		case err != nil:
			paymentMetrics.stripeCalls.WithLabelValues("customer.heal", stripeResultError).Inc()
			return "", "", fmt.Errorf("payments: reading customer %s on Stripe: %w", c.ID, stripeCause(err))
		}
		paymentMetrics.stripeCalls.WithLabelValues("customer.heal", stripeResultOK).Inc()
		if u, ok := customerUser(got); !ok || u != user {
			continue
		}
		if len(found) > 1 {
			h.logger.Warn("several Stripe customers for one user; the oldest is used",
				zap.String("customer", got.ID), zap.Int("customers", len(found)), zap.String("user_hash", ownership.UserHash(user)))
			return got.ID, ownership.HealConflict, nil
		}
		return got.ID, ownership.HealHealed, nil
	}
	return "", ownership.HealNotFound, nil
}

// searchString quotes s as a string of Stripe's search query language:
// in single quotes, with every quote and backslash escaped by a backslash,
// so that a user ID cannot end the string and add clauses.
func searchString(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		if r == '\'' || r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}
