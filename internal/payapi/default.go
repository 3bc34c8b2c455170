package payapi

import "net/http"

// defaultRoutes are paygate's payment API (DESIGN.md, section 3, and the
// README's "payments" section).
var defaultRoutes = []Route{
	{Template: "/v1/payment_intents", ResourceType: "payment_intent",
		Endpoints: []Endpoint{{Method: http.MethodPost, Action: "payment_intent.create", KeyRequired: true}}},
	{Template: "/v1/payment_intents/{id}", ResourceType: "payment_intent", IDPrefix: "pi_",
		Endpoints: []Endpoint{{Method: http.MethodGet, Action: "payment_intent.get"}}},
	{Template: "/v1/payment_intents/{id}/confirm", ResourceType: "payment_intent", IDPrefix: "pi_",
		Endpoints: []Endpoint{{Method: http.MethodPost, Action: "payment_intent.confirm"}}},
	{Template: "/v1/payment_intents/{id}/cancel", ResourceType: "payment_intent", IDPrefix: "pi_",
		Endpoints: []Endpoint{{Method: http.MethodPost, Action: "payment_intent.cancel"}}},
	{Template: "/v1/setup_intents", ResourceType: "setup_intent",
		Endpoints: []Endpoint{{Method: http.MethodPost, Action: "setup_intent.create"}}},
	{Template: "/v1/setup_intents/{id}", ResourceType: "setup_intent", IDPrefix: "seti_",
		Endpoints: []Endpoint{{Method: http.MethodGet, Action: "setup_intent.get"}}},
	{Template: "/v1/payment_methods", ResourceType: "payment_method",
		Endpoints: []Endpoint{{Method: http.MethodGet, Action: "payment_method.list"}}},
	{Template: "/v1/payment_methods/{id}", ResourceType: "payment_method", IDPrefix: "pm_",
		Endpoints: []Endpoint{{Method: http.MethodDelete, Action: "payment_method.detach"}}},
	{Template: "/v1/customers/me", ResourceType: "customer",
		Endpoints: []Endpoint{{Method: http.MethodDelete, Action: "customer.erase"}}},
}

// defaultTable is defaultRoutes, parsed once: a mistake in them stops every
// test and the binary at start.
var defaultTable = mustNew(defaultRoutes)

func mustNew(routes []Route) *Table {
	t, err := New(routes)
	if err != nil {
		panic("payapi: " + err.Error())
	}
	return t
}

// Default returns the table of paygate's payment API.
func Default() *Table { return defaultTable }
