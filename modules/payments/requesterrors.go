package payments

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/catalog"
	"github.com/paygate/paygate/internal/strictjson"
)

// requestError turns a refusal of the body parser or of the catalog's
// pricing into a 400 whose message names the field. Messages are built only
// from field names paygate knows and fixed reasons: the client's values are
// never echoed.
func requestError(err error) *apierror.Error {
	bad := func(code, msg string) *apierror.Error {
		return apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, code, msg).WithCause(err)
	}
	var se *strictjson.Error
	var le *catalog.LineError
	switch {
	case errors.As(err, &se):
		if se.Path == "" {
			return bad(kindCode[se.Kind], "The request body "+se.Reason+".")
		}
		return bad(kindCode[se.Kind], se.Path+" "+se.Reason+".")
	case errors.As(err, &le) && errors.Is(err, catalog.ErrUnknownSKU):
		return bad("parameter_invalid", fmt.Sprintf("items[%d].sku is not a product of the catalog.", le.Line))
	case errors.Is(err, catalog.ErrMixedCurrencies):
		return bad("parameter_invalid", "items must all be priced in one currency.")
	case errors.Is(err, catalog.ErrCurrencyMismatch):
		return bad("parameter_invalid", "currency does not match the currency of the items.")
	case errors.Is(err, catalog.ErrAmountTooLarge):
		return bad("amount_too_large", fmt.Sprintf("items add up to more than %d, the largest amount of one payment.", catalog.MaxAmount))
	}
	return bad("parameter_invalid", "items are not valid.")
}

// kindCode is the error code of each kind of body refusal.
var kindCode = map[strictjson.Kind]string{
	strictjson.Malformed: "body_invalid",
	strictjson.Unknown:   "parameter_unknown",
	strictjson.Duplicate: "parameter_duplicate",
	strictjson.WrongType: "parameter_invalid",
	strictjson.Invalid:   "parameter_invalid",
	strictjson.Missing:   "parameter_missing",
}
