package cardscan

import (
	"strings"
	"testing"
)

// jsonBody builds a JSON request body of about size bytes; with a card
// number, it is in its last object.
func jsonBody(size int, withCard bool) []byte {
	const item = `{"sku":"cleaning-2h","quantity":2,"reference":"ORD-2024-000123","payment_method":"pm_1NvZQa2eZvKYlo2CnLtoMzIo","created":1700000000000,"phone":"+1 415 555 2671","id":"123e4567-e89b-12d3-a456-426614174000"},`
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for b.Len() < size-100 {
		b.WriteString(item)
	}
	if withCard {
		b.WriteString(`{"card":{"number":"4242 4242 4242 4242","cvc":"123"}}`)
	} else {
		b.WriteString(`{"currency":"usd"}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func BenchmarkScan(b *testing.B) {
	for _, bc := range []struct {
		name     string
		size     int
		withCard bool
	}{
		{"json_1KB_clean", 1 << 10, false},
		{"json_1KB_card", 1 << 10, true},
		{"json_64KB_clean", 64 << 10, false},
		{"json_64KB_card", 64 << 10, true},
	} {
		body := jsonBody(bc.size, bc.withCard)
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var s Scanner
				_, _ = s.Write(body)
				_ = s.Close()
				if s.Found() != bc.withCard {
					b.Fatalf("Found = %v", s.Found())
				}
			}
		})
	}
}
