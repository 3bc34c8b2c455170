package payments

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/caddyserver/caddy/v2"
	"github.com/stripe/stripe-go/v76"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/ownership"
	"github.com/paygate/paygate/internal/store"
)

// ReindexSummary is what Reindex did (or, on a dry run, would do).
type ReindexSummary struct {
	// Customers is how many live Stripe customers carry paygate's
	// metadata.
	Customers int
	// Recorded is how many records (customer mappings and owners) were
	// written, or would be.
	Recorded int
	// Present is how many were found already recorded, the same.
	Present int
	// Conflicts name what was not recorded: a record that names another
	// user or customer (records are never moved), or an intent whose
	// metadata names another user than its customer.
	Conflicts []string
}

// Reindex rebuilds, from the metadata paygate writes on Stripe's objects,
// the customer mapping and the ownership index in s: for every live
// customer with paygate's metadata, the mapping user -> customer and the
// owner of the customer's payment intents, setup intents and attached
// payment methods. It never overwrites a record (PutIfAbsent), so it can
// run beside a live paygate and again (a second run records nothing). A
// dry run only reads. handlerJSON is the payments handler's configuration
// (its Stripe key, API base, timeout), set up as the handler is.
func Reindex(ctx context.Context, handlerJSON json.RawMessage, s store.Store, dryRun bool, logger *zap.Logger) (ReindexSummary, error) {
	h := new(Handler)
	if err := json.Unmarshal(handlerJSON, h); err != nil {
		return ReindexSummary{}, fmt.Errorf("payments: the handler's configuration: %w", err)
	}
	if err := h.setUp(s, logger, zap.NewNop(), caddy.NewReplacer()); err != nil {
		return ReindexSummary{}, err
	}
	if err := h.Validate(); err != nil {
		return ReindexSummary{}, err
	}
	defer h.Cleanup()
	r := &reindex{h: h, ctx: ctx, dry: dryRun}
	err := r.run()
	return r.sum, err
}

// reindex is one run of Reindex.
type reindex struct {
	h   *Handler
	ctx context.Context
	dry bool
	sum ReindexSummary
}

// paygateCustomer is a live customer paygate created for user.
type paygateCustomer struct {
	id, user string
	created  int64
}

func (r *reindex) run() error {
	// Oldest first: should a user have several customers, the mapping is
	// the oldest one's, as a heal would choose.
	var customers []paygateCustomer
	params := &stripe.CustomerListParams{}
	params.Context = r.ctx
	params.Limit = stripe.Int64(100)
	it := r.h.stripe.Customers.List(params)
	for it.Next() {
		c := it.Customer()
		if user, ok := customerUser(c); ok {
			customers = append(customers, paygateCustomer{id: c.ID, user: user, created: c.Created})
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("listing Stripe customers: %w", stripeCause(err))
	}
	slices.SortStableFunc(customers, func(a, b paygateCustomer) int { return int(a.created - b.created) })
	r.sum.Customers = len(customers)
	for _, c := range customers {
		if err := r.restore(customerKey(c.user), c.id, "customer "+c.id); err != nil {
			return err
		}
		objects, err := r.objects(c)
		if err != nil {
			return err
		}
		for _, id := range objects {
			if err := r.restore(ownership.Key(id), c.user, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// objects lists the IDs of c's intents that paygate made for c's user and
// of the payment methods attached to c; intents whose metadata names
// another user are conflicts.
func (r *reindex) objects(c paygateCustomer) ([]string, error) {
	var ids []string
	add := func(id string, meta map[string]string) {
		if meta[metadataUser] == c.user {
			ids = append(ids, id)
		} else {
			r.sum.Conflicts = append(r.sum.Conflicts, id+" (its metadata does not name its customer's user)")
		}
	}
	pis := &stripe.PaymentIntentListParams{Customer: stripe.String(c.id)}
	pis.Context = r.ctx
	pis.Limit = stripe.Int64(100)
	pit := r.h.stripe.PaymentIntents.List(pis)
	for pit.Next() {
		add(pit.PaymentIntent().ID, pit.PaymentIntent().Metadata)
	}
	if err := pit.Err(); err != nil {
		return nil, fmt.Errorf("listing the payment intents of %s: %w", c.id, stripeCause(err))
	}
	sis := &stripe.SetupIntentListParams{Customer: stripe.String(c.id)}
	sis.Context = r.ctx
	sis.Limit = stripe.Int64(100)
	sit := r.h.stripe.SetupIntents.List(sis)
	for sit.Next() {
		add(sit.SetupIntent().ID, sit.SetupIntent().Metadata)
	}
	if err := sit.Err(); err != nil {
		return nil, fmt.Errorf("listing the setup intents of %s: %w", c.id, stripeCause(err))
	}
	// A payment method's owner is its customer's user, whatever its own
	// metadata (which a browser can write) says.
	pms := &stripe.CustomerListPaymentMethodsParams{Customer: stripe.String(c.id)}
	pms.Context = r.ctx
	pms.Limit = stripe.Int64(100)
	pmt := r.h.stripe.Customers.ListPaymentMethods(pms)
	for pmt.Next() {
		ids = append(ids, pmt.PaymentMethod().ID)
	}
	if err := pmt.Err(); err != nil {
		return nil, fmt.Errorf("listing the payment methods of %s: %w", c.id, stripeCause(err))
	}
	return ids, nil
}

// restore writes key = value unless key is recorded, and counts the
// outcome; name says what the record is about in a conflict.
func (r *reindex) restore(key, value, name string) error {
	recorded := false
	if !r.dry {
		var err error
		if recorded, err = r.h.store.PutIfAbsent(r.ctx, key, []byte(value), 0); err != nil {
			return fmt.Errorf("recording %s: %w", name, err)
		}
	}
	if recorded {
		r.sum.Recorded++
		return nil
	}
	v, ok, err := r.h.store.Get(r.ctx, key)
	switch {
	case err != nil:
		return fmt.Errorf("reading the record of %s: %w", name, err)
	case !ok:
		// A dry run would record it. (Erased between the two calls: a
		// later run settles it.)
		if r.dry {
			r.sum.Recorded++
		}
	case string(v) == value:
		r.sum.Present++
	default:
		r.sum.Conflicts = append(r.sum.Conflicts, name+" (recorded otherwise; kept)")
	}
	return nil
}
