// Command paygate is Caddy with its standard modules and every paygate module.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/paygate/paygate/internal/bundlecmd"
	_ "github.com/paygate/paygate/internal/devtoken"
	_ "github.com/paygate/paygate/modules/all"
)

func main() {
	caddycmd.Main()
}
