package catalog

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Refusals of Price.
var (
	// ErrUnknownSKU: a line names no product of the catalog (wrapped in a
	// *LineError).
	ErrUnknownSKU = errors.New("unknown sku")
	// ErrMixedCurrencies: the products of one order are priced in more than
	// one currency.
	ErrMixedCurrencies = errors.New("items are priced in more than one currency")
	// ErrCurrencyMismatch: the currency the client expects is not the one
	// the products are priced in.
	ErrCurrencyMismatch = errors.New("currency does not match the items")
	// ErrAmountTooLarge: the total exceeds MaxAmount.
	ErrAmountTooLarge = errors.New("total exceeds the largest amount Stripe accepts")
	// ErrEmptyOrder: no lines.
	ErrEmptyOrder = errors.New("no items")
)

// maxDescription bounds the description Price builds (Stripe's limit for a
// payment's description).
const maxDescription = 1000

// Line is one line of an order: a product and how many of it.
type Line struct {
	SKU      string
	Quantity int64
}

// LineError is a refusal caused by one line of an order.
type LineError struct {
	// Line is the index of the line.
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Unwrap returns the reason.
func (e *LineError) Unwrap() error { return e.Err }

// Quote is what an order costs, computed from the catalog alone.
type Quote struct {
	// Amount is the total in the currency's minor unit.
	Amount int64
	// Currency is the lowercase ISO 4217 code of every line.
	Currency string
	// Description lists the lines, e.g. "2 x Standard cleaning, 1 x Oven".
	Description string
}

// Price computes the total of lines, which must all be priced in currency
// (what the client expects to pay in). Quantities must be positive; the
// total must not exceed MaxAmount, and its computation cannot overflow.
func (c *Catalog) Price(lines []Line, currency string) (Quote, error) {
	if len(lines) == 0 {
		return Quote{}, ErrEmptyOrder
	}
	var q Quote
	parts := make([]string, len(lines))
	for i, l := range lines {
		p, ok := c.products[l.SKU]
		if !ok {
			return Quote{}, &LineError{Line: i, Err: ErrUnknownSKU}
		}
		if l.Quantity < 1 {
			return Quote{}, &LineError{Line: i, Err: fmt.Errorf("quantity %d is not positive", l.Quantity)}
		}
		switch {
		case q.Currency == "":
			q.Currency = p.Currency
		case p.Currency != q.Currency:
			return Quote{}, ErrMixedCurrencies
		}
		// Both factors are positive and the running total is at most
		// MaxAmount, so this check cannot overflow and keeps the sum in
		// bounds.
		if l.Quantity > (MaxAmount-q.Amount)/p.UnitAmount {
			return Quote{}, ErrAmountTooLarge
		}
		q.Amount += l.Quantity * p.UnitAmount
		parts[i] = fmt.Sprintf("%d x %s", l.Quantity, p.Description)
	}
	if q.Currency != currency {
		return Quote{}, ErrCurrencyMismatch
	}
	q.Description = truncate(strings.Join(parts, ", "), maxDescription)
	return q, nil
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
