package payments

import (
	"net/http"
	"testing"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/idemkey"
)

// TestIdempotencyKey: the handler reads the key through idemkey.Parse
// (tested there) and maps its answers to its own errors.
func TestIdempotencyKey(t *testing.T) {
	tests := []struct {
		name    string
		values  []string
		want    string
		present bool
		wantErr bool
	}{
		{name: "absent"},
		{name: "bare", values: []string{"order-1"}, want: "order-1", present: true},
		{name: "quoted", values: []string{`"order-1"`}, want: "order-1", present: true},
		{name: "spaces are refused, not trimmed", values: []string{"  order-1 "}, wantErr: true},
		{name: "two fields", values: []string{"a", "b"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest("POST", "https://pay.example.com/v1/payment_intents", nil)
			for _, v := range tt.values {
				r.Header.Add("Idempotency-Key", v)
			}
			got, present, err := idempotencyKey(r)
			if (err != nil) != tt.wantErr || got != tt.want || present != tt.present {
				t.Fatalf("got %q, %v, %v; want %q, %v, error %v", got, present, err, tt.want, tt.present, tt.wantErr)
			}
			if tt.wantErr {
				wantError(t, apierror.Resolve(err, 0), http.StatusBadRequest, "idempotency_key_invalid")
			}
		})
	}
}

func TestStripeIdempotencyKeyScope(t *testing.T) {
	base := stripeIdempotencyKey("alice", "payment_intent.create", "k")
	if base != stripeIdempotencyKey("alice", "payment_intent.create", "k") {
		t.Fatal("not deterministic")
	}
	for _, other := range []string{
		stripeIdempotencyKey("bob", "payment_intent.create", "k"),
		stripeIdempotencyKey("alice", "setup_intent.create", "k"),
		stripeIdempotencyKey("alice", "payment_intent.create", "k2"),
		stripeIdempotencyKey("alice\x00payment_intent.create", "", "k"),
	} {
		if other == base {
			t.Errorf("another user, action or key gives the same Stripe key")
		}
	}
	if len(base) > idemkey.MaxLen || customerIdempotencyKey("alice", "") == customerIdempotencyKey("alice", "gen2") {
		t.Error("customer keys do not change with the generation, or a key is too long")
	}
}
