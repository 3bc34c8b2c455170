package catalog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/strictjson"
)

func TestParse(t *testing.T) {
	product := func(fields string) string { return `{"products":[` + fields + `]}` }
	const ok = `{"sku":"standard_clean","unit_amount":8900,"currency":"usd","description":"Standard cleaning"}`
	tests := []struct {
		name    string
		doc     string
		wantErr string // "" = valid
	}{
		{name: "one product", doc: product(ok)},
		{name: "max amount", doc: product(`{"sku":"a","unit_amount":99999999,"currency":"jpy","description":"x"}`)},
		{name: "not json", doc: `{"products":`, wantErr: "not valid JSON"},
		{name: "trailing data", doc: product(ok) + `{}`, wantErr: "nothing after it"},
		{name: "no products member", doc: `{}`, wantErr: "no products"},
		{name: "empty products", doc: `{"products":[]}`, wantErr: "no products"},
		{name: "unknown top-level member", doc: `{"products":[` + ok + `],"tax":1}`, wantErr: "tax is not a known parameter"},
		{name: "products twice", doc: `{"products":[],"products":[` + ok + `]}`, wantErr: "products is given more than once"},
		{name: "unknown product member", doc: product(`{"sku":"a","unit_amount":1,"currency":"usd","description":"x","tax":1}`), wantErr: "products[0].tax is not a known parameter"},
		{name: "member twice", doc: product(`{"sku":"a","unit_amount":1,"unit_amount":2,"currency":"usd","description":"x"}`), wantErr: "products[0].unit_amount is given more than once"},
		{name: "duplicate sku", doc: product(ok + `,` + ok), wantErr: "listed twice"},
		{name: "missing sku", doc: product(`{"unit_amount":1,"currency":"usd","description":"x"}`), wantErr: "products[0].sku is required"},
		{name: "missing amount", doc: product(`{"sku":"a","currency":"usd","description":"x"}`), wantErr: "products[0].unit_amount is required"},
		{name: "missing currency", doc: product(`{"sku":"a","unit_amount":1,"description":"x"}`), wantErr: "products[0].currency is required"},
		{name: "missing description", doc: product(`{"sku":"a","unit_amount":1,"currency":"usd"}`), wantErr: "products[0].description is required"},
		{name: "uppercase sku", doc: product(`{"sku":"Clean","unit_amount":1,"currency":"usd","description":"x"}`), wantErr: "not a valid sku"},
		{name: "sku too long", doc: product(`{"sku":"` + strings.Repeat("a", 65) + `","unit_amount":1,"currency":"usd","description":"x"}`), wantErr: "not a valid sku"},
		{name: "zero amount", doc: product(`{"sku":"a","unit_amount":0,"currency":"usd","description":"x"}`), wantErr: "must be a positive integer"},
		{name: "negative amount", doc: product(`{"sku":"a","unit_amount":-5,"currency":"usd","description":"x"}`), wantErr: "must be a positive integer"},
		{name: "fractional amount", doc: product(`{"sku":"a","unit_amount":89.5,"currency":"usd","description":"x"}`), wantErr: "must be a positive integer"},
		{name: "exponent amount", doc: product(`{"sku":"a","unit_amount":1e3,"currency":"usd","description":"x"}`), wantErr: "must be a positive integer"},
		{name: "amount above Stripe's limit", doc: product(`{"sku":"a","unit_amount":100000000,"currency":"usd","description":"x"}`), wantErr: "must be a positive integer"},
		{name: "amount as string", doc: product(`{"sku":"a","unit_amount":"8900","currency":"usd","description":"x"}`), wantErr: "must be an integer"},
		{name: "unknown currency", doc: product(`{"sku":"a","unit_amount":1,"currency":"xyz","description":"x"}`), wantErr: "not a known lowercase ISO 4217"},
		{name: "uppercase currency", doc: product(`{"sku":"a","unit_amount":1,"currency":"USD","description":"x"}`), wantErr: "not a known lowercase ISO 4217"},
		{name: "blank description", doc: product(`{"sku":"a","unit_amount":1,"currency":"usd","description":"  "}`), wantErr: "printable"},
		{name: "control character in description", doc: product(`{"sku":"a","unit_amount":1,"currency":"usd","description":"a\nb"}`), wantErr: "printable"},
		{name: "description too long", doc: product(`{"sku":"a","unit_amount":1,"currency":"usd","description":"` + strings.Repeat("é", 201) + `"}`), wantErr: "printable"},
		{name: "products not an array", doc: `{"products":{}}`, wantErr: "products must be an array"},
		{name: "product not an object", doc: `{"products":["a"]}`, wantErr: "products[0] must be an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.doc))
			if tt.wantErr == "" {
				if err != nil || len(c.products) == 0 {
					t.Fatalf("Parse: %v, want a catalog", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Parse: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestLoadShippedCatalog: the catalog the shipped Caddyfile uses is valid.
func TestLoadShippedCatalog(t *testing.T) {
	c, err := Load("../../testdata/catalog/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	p, ok := c.Product("standard_clean")
	if !ok || p.UnitAmount != 8900 || p.Currency != "usd" || p.Description == "" {
		t.Errorf("standard_clean = %+v, %v", p, ok)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, []byte(`{"products":[`+strings.Repeat(" ", maxFileSize)+`]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"products":[{"sku":"a"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, path, want string }{
		{"missing file", filepath.Join(dir, "absent.json"), "no such file"},
		{"too large", big, "larger than"},
		{"invalid", bad, "is required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Load(tt.path); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load: %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := Load(bad); !errors.As(err, new(*strictjson.Error)) {
		t.Errorf("Load of an invalid catalog: %v does not wrap the parser's error", err)
	}
}

func TestPrice(t *testing.T) {
	c, err := Parse([]byte(`{"products":[
		{"sku":"clean","unit_amount":8900,"currency":"usd","description":"Cleaning"},
		{"sku":"oven","unit_amount":2500,"currency":"usd","description":"Oven"},
		{"sku":"big","unit_amount":50000000,"currency":"usd","description":"Big"},
		{"sku":"penny","unit_amount":1,"currency":"usd","description":"Penny"},
		{"sku":"eur_clean","unit_amount":7900,"currency":"eur","description":"Reinigung"}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		lines      []Line
		currency   string
		wantAmount int64
		wantDesc   string
		wantErr    error
		wantLine   int
	}{
		{name: "one line", lines: []Line{{"clean", 1}}, currency: "usd", wantAmount: 8900, wantDesc: "1 x Cleaning"},
		{name: "sum of lines", lines: []Line{{"clean", 2}, {"oven", 1}}, currency: "usd", wantAmount: 20300, wantDesc: "2 x Cleaning, 1 x Oven"},
		{name: "same sku twice", lines: []Line{{"oven", 1}, {"oven", 3}}, currency: "usd", wantAmount: 10000, wantDesc: "1 x Oven, 3 x Oven"},
		{name: "exactly the maximum", lines: []Line{{"big", 1}, {"penny", 49999999}}, currency: "usd", wantAmount: MaxAmount, wantDesc: "1 x Big, 49999999 x Penny"},
		{name: "one above the maximum", lines: []Line{{"big", 1}, {"penny", 50000000}}, currency: "usd", wantErr: ErrAmountTooLarge},
		{name: "two lines over the maximum", lines: []Line{{"big", 1}, {"big", 1}}, currency: "usd", wantErr: ErrAmountTooLarge},
		{name: "quantity that would overflow int64", lines: []Line{{"big", 1 << 62}}, currency: "usd", wantErr: ErrAmountTooLarge},
		{name: "unknown sku", lines: []Line{{"clean", 1}, {"nope", 1}}, currency: "usd", wantErr: ErrUnknownSKU, wantLine: 1},
		{name: "zero quantity", lines: []Line{{"clean", 0}}, currency: "usd", wantErr: errAny, wantLine: 0},
		{name: "mixed currencies", lines: []Line{{"clean", 1}, {"eur_clean", 1}}, currency: "usd", wantErr: ErrMixedCurrencies},
		{name: "currency mismatch", lines: []Line{{"eur_clean", 1}}, currency: "usd", wantErr: ErrCurrencyMismatch},
		{name: "no lines", currency: "usd", wantErr: ErrEmptyOrder},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := c.Price(tt.lines, tt.currency)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Price: %v", err)
				}
				if q.Amount != tt.wantAmount || q.Currency != tt.currency || q.Description != tt.wantDesc {
					t.Errorf("Price = %+v, want amount %d, currency %s, description %q", q, tt.wantAmount, tt.currency, tt.wantDesc)
				}
				return
			}
			if err == nil {
				t.Fatalf("Price = %+v, want an error", q)
			}
			if tt.wantErr != errAny && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Price: %v, want %v", err, tt.wantErr)
			}
			var le *LineError
			if (tt.wantErr == ErrUnknownSKU || tt.wantErr == errAny) && (!errors.As(err, &le) || le.Line != tt.wantLine) {
				t.Errorf("Price: %v, want a LineError for line %d", err, tt.wantLine)
			}
		})
	}
}

// errAny stands for "some error" in TestPrice.
var errAny = errors.New("any error")

func TestPriceDescriptionBounded(t *testing.T) {
	long := strings.Repeat("ü", 200)
	c, err := Parse([]byte(`{"products":[{"sku":"a","unit_amount":1,"currency":"usd","description":"` + long + `"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	lines := make([]Line, 20)
	for i := range lines {
		lines[i] = Line{"a", 1}
	}
	q, err := c.Price(lines, "usd")
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Description) > maxDescription || !strings.HasPrefix(q.Description, "1 x ü") || !utf8Valid(q.Description) {
		t.Errorf("description of %d bytes, valid UTF-8 %v; want at most %d", len(q.Description), utf8Valid(q.Description), maxDescription)
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestValidSKU(t *testing.T) {
	for sku, want := range map[string]bool{
		"standard_clean": true, "a": true, "9.x-y_z": true, strings.Repeat("a", 64): true,
		"": false, "_a": false, "Standard": false, "a b": false, "a<x>": false, strings.Repeat("a", 65): false, "a\n": false,
	} {
		if got := ValidSKU(sku); got != want {
			t.Errorf("ValidSKU(%q) = %v, want %v", sku, got, want)
		}
	}
}
