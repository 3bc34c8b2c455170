package opaauthz

import (
	"errors"
	"testing"

	"github.com/paygate/paygate/internal/payapi"
)

// TestRouteTable: without routes the policy reads the payment API's table;
// configured routes replace it, parsed by the same code.
func TestRouteTable(t *testing.T) {
	if tab, err := routeTable(nil); err != nil || tab != payapi.Default() {
		t.Errorf("routeTable(nil) = %p, %v; want payapi.Default()", tab, err)
	}
	tab, err := routeTable([]Route{{"/api/orders/{id}", "order"}, {"/api/orders/latest", "order"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path, template, id string
	}{
		{"/api/orders/o_1", "/api/orders/{id}", "o_1"},
		{"/api/orders/latest", "/api/orders/latest", ""},
		{"/v1/payment_intents/pi_1", "", ""},
	} {
		m, err := tab.Match("GET", tt.path)
		if err != nil {
			t.Fatal(err)
		}
		template := ""
		if m.Route != nil {
			template = m.Route.Template
		}
		if template != tt.template || m.ID != tt.id {
			t.Errorf("Match(%s) = %q, %q; want %q, %q", tt.path, template, m.ID, tt.template, tt.id)
		}
	}
	if _, err := tab.Match("GET", "/API/orders"); !errors.Is(err, payapi.ErrAmbiguousPath) {
		t.Errorf("a case variant of a custom route's literal: %v, want ErrAmbiguousPath", err)
	}
	if _, err := routeTable([]Route{{"/api/{id}/{id}", "order"}}); err == nil {
		t.Error("a template with two {id} was accepted")
	}
}
