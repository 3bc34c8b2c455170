package payments

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/stripe/stripe-go/v76"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/ownership"
	"github.com/paygate/paygate/internal/payapi"
	"github.com/paygate/paygate/internal/store"
)

// EventProcessor processes Stripe events. It is placed behind the webhook
// stage, which has verified each event's signature and de-duplicated it,
// and trusts what it gets: it never stands on its own. It talks to no one
// but the store and has no configuration.
type EventProcessor struct {
	store store.Store
	audit *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (EventProcessor) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.payment_events",
		New: func() caddy.Module { return new(EventProcessor) },
	}
}

// Provision finds the store and the audit logger.
func (p *EventProcessor) Provision(ctx caddy.Context) error {
	if err := registerMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("payment_events: %w", err)
	}
	s, err := store.FromContext(ctx)
	if err != nil {
		return fmt.Errorf("payment_events: %w", err)
	}
	p.setUp(s, audit.Logger(ctx))
	return nil
}

// setUp is Provision without Caddy's context: tests call it with their own
// store and audit logger.
func (p *EventProcessor) setUp(s store.Store, auditLogger *zap.Logger) {
	p.store, p.audit = s, auditLogger
}

// maxEventBody bounds an event's body (the webhook stage bounds it first).
const maxEventBody = 1 << 20

// The event types processed; any other is acknowledged and ignored.
const (
	evPaymentSucceeded      = "payment_intent.succeeded"
	evPaymentFailed         = "payment_intent.payment_failed"
	evPaymentCanceled       = "payment_intent.canceled"
	evPaymentRequiresAction = "payment_intent.requires_action"
	evPaymentProcessing     = "payment_intent.processing"
	evSetupSucceeded        = "setup_intent.succeeded"
	evPaymentMethodDetached = "payment_method.detached"
	evDisputeCreated        = "charge.dispute.created"
)

// paymentEventStatus is the status each payment intent event records.
var paymentEventStatus = map[stripe.EventType]string{
	evPaymentSucceeded:      statusSucceeded,
	evPaymentFailed:         statusPaymentFailed,
	evPaymentCanceled:       statusCanceled,
	evPaymentRequiresAction: statusRequiresAction,
	evPaymentProcessing:     statusProcessing,
}

// Reasons an event was acknowledged without being recorded, in its audit
// event.
const (
	reasonNotOurs   = "unknown_object"
	reasonUnhandled = "unhandled_type"
	reasonStale     = "out_of_order"
)

var errNotAnEvent = apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, "bad_request",
	"The request body is not a Stripe event.")

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

// ServeHTTP processes one Stripe event; it never calls the next handler.
// It records what the event says in the store and answers 200
// {"received":true}, also for events that are ignored (an object that is
// not ours, a type not processed), so that Stripe does not retry them. A
// store failure is a 503, which Stripe retries. Responses are never
// cacheable.
func (p *EventProcessor) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		e := payapi.MethodNotAllowed(http.MethodPost)
		return caddyhttp.Error(e.Status, e)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEventBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return caddyhttp.Error(errBodyTooLarge.Status, errBodyTooLarge.WithCause(err))
		}
		return caddyhttp.Error(http.StatusBadRequest, errNotAnEvent.WithCause(err))
	}
	var ev stripe.Event
	if err := json.Unmarshal(body, &ev); err != nil || !strings.HasPrefix(ev.ID, "evt_") || ev.Type == "" || ev.Data == nil || ev.Created <= 0 {
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
	_, payment := paymentEventStatus[t]
	return payment || t == evSetupSucceeded || t == evPaymentMethodDetached || t == evDisputeCreated
}

// processEvent records what ev says about an object of ours.
func (p *EventProcessor) processEvent(r *http.Request, ev *stripe.Event) (eventResult, error) {
	ctx := r.Context()
	var obj struct {
		ID            string          `json:"id"`
		PaymentMethod json.RawMessage `json:"payment_method"`
		PaymentIntent json.RawMessage `json:"payment_intent"`
		Reason        string          `json:"reason"`
		Status        string          `json:"status"`
	}
	if !handledEvent(ev.Type) {
		return eventResult{ignored: reasonUnhandled}, nil
	}
	if err := json.Unmarshal(ev.Data.Raw, &obj); err != nil || obj.ID == "" {
		return eventResult{}, errNotAnEvent.WithCause(fmt.Errorf("event %s: no object ID (%v)", ev.ID, err))
	}
	// The object a dispute is about is its payment intent.
	subject := obj.ID
	if ev.Type == evDisputeCreated {
		subject = expandableID(obj.PaymentIntent)
	}
	res := eventResult{resource: subject, ignored: reasonNotOurs}
	if subject == "" {
		return res, nil
	}
	owner, ok, err := ownership.Owner(ctx, p.store, subject)
	if err != nil || !ok {
		if err != nil {
			err = apierror.StoreUnavailable.WithCause(err)
		}
		return res, err
	}
	res.owner, res.ignored = owner, ""

	switch ev.Type {
	case evSetupSucceeded:
		stored, err := p.recordStatus(r, subject, statusSucceeded, ev)
		if err != nil {
			return res, err
		}
		if !stored {
			res.ignored = reasonStale
		}
		// The card saved for later is the user's from now on.
		return res, recordOwned(ctx, p.store, owner, expandableID(obj.PaymentMethod))
	case evPaymentMethodDetached:
		if err := ownership.Erase(ctx, p.store, subject); err != nil {
			return res, apierror.StoreUnavailable.WithCause(err)
		}
		return res, nil
	case evDisputeCreated:
		rec, _ := json.Marshal(disputeRecord{Dispute: obj.ID, Reason: obj.Reason, Status: obj.Status, Event: ev.ID, Created: ev.Created})
		if err := p.store.Set(ctx, disputeKey(subject), rec, 0); err != nil {
			return res, apierror.StoreUnavailable.WithCause(err)
		}
		return res, nil
	}
	stored, err := p.recordStatus(r, subject, paymentEventStatus[ev.Type], ev)
	if err == nil && !stored {
		res.ignored = reasonStale
	}
	return res, err
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
