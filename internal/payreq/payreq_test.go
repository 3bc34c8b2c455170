package payreq

import (
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/catalog"
	"github.com/paygate/paygate/internal/strictjson"
)

const validCreate = `{"items":[{"sku":"standard_clean","quantity":2},{"sku":"oven_addon","quantity":1}],"currency":"usd","reference":"booking-42"}`

func TestParseCreatePaymentIntent(t *testing.T) {
	want := CreatePaymentIntent{
		Items:     []catalog.Line{{SKU: "standard_clean", Quantity: 2}, {SKU: "oven_addon", Quantity: 1}},
		Currency:  "usd",
		Reference: "booking-42",
	}
	got, err := ParseCreatePaymentIntent([]byte(validCreate))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
	withPM := `{"payment_method":"pm_card_visa","items":[{"quantity":1,"sku":"a"}],"reference":"r","currency":"eur"}`
	got, err = ParseCreatePaymentIntent([]byte(withPM))
	if err != nil || got.PaymentMethod != "pm_card_visa" || got.Currency != "eur" || got.Items[0] != (catalog.Line{SKU: "a", Quantity: 1}) {
		t.Fatalf("with payment_method: got %+v, %v", got, err)
	}
}

// TestParseCreatePaymentIntentRejects lists every refusal: each names the
// field and never echoes the client's value.
func TestParseCreatePaymentIntentRejects(t *testing.T) {
	items := `"items":[{"sku":"a","quantity":1}]`
	rest := `"currency":"usd","reference":"r"`
	body := func(extra string) string { return "{" + items + "," + rest + extra + "}" }
	tests := []struct {
		name     string
		body     string
		kind     strictjson.Kind
		path     string
		notInMsg string // a client value that must not appear in the error
	}{
		{name: "empty body", body: ``, kind: strictjson.Malformed},
		{name: "not json", body: `items=1`, kind: strictjson.Malformed},
		{name: "array body", body: `[]`, kind: strictjson.WrongType},
		{name: "null body", body: `null`, kind: strictjson.WrongType},
		{name: "truncated", body: `{"items":[{"sku":"a"`, kind: strictjson.Malformed, path: "items[0]"},
		{name: "trailing document", body: body("") + `{"amount":1}`, kind: strictjson.Malformed},
		{name: "amount", body: body(`,"amount":100`), kind: strictjson.Unknown, path: "amount"},
		{name: "customer", body: body(`,"customer":"cus_victim"`), kind: strictjson.Unknown, path: "customer", notInMsg: "cus_victim"},
		{name: "application_fee_amount", body: body(`,"application_fee_amount":1`), kind: strictjson.Unknown, path: "application_fee_amount"},
		{name: "transfer_data", body: body(`,"transfer_data":{"destination":"acct_evil"}`), kind: strictjson.Unknown, path: "transfer_data", notInMsg: "acct_evil"},
		{name: "on_behalf_of", body: body(`,"on_behalf_of":"acct_evil"`), kind: strictjson.Unknown, path: "on_behalf_of", notInMsg: "acct_evil"},
		{name: "metadata", body: body(`,"metadata":{"paygate_user":"admin"}`), kind: strictjson.Unknown, path: "metadata", notInMsg: "admin"},
		{name: "unknown name with digits is not echoed", body: body(`,"4242424242424242":1`), kind: strictjson.Unknown, path: "", notInMsg: "4242"},
		{name: "unknown name with markup is not echoed", body: body(`,"<script>":1`), kind: strictjson.Unknown, path: "", notInMsg: "script"},
		{name: "amount in an item", body: `{"items":[{"sku":"a","quantity":1,"unit_amount":1}],` + rest + `}`, kind: strictjson.Unknown, path: "items[0].unit_amount"},
		{name: "duplicate items", body: `{` + items + `,` + items + `,` + rest + `}`, kind: strictjson.Duplicate, path: "items"},
		{name: "duplicate currency", body: body(`,"currency":"eur"`), kind: strictjson.Duplicate, path: "currency"},
		{name: "duplicate quantity", body: `{"items":[{"sku":"a","quantity":1,"quantity":1000}],` + rest + `}`, kind: strictjson.Duplicate, path: "items[0].quantity"},
		{name: "duplicate unknown name", body: body(`,"Zz9":1,"Zz9":2`), kind: strictjson.Unknown, path: ""},
		{name: "missing items", body: `{` + rest + `}`, kind: strictjson.Missing, path: "items"},
		{name: "missing currency", body: `{` + items + `,"reference":"r"}`, kind: strictjson.Missing, path: "currency"},
		{name: "missing reference", body: `{` + items + `,"currency":"usd"}`, kind: strictjson.Missing, path: "reference"},
		{name: "missing sku", body: `{"items":[{"quantity":1}],` + rest + `}`, kind: strictjson.Missing, path: "items[0].sku"},
		{name: "missing quantity", body: `{"items":[{"sku":"a"}],` + rest + `}`, kind: strictjson.Missing, path: "items[0].quantity"},
		{name: "no items", body: `{"items":[],` + rest + `}`, kind: strictjson.Invalid, path: "items"},
		{name: "too many items", body: `{"items":[` + strings.Repeat(`{"sku":"a","quantity":1},`, MaxItems) + `{"sku":"a","quantity":1}],` + rest + `}`, kind: strictjson.Invalid, path: "items"},
		{name: "items not an array", body: `{"items":{"sku":"a"},` + rest + `}`, kind: strictjson.WrongType, path: "items"},
		{name: "item not an object", body: `{"items":["a"],` + rest + `}`, kind: strictjson.WrongType, path: "items[0]"},
		{name: "quantity zero", body: `{"items":[{"sku":"a","quantity":0}],` + rest + `}`, kind: strictjson.Invalid, path: "items[0].quantity"},
		{name: "quantity negative", body: `{"items":[{"sku":"a","quantity":-1}],` + rest + `}`, kind: strictjson.Invalid, path: "items[0].quantity"},
		{name: "quantity fractional", body: `{"items":[{"sku":"a","quantity":1.5}],` + rest + `}`, kind: strictjson.Invalid, path: "items[0].quantity"},
		{name: "quantity 1.0", body: `{"items":[{"sku":"a","quantity":1.0}],` + rest + `}`, kind: strictjson.Invalid, path: "items[0].quantity"},
		{name: "quantity exponent", body: `{"items":[{"sku":"a","quantity":1e2}],` + rest + `}`, kind: strictjson.Invalid, path: "items[0].quantity"},
		{name: "quantity huge", body: `{"items":[{"sku":"a","quantity":123456789012345678901234567890}],` + rest + `}`, kind: strictjson.Invalid, path: "items[0].quantity", notInMsg: "1234567890"},
		{name: "quantity above the maximum", body: `{"items":[{"sku":"a","quantity":100000000}],` + rest + `}`, kind: strictjson.Invalid, path: "items[0].quantity"},
		{name: "quantity as string", body: `{"items":[{"sku":"a","quantity":"2"}],` + rest + `}`, kind: strictjson.WrongType, path: "items[0].quantity"},
		{name: "quantity null", body: `{"items":[{"sku":"a","quantity":null}],` + rest + `}`, kind: strictjson.WrongType, path: "items[0].quantity"},
		{name: "sku as number", body: `{"items":[{"sku":5,"quantity":1}],` + rest + `}`, kind: strictjson.WrongType, path: "items[0].sku"},
		{name: "sku malformed", body: `{"items":[{"sku":"A B<x>","quantity":1}],` + rest + `}`, kind: strictjson.Invalid, path: "items[0].sku", notInMsg: "<x>"},
		{name: "currency uppercase", body: `{` + items + `,"currency":"USD","reference":"r"}`, kind: strictjson.Invalid, path: "currency", notInMsg: "USD"},
		{name: "currency as object", body: `{` + items + `,"currency":{"code":"usd"},"reference":"r"}`, kind: strictjson.WrongType, path: "currency"},
		{name: "reference too long", body: `{` + items + `,"currency":"usd","reference":"` + strings.Repeat("r", 65) + `"}`, kind: strictjson.Invalid, path: "reference"},
		{name: "reference with spaces", body: `{` + items + `,"currency":"usd","reference":"my secret 4242"}`, kind: strictjson.Invalid, path: "reference", notInMsg: "secret"},
		{name: "payment_method not pm", body: body(`,"payment_method":"card_123"`), kind: strictjson.Invalid, path: "payment_method", notInMsg: "card_123"},
		{name: "payment_method as number", body: body(`,"payment_method":4242424242424242`), kind: strictjson.WrongType, path: "payment_method", notInMsg: "4242"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCreatePaymentIntent([]byte(tt.body))
			var se *strictjson.Error
			if !errors.As(err, &se) {
				t.Fatalf("got %+v, %v; want a strictjson error", got, err)
			}
			if se.Kind != tt.kind || se.Path != tt.path {
				t.Errorf("error %q: kind %d path %q, want kind %d path %q", err, se.Kind, se.Path, tt.kind, tt.path)
			}
			if tt.notInMsg != "" && strings.Contains(err.Error(), tt.notInMsg) {
				t.Errorf("error %q echoes the client's %q", err, tt.notInMsg)
			}
		})
	}
}

func TestParseConfirmPaymentIntent(t *testing.T) {
	for _, tt := range []struct {
		name, body, wantPM string
		wantErr            bool
	}{
		{name: "empty body", body: ""},
		{name: "empty object", body: "{}"},
		{name: "payment method", body: `{"payment_method":"pm_123"}`, wantPM: "pm_123"},
		{name: "amount", body: `{"payment_method":"pm_123","amount":1}`, wantErr: true},
		{name: "return_url", body: `{"return_url":"https://evil.example"}`, wantErr: true},
		{name: "duplicate", body: `{"payment_method":"pm_1","payment_method":"pm_2"}`, wantErr: true},
		{name: "bad id", body: `{"payment_method":"pm_"}`, wantErr: true},
		{name: "not json", body: `pm_123`, wantErr: true},
		{name: "trailing", body: `{}{}`, wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfirmPaymentIntent([]byte(tt.body))
			if (err != nil) != tt.wantErr || got.PaymentMethod != tt.wantPM {
				t.Fatalf("got %+v, %v; want pm %q, error %v", got, err, tt.wantPM, tt.wantErr)
			}
		})
	}
}

func TestParseEmpty(t *testing.T) {
	for _, tt := range []struct {
		body    string
		wantErr bool
	}{
		{"", false}, {"{}", false}, {" { } ", false},
		{`{"cancellation_reason":"fraudulent"}`, true}, {"[]", true}, {"null", true}, {"{} x", true},
	} {
		if err := ParseEmpty([]byte(tt.body)); (err != nil) != tt.wantErr {
			t.Errorf("ParseEmpty(%q) = %v, want error %v", tt.body, err, tt.wantErr)
		}
	}
}

// safePath is what an error's path may look like: known names, indices.
var safePath = regexp.MustCompile(`^([a-z][a-z_]*(\[[0-9]+\])*(\.[a-z][a-z_]*(\[[0-9]+\])*)*)?$`)

func FuzzParseCreatePaymentIntent(f *testing.F) {
	for _, seed := range []string{
		validCreate,
		`{"items":[{"sku":"a","quantity":1}],"currency":"usd","reference":"r","payment_method":"pm_x"}`,
		`{"items":[{"sku":"a","quantity":1}],"currency":"usd","reference":"r","amount":1}`,
		`{"items":[{"sku":"a","quantity":1,"quantity":2}],"currency":"usd","reference":"r"}`,
		`{"items":[{"sku":"a","quantity":1.5}],"currency":"usd","reference":"r"}`,
		`{"items":[[[[[]]]]],"currency":"usd"}`,
		`{"\u0000":1}`,
		`{"items":[{"sku":"a","quantity":99999999999999999999}]}`,
		``, `[`, `{"items":`, "{\"items\":[{\"sku\":\"\xff\",\"quantity\":1}]}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseCreatePaymentIntent(body)
		if err != nil {
			var se *strictjson.Error
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a strictjson error", err)
			}
			if !safePath.MatchString(se.Path) {
				t.Fatalf("error path %q may carry client text", se.Path)
			}
			return
		}
		if len(req.Items) == 0 || len(req.Items) > MaxItems || !currencyPattern.MatchString(req.Currency) || !referencePattern.MatchString(req.Reference) {
			t.Fatalf("accepted an invalid request: %+v", req)
		}
		if req.PaymentMethod != "" && !paymentMethodPattern.MatchString(req.PaymentMethod) {
			t.Fatalf("accepted payment method %q", req.PaymentMethod)
		}
		for _, l := range req.Items {
			if l.Quantity < 1 || l.Quantity > MaxQuantity || !catalog.ValidSKU(l.SKU) {
				t.Fatalf("accepted line %+v", l)
			}
		}
	})
}
