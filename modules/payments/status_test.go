package payments

import (
	"math/rand/v2"
	"testing"
)

// statusEvent is one status event of an intent: its status and creation time.
type statusEvent struct {
	status  string
	created int64
}

// finalStatus applies events in the order given, as SetIfHigher does: a
// status replaces the recorded one only when its rank is higher.
func finalStatus(events []statusEvent) string {
	var status string
	var rank int64 = -1
	for _, e := range events {
		if r := statusRank(e.status, e.created); r > rank {
			status, rank = e.status, r
		}
	}
	return status
}

func TestStatusRank(t *testing.T) {
	tests := []struct {
		name   string
		events []statusEvent // in the order they happened
		want   string
	}{
		{"succeeded", []statusEvent{{"requires_action", 10}, {"processing", 11}, {"succeeded", 12}}, "succeeded"},
		{"same second, attempt order", []statusEvent{{"requires_action", 10}, {"processing", 10}, {"succeeded", 10}}, "succeeded"},
		{"failed", []statusEvent{{"requires_action", 10}, {"payment_failed", 11}}, "payment_failed"},
		{"failed then another card", []statusEvent{{"requires_action", 10}, {"payment_failed", 11}, {"requires_action", 12}}, "requires_action"},
		{"failed then succeeded", []statusEvent{{"payment_failed", 10}, {"processing", 12}, {"succeeded", 13}}, "succeeded"},
		{"canceled", []statusEvent{{"requires_action", 10}, {"canceled", 20}}, "canceled"},
		{"canceled before a late processing", []statusEvent{{"canceled", 20}, {"processing", 30}}, "canceled"},
		{"succeeded stays succeeded", []statusEvent{{"succeeded", 20}, {"canceled", 30}}, "succeeded"},
		{"canceled stays canceled", []statusEvent{{"canceled", 20}, {"succeeded", 30}}, "canceled"},
		{"no creation time", []statusEvent{{"processing", 0}, {"succeeded", 0}}, "succeeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every delivery order ends where the events' own order does,
			// but for the two final statuses, where the first delivered
			// stays (neither replaces the other).
			if got := finalStatus(tt.events); got != tt.want {
				t.Fatalf("in order: %s, want %s", got, tt.want)
			}
			final := 0
			for _, e := range tt.events {
				if e.status == statusSucceeded || e.status == statusCanceled {
					final++
				}
			}
			for range 50 {
				shuffled := append([]statusEvent(nil), tt.events...)
				rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
				got := finalStatus(shuffled)
				if final == 2 {
					for _, e := range shuffled {
						if e.status == statusSucceeded || e.status == statusCanceled {
							if got != e.status {
								t.Fatalf("order %v: %s, want the first final status %s", shuffled, got, e.status)
							}
							break
						}
					}
					continue
				}
				if got != tt.want {
					t.Fatalf("order %v: %s, want %s", shuffled, got, tt.want)
				}
			}
		})
	}
}

func TestStatusRankBounds(t *testing.T) {
	far := statusRank(statusProcessing, 1<<62)
	if far >= finalRank || far < 0 {
		t.Errorf("rank of an event from the far future = %d, want below the final rank %d", far, finalRank)
	}
	if statusRank(statusProcessing, -5) != statusRank(statusProcessing, 0) {
		t.Error("a negative creation time is not clamped")
	}
}
