package payapi

import (
	"net/http"

	"github.com/paygate/paygate/internal/apierror"
)

// errMethodNotAllowed is the 405 for a method the route does not take.
var errMethodNotAllowed = apierror.New(http.StatusMethodNotAllowed, apierror.TypeInvalidRequest, "method_not_allowed",
	"This method is not allowed here.")

// ErrMethodNotImplemented is the 501 for a method the API does not know
// (see Table.Known).
var ErrMethodNotImplemented = apierror.New(http.StatusNotImplemented, apierror.TypeInvalidRequest, "method_not_implemented",
	"This method is not supported.")

// MethodNotAllowed is the 405 for a request to a route with a method it
// does not take: its Allow header lists those allow names.
func MethodNotAllowed(allow string) *apierror.Error {
	return errMethodNotAllowed.WithHeader("Allow", allow)
}
