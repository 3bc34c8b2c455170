// Command paygate is Caddy with its standard modules and every paygate
// module, plus paygate's own commands: "paygate bundle" (bundle.go),
// "paygate token" (token.go), "paygate webhook sign" (webhook.go) and
// "paygate doctor" (doctor.go), and "paygate reindex", which
// modules/payments registers (command.go);
// "paygate version" prints paygate's version and its modules' (version.go);
// "paygate validate --offline" validates without the network (offline.go).
package main

import (
	"os"
	"runtime/debug"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	"github.com/paygate/paygate/internal/offline"
	_ "github.com/paygate/paygate/modules/all"
)

func main() {
	// Caddy registers "version" (Caddy's version alone), and a command
	// name cannot be registered twice.
	if len(os.Args) == 2 && os.Args[1] == "version" {
		if info, ok := debug.ReadBuildInfo(); ok {
			printVersion(os.Stdout, info)
			return
		}
	}
	// Caddy's validate command has no hook for this; the switch is set
	// before it runs, for this process only.
	if args, ok := offlineValidate(os.Args); ok {
		os.Args = args
		offline.Enable()
	}
	caddycmd.Main()
}
