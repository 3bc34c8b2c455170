package payments

import (
	"slices"
	"testing"

	"github.com/paygate/paygate/internal/payapi"
)

// TestEveryEndpointServed: the handler serves each endpoint of the payment
// API's table, and nothing the table does not have.
func TestEveryEndpointServed(t *testing.T) {
	var actions []string
	for _, r := range payapi.Default().Routes() {
		for _, e := range r.Endpoints {
			actions = append(actions, e.Action)
			if endpoints[e.Action] == nil {
				t.Errorf("%s %s (%s) is not served", e.Method, r.Template, e.Action)
			}
		}
	}
	for action := range endpoints {
		if !slices.Contains(actions, action) {
			t.Errorf("%s is served but is no endpoint of the table", action)
		}
	}
}
