package opaauthz

import (
	"net/http"
	"reflect"
	"testing"
)

// TestHeaderSelectionRecord: decision logs record only the selected
// headers, and mask the value of every credential-like one (the rule of
// redact.SensitiveHeader).
func TestHeaderSelectionRecord(t *testing.T) {
	sel := newHeaderSelection([]string{"user-agent", "X-Session-Id", "Idempotency-Key", "X-Card-Cvc", "Authorization", "X-Absent"})
	h := http.Header{
		"User-Agent":      {"paygate-test"},
		"X-Session-Id":    {"s1"},
		"Idempotency-Key": {"k1"},
		"X-Card-Cvc":      {"123"},
		"Authorization":   {"Bearer x"},
		"X-Not-Selected":  {"v"},
	}
	want := http.Header{
		"User-Agent":      {"paygate-test"},
		"X-Session-Id":    {masked},
		"Idempotency-Key": {masked},
		"X-Card-Cvc":      {masked},
		"Authorization":   {masked},
	}
	if got := sel.record(h); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := newHeaderSelection(nil).record(h); got != nil {
		t.Errorf("no selection: got %v, want nil", got)
	}
}
