// Command paygate is Caddy with its standard modules and every paygate
// module, plus paygate's own commands: "paygate bundle" (bundle.go),
// "paygate token" (token.go) and "paygate webhook sign" (webhook.go).
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/paygate/paygate/modules/all"
)

func main() {
	caddycmd.Main()
}
