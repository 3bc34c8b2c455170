package opaauthz

import (
	"github.com/paygate/paygate/internal/payapi"
)

// Route maps a path template of a custom API to the type of resource it
// addresses.
type Route struct {
	// Template is an absolute path whose segments are literals or "{id}",
	// the ID of the resource the request addresses (at most one per
	// template), e.g. "/v1/payment_intents/{id}/confirm". Literals are
	// lower-case. A request path matches a template with the same number of
	// segments whose literals are equal; a template without "{id}" wins over
	// one with it. Required.
	Template string `json:"template"`

	// ResourceType is the type of resource the route acts on, e.g.
	// "payment_intent" (lower-case letters, digits and '_'); it is
	// input.route.resource_type and input.resource.type. Required.
	ResourceType string `json:"resource_type"`
}

// routeTable parses the configured routes with the payment API's own
// parser (internal/payapi), or returns the payment API's table when none
// are configured.
func routeTable(routes []Route) (*payapi.Table, error) {
	if len(routes) == 0 {
		return payapi.Default(), nil
	}
	parsed := make([]payapi.Route, len(routes))
	for i, r := range routes {
		parsed[i] = payapi.Route{Template: r.Template, ResourceType: r.ResourceType}
	}
	return payapi.New(parsed)
}
