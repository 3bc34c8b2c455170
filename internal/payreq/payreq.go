// Package payreq parses the bodies of the payment API's requests strictly
// (see internal/strictjson): only the members listed for each request are
// accepted, each once and of its type. Whatever else a client sends (an
// amount, a customer, a fee, a transfer, on_behalf_of, metadata) is refused,
// so it can never reach Stripe. Amounts are not here: the server computes
// them from the catalog.
package payreq

import (
	"regexp"

	"github.com/paygate/paygate/internal/catalog"
	"github.com/paygate/paygate/internal/strictjson"
)

// Limits of a request.
const (
	// MaxItems is the most lines one payment may have.
	MaxItems = 20
	// MaxQuantity is the largest quantity of one line; the total is
	// bounded by catalog.MaxAmount anyway.
	MaxQuantity = catalog.MaxAmount
)

var (
	currencyPattern      = regexp.MustCompile(`^[a-z]{3}$`)
	referencePattern     = regexp.MustCompile(`^[A-Za-z0-9_.:/#-]{1,64}$`)
	paymentMethodPattern = regexp.MustCompile(`^pm_[A-Za-z0-9_]{1,250}$`)
)

// CreatePaymentIntent is the body of POST /v1/payment_intents.
type CreatePaymentIntent struct {
	// Items are the order's lines (1 to MaxItems).
	Items []catalog.Line
	// Currency is what the client expects to pay in; it must match the
	// catalog's currency of the items.
	Currency string
	// Reference is the client's own order reference (1 to 64 of letters,
	// digits and "_.:/#-"), kept in the payment's metadata.
	Reference string
	// PaymentMethod is an optional pm_ ID to attach to the payment.
	PaymentMethod string
}

// ParseCreatePaymentIntent parses
//
//	{"items":[{"sku":"...","quantity":N}], "currency":"usd", "reference":"...", "payment_method":"pm_..."}
//
// where payment_method is optional and everything else required.
func ParseCreatePaymentIntent(body []byte) (CreatePaymentIntent, error) {
	var req CreatePaymentIntent
	d := strictjson.NewDecoder(body)
	seen := make(map[string]bool)
	err := d.Object("", func(name string) error {
		seen[name] = true
		var err error
		switch name {
		case "items":
			err = d.Array("items", MaxItems, func(i int) error {
				line, err := parseLine(d, strictjson.Index("items", i))
				req.Items = append(req.Items, line)
				return err
			})
		case "currency":
			req.Currency, err = match(d, "currency", currencyPattern.MatchString, "must be a lowercase ISO 4217 currency code")
		case "reference":
			req.Reference, err = match(d, "reference", referencePattern.MatchString, "must be 1 to 64 letters, digits or _ . : / # -")
		case "payment_method":
			req.PaymentMethod, err = paymentMethod(d)
		default:
			err = d.Unknown("", name)
		}
		return err
	})
	if err == nil {
		err = d.End()
	}
	if err == nil {
		err = required(seen, "", "items", "currency", "reference")
	}
	if err == nil && len(req.Items) == 0 {
		err = &strictjson.Error{Kind: strictjson.Invalid, Path: "items", Reason: "must list at least one item"}
	}
	if err != nil {
		return CreatePaymentIntent{}, err
	}
	return req, nil
}

func parseLine(d *strictjson.Decoder, path string) (catalog.Line, error) {
	var line catalog.Line
	seen := make(map[string]bool)
	err := d.Object(path, func(name string) error {
		seen[name] = true
		var err error
		switch name {
		case "sku":
			line.SKU, err = match(d, strictjson.Join(path, "sku"), catalog.ValidSKU, "must be a product SKU")
		case "quantity":
			line.Quantity, err = d.PositiveInt(strictjson.Join(path, "quantity"), MaxQuantity)
		default:
			err = d.Unknown(path, name)
		}
		return err
	})
	if err == nil {
		err = required(seen, path, "sku", "quantity")
	}
	return line, err
}

// ConfirmPaymentIntent is the body of POST /v1/payment_intents/{id}/confirm.
type ConfirmPaymentIntent struct {
	// PaymentMethod is the pm_ ID to pay with; empty keeps the one the
	// intent already has.
	PaymentMethod string
}

// ParseConfirmPaymentIntent parses {"payment_method":"pm_..."}; an empty
// body or {} confirms with the payment method the intent already has.
func ParseConfirmPaymentIntent(body []byte) (ConfirmPaymentIntent, error) {
	var req ConfirmPaymentIntent
	if len(body) == 0 {
		return req, nil
	}
	d := strictjson.NewDecoder(body)
	err := d.Object("", func(name string) error {
		if name != "payment_method" {
			return d.Unknown("", name)
		}
		var err error
		req.PaymentMethod, err = paymentMethod(d)
		return err
	})
	if err == nil {
		err = d.End()
	}
	if err != nil {
		return ConfirmPaymentIntent{}, err
	}
	return req, nil
}

// ParseEmpty accepts an empty body or an empty object: the requests that
// take no parameters (cancel, setup intent creation) refuse any.
func ParseEmpty(body []byte) error {
	if len(body) == 0 {
		return nil
	}
	d := strictjson.NewDecoder(body)
	err := d.Object("", func(name string) error { return d.Unknown("", name) })
	if err != nil {
		return err
	}
	return d.End()
}

func paymentMethod(d *strictjson.Decoder) (string, error) {
	return match(d, "payment_method", paymentMethodPattern.MatchString, "must be a payment method ID (pm_...)")
}

// match reads a string at path that valid must accept.
func match(d *strictjson.Decoder, path string, valid func(string) bool, reason string) (string, error) {
	s, err := d.String(path)
	if err != nil {
		return "", err
	}
	if !valid(s) {
		return "", &strictjson.Error{Kind: strictjson.Invalid, Path: path, Reason: reason}
	}
	return s, nil
}

// required reports the first of names that seen lacks.
func required(seen map[string]bool, path string, names ...string) error {
	for _, n := range names {
		if !seen[n] {
			return &strictjson.Error{Kind: strictjson.Missing, Path: strictjson.Join(path, n), Reason: "is required"}
		}
	}
	return nil
}
