// Package all blank-imports every paygate module; a custom Caddy build
// (cmd/paygate, or xcaddy --with github.com/paygate/paygate) imports it.
package all

import (
	_ "github.com/paygate/paygate/modules/apimethods"
	_ "github.com/paygate/paygate/modules/apiresponse"
	_ "github.com/paygate/paygate/modules/carddataguard"
	_ "github.com/paygate/paygate/modules/health"
	_ "github.com/paygate/paygate/modules/idempotency"
	_ "github.com/paygate/paygate/modules/jwtauth"
	_ "github.com/paygate/paygate/modules/opaauthz"
	_ "github.com/paygate/paygate/modules/paygateapp"
	_ "github.com/paygate/paygate/modules/paygateerror"
	_ "github.com/paygate/paygate/modules/payments"
	_ "github.com/paygate/paygate/modules/ratelimit"
	_ "github.com/paygate/paygate/modules/redactencoder"
	_ "github.com/paygate/paygate/modules/requestguard"
	_ "github.com/paygate/paygate/modules/securityheaders"
	_ "github.com/paygate/paygate/modules/stripewebhook"
	_ "github.com/paygate/paygate/modules/tlsenforce"
)
