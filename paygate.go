// Package paygate is the module root. Importing it registers every paygate
// Caddy module, which is what `xcaddy build --with github.com/paygate/paygate`
// compiles in; cmd/paygate is the ready-made binary.
package paygate

import _ "github.com/paygate/paygate/modules/all"
