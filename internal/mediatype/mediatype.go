// Package mediatype is the one rule for what a JSON request body's
// Content-Type must say, shared by the request guard and the payment
// handler: exactly one header, application/json, with no parameter or
// charset=utf-8 (in any case). Anything else (charset=utf-16, a second
// Content-Type, text/plain) could be decoded differently by paygate and by
// the application behind it.
package mediatype

import (
	"fmt"
	"mime"
	"strings"
)

// CheckJSON returns an error saying why the Content-Type header values do
// not describe a UTF-8 JSON body, or nil when they do.
func CheckJSON(values []string) error {
	if len(values) != 1 {
		return fmt.Errorf("%d Content-Type headers", len(values))
	}
	mediaType, params, err := mime.ParseMediaType(values[0])
	if err != nil {
		return fmt.Errorf("Content-Type: %w", err)
	}
	if mediaType != "application/json" {
		return fmt.Errorf("media type %q", mediaType)
	}
	for name, value := range params {
		if name != "charset" || !strings.EqualFold(value, "utf-8") {
			return fmt.Errorf("media type parameter %s=%q", name, value)
		}
	}
	return nil
}
