// Package catalog is the server's price list: what a customer can pay for
// and what it costs. Amounts charged come only from here, never from a
// request. The catalog is a JSON file, loaded and validated once when the
// configuration is provisioned:
//
//	{
//	  "products": [
//	    {"sku": "standard_clean", "unit_amount": 8900, "currency": "usd",
//	     "description": "Standard cleaning, 2 hours"}
//	  ]
//	}
//
// unit_amount is in the currency's minor unit (cents for usd), as Stripe
// counts it.
package catalog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"unicode"

	"github.com/paygate/paygate/internal/strictjson"
)

// MaxAmount is the largest amount Stripe accepts for one payment, in minor
// units (eight digits). No product and no order total may exceed it.
const MaxAmount = 99_999_999

// Limits of a catalog file.
const (
	maxFileSize       = 1 << 20
	maxProducts       = 10_000
	maxDescriptionLen = 200
)

// skuPattern is what a SKU looks like: it appears in store-free places only
// (requests, Stripe descriptions), but a tight alphabet keeps it harmless
// anywhere.
var skuPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// ValidSKU reports whether sku looks like a SKU: 1 to 64 lowercase letters,
// digits, '_', '.' and '-', starting with a letter or a digit. The catalog
// holds only such SKUs, and a request naming anything else is refused
// before the catalog is asked.
func ValidSKU(sku string) bool {
	return skuPattern.MatchString(sku)
}

// Product is one thing a customer can pay for.
type Product struct {
	// SKU identifies the product in requests.
	SKU string
	// UnitAmount is the price of one unit in the currency's minor unit.
	UnitAmount int64
	// Currency is a lowercase ISO 4217 code.
	Currency string
	// Description is shown on the payment (Stripe's description).
	Description string
}

// Catalog is a validated price list. It is read-only after Parse.
type Catalog struct {
	products map[string]Product
}

// Load reads and validates the catalog file at path.
func Load(path string) (*Catalog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("catalog %s: larger than %d bytes", path, maxFileSize)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	return c, nil
}

// Parse validates a catalog document: every product has a SKU (unique,
// lowercase letters, digits, '_', '.', '-', at most 64), a positive integer
// unit_amount of at most MaxAmount, a known lowercase ISO 4217 currency and
// a description of 1 to 200 printable characters; nothing else is allowed.
func Parse(data []byte) (*Catalog, error) {
	d := strictjson.NewDecoder(data)
	c := &Catalog{products: make(map[string]Product)}
	found := false
	err := d.Object("", func(name string) error {
		if name != "products" {
			return d.Unknown("", name)
		}
		found = true
		return d.Array("products", maxProducts, func(i int) error {
			p, err := parseProduct(d, strictjson.Index("products", i))
			if err != nil {
				return err
			}
			if _, dup := c.products[p.SKU]; dup {
				return fmt.Errorf("products[%d]: sku %q is listed twice", i, p.SKU)
			}
			c.products[p.SKU] = p
			return nil
		})
	})
	if err == nil {
		err = d.End()
	}
	if err != nil {
		return nil, err
	}
	if !found || len(c.products) == 0 {
		return nil, errors.New("no products")
	}
	return c, nil
}

func parseProduct(d *strictjson.Decoder, path string) (Product, error) {
	var p Product
	err := d.Object(path, func(name string) error {
		field := strictjson.Join(path, name)
		var err error
		switch name {
		case "sku":
			p.SKU, err = d.String(field)
			if err == nil && !ValidSKU(p.SKU) {
				err = fmt.Errorf("%s: %q is not a valid sku (lowercase letters, digits, '_', '.', '-'; at most 64)", field, p.SKU)
			}
		case "unit_amount":
			p.UnitAmount, err = d.PositiveInt(field, MaxAmount)
		case "currency":
			p.Currency, err = d.String(field)
			if err == nil && !KnownCurrency(p.Currency) {
				err = fmt.Errorf("%s: %q is not a known lowercase ISO 4217 currency", field, p.Currency)
			}
		case "description":
			p.Description, err = d.String(field)
			if err == nil && !validDescription(p.Description) {
				err = fmt.Errorf("%s: must be 1 to %d printable characters", field, maxDescriptionLen)
			}
		default:
			err = d.Unknown(path, name)
		}
		return err
	})
	if err != nil {
		return Product{}, err
	}
	for _, f := range []struct {
		name string
		set  bool
	}{{"sku", p.SKU != ""}, {"unit_amount", p.UnitAmount != 0}, {"currency", p.Currency != ""}, {"description", p.Description != ""}} {
		if !f.set {
			return Product{}, &strictjson.Error{Kind: strictjson.Missing, Path: strictjson.Join(path, f.name), Reason: "is required"}
		}
	}
	return p, nil
}

func validDescription(s string) bool {
	n := 0
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
		n++
	}
	return n > 0 && n <= maxDescriptionLen && strings.TrimSpace(s) != ""
}

// Product returns the product with sku.
func (c *Catalog) Product(sku string) (Product, bool) {
	p, ok := c.products[sku]
	return p, ok
}
