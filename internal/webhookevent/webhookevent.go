// Package webhookevent carries a Stripe event that the webhook stage
// (stripe_webhook) verified to the stages after it in the same route. The
// mark is a Caddy request variable whose value has an unexported type, so
// that nothing but this package's Mark can make one: not a client, not a
// vars or map directive (which set strings), not another module.
//
// Only the webhook stage calls Mark, after the signature check; the event
// processor (payment_events) accepts an event only through Verified.
package webhookevent

import (
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Headers the webhook stage sets on the request it forwards, after removing
// any client-supplied copy (in every spelling); an application behind
// reverse_proxy reads them instead of parsing the event for these fields.
const (
	HeaderID       = "Paygate-Stripe-Event-Id"
	HeaderType     = "Paygate-Stripe-Event-Type"
	HeaderLivemode = "Paygate-Stripe-Livemode"
)

// Event is a verified event: its identity and the exact bytes Stripe signed.
type Event struct {
	// ID is the event's ID (evt_...).
	ID string
	// Type is the event's type, e.g. payment_intent.succeeded.
	Type string
	// Livemode is the event's livemode flag.
	Livemode bool
	// Created is the event's creation time, Unix seconds.
	Created int64
	// Body is the request body as verified, byte for byte.
	Body []byte
}

// varKey is the request variable holding the mark.
const varKey = "paygate.webhook.verified"

// verified is the mark's type; being unexported, no one else can make one.
type verified struct{ ev Event }

// Mark records that r's event was verified. Only the webhook stage may call
// it, after checking the event's signature.
func Mark(r *http.Request, ev Event) {
	caddyhttp.SetVar(r.Context(), varKey, &verified{ev: ev})
}

// Verified returns the event the webhook stage verified for r, and false
// when no stage did (the request did not pass stripe_webhook in this route).
func Verified(r *http.Request) (Event, bool) {
	v, ok := caddyhttp.GetVar(r.Context(), varKey).(*verified)
	if !ok || v == nil {
		return Event{}, false
	}
	return v.ev, true
}

// The event types the event processor (payment_events) processes; the
// webhook stage forwards these by default and acknowledges any other.
const (
	TypePaymentSucceeded      = "payment_intent.succeeded"
	TypePaymentFailed         = "payment_intent.payment_failed"
	TypePaymentCanceled       = "payment_intent.canceled"
	TypePaymentRequiresAction = "payment_intent.requires_action"
	TypePaymentProcessing     = "payment_intent.processing"
	TypeSetupSucceeded        = "setup_intent.succeeded"
	TypeSetupFailed           = "setup_intent.setup_failed"
	TypePaymentMethodDetached = "payment_method.detached"
	TypeDisputeCreated        = "charge.dispute.created"
)

// ProcessedTypes lists the types above.
var ProcessedTypes = []string{
	TypePaymentSucceeded, TypePaymentFailed, TypePaymentCanceled, TypePaymentRequiresAction,
	TypePaymentProcessing, TypeSetupSucceeded, TypeSetupFailed, TypePaymentMethodDetached, TypeDisputeCreated,
}
