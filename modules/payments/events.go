package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/stripe/stripe-go/v76"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/ownership"
	"github.com/paygate/paygate/internal/ratezone"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/webhookevent"
)

// EventProcessor processes Stripe events. It accepts only the events that
// the webhook stage (stripe_webhook) in the same route verified and
// de-duplicated, and reads them as that stage verified them; a request
// that did not pass it is refused and logged as a configuration error. It
// talks to no one but the store and has no configuration.
type EventProcessor struct {
	store  store.Store
	logger *zap.Logger
	audit  *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (EventProcessor) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.payment_events",
		New: func() caddy.Module { return new(EventProcessor) },
	}
}

// Provision finds the store and the loggers.
func (p *EventProcessor) Provision(ctx caddy.Context) error {
	if err := registerMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("payment_events: %w", err)
	}
	s, err := store.FromContext(ctx)
	if err != nil {
		return fmt.Errorf("payment_events: %w", err)
	}
	p.setUp(s, ctx.Logger(), audit.Logger(ctx))
	return nil
}

// setUp is Provision without Caddy's context: tests call it with their own
// store and loggers.
func (p *EventProcessor) setUp(s store.Store, logger, auditLogger *zap.Logger) {
	p.store, p.logger, p.audit = s, logger, auditLogger
}

// paymentEventStatus is the status each payment intent event records.
var paymentEventStatus = map[string]string{
	webhookevent.TypePaymentSucceeded:      statusSucceeded,
	webhookevent.TypePaymentFailed:         statusPaymentFailed,
	webhookevent.TypePaymentCanceled:       statusCanceled,
	webhookevent.TypePaymentRequiresAction: statusRequiresAction,
	webhookevent.TypePaymentProcessing:     statusProcessing,
}

// Reasons an event was acknowledged without being recorded, in its audit
// event.
const (
	reasonNotOurs   = "unknown_object"
	reasonUnhandled = "unhandled_type"
	reasonStale     = "out_of_order"
	// reasonBadID: an ID without the prefix its field must have.
	reasonBadID = "invalid_id"
	// reasonOwnedByOther: a saved card already recorded as another user's,
	// which an event never moves.
	reasonOwnedByOther = "owned_by_another_user"
)

var (
	errNotAnEvent = apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, "bad_request",
		"The request body is not a Stripe event.")
	// errNotVerified answers a request that did not pass stripe_webhook:
	// a configuration error, which the log says.
	errNotVerified = apierror.New(http.StatusInternalServerError, apierror.TypeAPI, "internal_error",
		"An internal error occurred.")
)

// statusRecord is what the store keeps for an intent's status.
type statusRecord struct {
	Status  string `json:"status"`
	Event   string `json:"event"`
	Created int64  `json:"created"`
}

// disputeRecord is what the store keeps for a payment intent's dispute.
type disputeRecord struct {
	Dispute string `json:"dispute"`
	Reason  string `json:"reason"`
	Status  string `json:"status"`
	Event   string `json:"event"`
	Created int64  `json:"created"`
}

// eventResult is what processing an event did, for metrics and audit.
type eventResult struct {
	owner    string
	resource string
	// ignored says why nothing was recorded, or is "".
	ignored string
}

// ServeHTTP processes one verified Stripe event; it never calls the next
// handler. It records what the event says in the store and answers 200
// {"received":true}, also for events that are ignored (an object that is
// not ours, a type not processed), so that Stripe does not retry them. A
// store failure, or an owner that cannot be told now, is a 503, which
// Stripe retries. Responses are never cacheable.
func (p *EventProcessor) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	w.Header().Set("Cache-Control", "no-store")
	verified, ok := webhookevent.Verified(r)
	if !ok {
		p.logger.Error("configuration error: payment_events got a request that did not pass stripe_webhook; put stripe_webhook before it in the same route",
			zap.String("path", r.URL.Path))
		observe("webhook.unverified", outcomeRejected, errNotVerified.Code)
		e := errNotVerified.WithCause(errors.New("event not verified by stripe_webhook"))
		return caddyhttp.Error(e.Status, e)
	}
	var ev stripe.Event
	if err := json.Unmarshal(verified.Body, &ev); err != nil || !strings.HasPrefix(ev.ID, "evt_") || ev.Type == "" || ev.Data == nil || ev.Created <= 0 {
		e := errNotAnEvent.WithCause(fmt.Errorf("not a Stripe event (%v)", err))
		return caddyhttp.Error(e.Status, e)
	}

	action := "webhook.other"
	if handledEvent(ev.Type) {
		action = "webhook." + string(ev.Type)
	}
	res, err := p.processEvent(r, &ev)
	outcome, auditOutcome, code := outcomeSucceeded, audit.Succeeded, ""
	switch {
	case err != nil:
		e := apierror.Resolve(err, http.StatusInternalServerError)
		outcome, auditOutcome, code = outcomeError, audit.Failed, e.Code
	case res.ignored != "":
		outcome = outcomeIgnored
	}
	observe(action, outcome, code)
	reason := res.ignored
	if code != "" {
		reason = code
	}
	audit.Log(p.audit, r, audit.Event{Action: action, Outcome: auditOutcome, Actor: res.owner, Resource: res.resource, Reason: reason})
	if err != nil {
		e := apierror.Resolve(err, http.StatusInternalServerError)
		return caddyhttp.Error(e.Status, err)
	}
	writeJSON(w, http.StatusOK, map[string]bool{"received": true})
	return nil
}

func handledEvent(t stripe.EventType) bool {
	return slices.Contains(webhookevent.ProcessedTypes, string(t))
}

// idPrefix is the prefix of the object ID each processed type is about.
var idPrefix = map[stripe.EventType]string{
	webhookevent.TypePaymentSucceeded:      "pi_",
	webhookevent.TypePaymentFailed:         "pi_",
	webhookevent.TypePaymentCanceled:       "pi_",
	webhookevent.TypePaymentRequiresAction: "pi_",
	webhookevent.TypePaymentProcessing:     "pi_",
	webhookevent.TypeSetupSucceeded:        "seti_",
	webhookevent.TypeSetupFailed:           "seti_",
	webhookevent.TypePaymentMethodDetached: "pm_",
	webhookevent.TypeDisputeCreated:        "dp_",
}

// processEvent records what ev says about an object of ours.
func (p *EventProcessor) processEvent(r *http.Request, ev *stripe.Event) (eventResult, error) {
	ctx := r.Context()
	var obj struct {
		ID               string          `json:"id"`
		PaymentMethod    json.RawMessage `json:"payment_method"`
		PaymentIntent    json.RawMessage `json:"payment_intent"`
		Reason           string          `json:"reason"`
		Status           string          `json:"status"`
		LastPaymentError *struct {
			Charge string `json:"charge"`
		} `json:"last_payment_error"`
	}
	if !handledEvent(ev.Type) {
		return eventResult{ignored: reasonUnhandled}, nil
	}
	if err := json.Unmarshal(ev.Data.Raw, &obj); err != nil || obj.ID == "" {
		return eventResult{}, errNotAnEvent.WithCause(fmt.Errorf("event %s: no object ID (%v)", ev.ID, err))
	}
	if !strings.HasPrefix(obj.ID, idPrefix[ev.Type]) {
		return eventResult{resource: obj.ID, ignored: reasonBadID}, nil
	}
	// The object a dispute is about is its payment intent.
	subject := obj.ID
	if ev.Type == webhookevent.TypeDisputeCreated {
		subject = expandableID(obj.PaymentIntent)
		if subject != "" && !strings.HasPrefix(subject, "pi_") {
			return eventResult{resource: subject, ignored: reasonBadID}, nil
		}
	}
	res := eventResult{resource: subject, ignored: reasonNotOurs}
	if subject == "" {
		return res, nil
	}
	// Only an owner neither the store nor Stripe knows is "not ours": one
	// that could not be looked up now (over the replica's budget, Stripe
	// failing) is a 503, so that the event is not marked done and Stripe's
	// retry finds it.
	owner, ok, err := ownership.KnownOwner(ctx, p.store, subject)
	if err != nil || !ok {
		if err != nil {
			err = apierror.StoreUnavailable.WithCause(err)
		}
		return res, err
	}
	res.owner, res.ignored = owner, ""

	switch ev.Type {
	case webhookevent.TypeSetupSucceeded:
		pm := expandableID(obj.PaymentMethod)
		if pm != "" && !strings.HasPrefix(pm, "pm_") {
			res.ignored = reasonBadID
			return res, nil
		}
		stored, err := p.recordStatus(r, subject, statusSucceeded, ev)
		if err != nil {
			return res, err
		}
		if !stored {
			res.ignored = reasonStale
		}
		// The card saved for later is the user's from now on, unless it
		// is recorded as someone else's: an event never moves a record.
		if pm == "" {
			return res, nil
		}
		claimed, err := ownership.Claim(ctx, p.store, pm, owner)
		if err != nil {
			return res, apierror.StoreUnavailable.WithCause(err)
		}
		if !claimed {
			res.ignored = reasonOwnedByOther
			p.logger.Warn("an event would move a saved card to another user; kept with its owner",
				zap.String("event", ev.ID), zap.String("payment_method", pm))
		}
		return res, nil
	case webhookevent.TypeSetupFailed:
		// A card the setup intent could not save is a decline, counted as
		// a payment's is (by the event's ID: there is no charge). Once it
		// leaves its subject's budget spent, the setup intent is canceled
		// at Stripe: its client secret, in the browser, could otherwise
		// go on trying cards at Stripe, where no stage sees them.
		if !p.countDecline(ctx, subject, string(ev.Type), ev.ID) {
			return res, nil
		}
		return res, p.cancelSetup(r, subject, owner)
	case webhookevent.TypePaymentMethodDetached:
		if err := ownership.Erase(ctx, p.store, subject); err != nil {
			return res, apierror.StoreUnavailable.WithCause(err)
		}
		return res, nil
	case webhookevent.TypeDisputeCreated:
		rec, _ := json.Marshal(disputeRecord{Dispute: obj.ID, Reason: obj.Reason, Status: obj.Status, Event: ev.ID, Created: ev.Created})
		if err := p.store.Set(ctx, disputeKey(subject), rec, 0); err != nil {
			return res, apierror.StoreUnavailable.WithCause(err)
		}
		return res, nil
	}
	stored, err := p.recordStatus(r, subject, paymentEventStatus[string(ev.Type)], ev)
	if err == nil && !stored {
		res.ignored = reasonStale
	}
	if err == nil && ev.Type == webhookevent.TypePaymentFailed {
		// The decline's ID: the charge, which the attempt's 402 named too;
		// a failure without one (3-D Secure) is the event's own.
		declineID := ev.ID
		if obj.LastPaymentError != nil && obj.LastPaymentError.Charge != "" {
			declineID = obj.LastPaymentError.Charge
		}
		p.countDecline(ctx, subject, string(ev.Type), declineID)
	}
	return res, err
}

// countDecline counts a failed payment or setup in the rate-limit zones
// that count its event type, for the subject (user, client IP) of the
// intent's latest attempt, and reports whether that left one of them
// spent. A failure is logged: the event itself was processed.
func (p *EventProcessor) countDecline(ctx context.Context, intent, eventType, declineID string) (spent bool) {
	zones := ratezone.ForEvent(eventType)
	if len(zones) == 0 {
		return false
	}
	b, ok, err := p.store.Get(ctx, subjectKey(intent))
	var s subject
	if err == nil && ok {
		err = json.Unmarshal(b, &s)
	}
	if err != nil || !ok {
		if err != nil {
			p.logger.Warn("reading a payment's rate-limit subject failed; its decline is not counted", zap.Error(err))
		}
		return false
	}
	repl := caddy.NewEmptyReplacer()
	repl.Set(ratezone.SubjectUser, s.User)
	repl.Set(ratezone.SubjectIP, s.IP)
	for _, z := range zones {
		key := repl.ReplaceAll(z.KeyTemplate, "")
		if key == "" {
			continue
		}
		_, zoneSpent, err := ratezone.Count(ctx, p.store, z, key, declineID)
		if err != nil {
			p.logger.Warn("counting a decline event in a rate-limit zone failed", zap.String("zone", z.Name), zap.Error(err))
		}
		spent = spent || zoneSpent
	}
	return spent
}

// cancelSetup cancels the setup intent id of owner at Stripe, through the
// payment handler of the running configuration (the store's owner
// resolver), and audits it. Without one (no payments handler in the
// configuration) it is logged and left.
func (p *EventProcessor) cancelSetup(r *http.Request, id, owner string) error {
	h, ok := ownership.HealerOf(p.store).Resolver().(*Handler)
	if !ok {
		p.logger.Warn("a setup intent's declines are spent, but no payments handler can cancel it", zap.String("setup_intent", id))
		return nil
	}
	if err := h.cancelSetupIntent(r, id); err != nil {
		return err
	}
	audit.Log(p.audit, r, audit.Event{Action: "setup_intent_canceled", Outcome: audit.Denied, Actor: owner, Resource: id, Reason: "declines_spent"})
	return nil
}

// recordStatus stores status for an intent unless a status of a higher
// rank is already there; it reports whether it stored it.
func (p *EventProcessor) recordStatus(r *http.Request, objectID, status string, ev *stripe.Event) (bool, error) {
	rec, _ := json.Marshal(statusRecord{Status: status, Event: ev.ID, Created: ev.Created})
	stored, err := p.store.SetIfHigher(r.Context(), statusKey(objectID), statusRank(status, ev.Created), rec, 0)
	if err != nil {
		return false, apierror.StoreUnavailable.WithCause(err)
	}
	return stored, nil
}

// expandableID is the ID in a Stripe field that holds an ID or, expanded,
// an object with an id; "" for null or anything else.
func expandableID(raw json.RawMessage) string {
	var id string
	if json.Unmarshal(raw, &id) == nil {
		return id
	}
	var obj struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		return obj.ID
	}
	return ""
}

// Interface guards
var (
	_ caddy.Provisioner           = (*EventProcessor)(nil)
	_ caddyhttp.MiddlewareHandler = (*EventProcessor)(nil)
)
