package payments

import "github.com/paygate/paygate/internal/store"

// statusKey is the store key of the status events recorded for a payment
// or setup intent; disputeKey of a payment intent's dispute.
func statusKey(objectID string) string  { return store.Key(objectID, "status") }
func disputeKey(objectID string) string { return store.Key(objectID, "dispute") }

// subjectKey is the store key of the rate-limit subject of a payment
// intent's latest attempt or a setup intent's creation (see
// recordSubject).
func subjectKey(objectID string) string { return store.Key(objectID, "subject") }

// Statuses recorded from events, the values of a status record.
const (
	statusRequiresAction = "requires_action"
	statusPaymentFailed  = "payment_failed"
	statusProcessing     = "processing"
	statusSucceeded      = "succeeded"
	statusCanceled       = "canceled"
)

// finalRank is the rank of a final status (succeeded, canceled): above
// every other, and equal between them, so that nothing replaces a final
// status, not even the other one.
const finalRank = int64(1) << 62

// maxCreated bounds an event's creation time (Unix seconds) in a rank, so
// that a non-final rank stays below finalRank; it is far in the future.
const maxCreated = int64(1)<<58 - 1

// statusOrder breaks ties between non-final statuses of events created in
// the same second, in the order a payment attempt goes through them.
var statusOrder = map[string]int64{
	statusRequiresAction: 1,
	statusPaymentFailed:  2,
	statusProcessing:     3,
}

// statusRank orders the statuses of one intent for store.SetIfHigher, so
// that events arriving out of order never move a payment backwards. A
// final status outranks everything. Between the others, the later event
// wins: a payment can go from payment_failed back to requires_action when
// the customer tries another card, so no fixed order of statuses would do;
// an event's creation time (seconds) decides, then statusOrder.
func statusRank(status string, created int64) int64 {
	if status == statusSucceeded || status == statusCanceled {
		return finalRank
	}
	created = min(max(created, 0), maxCreated)
	return created<<3 | statusOrder[status]
}
