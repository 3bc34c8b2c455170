package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

// versionedModules are the dependencies whose versions "paygate version"
// names: what decides how paygate behaves.
var versionedModules = []string{
	"github.com/caddyserver/caddy/v2",
	"github.com/open-policy-agent/opa",
	"github.com/stripe/stripe-go/v76",
	"github.com/lestrrat-go/jwx/v2",
	"github.com/redis/go-redis/v9",
}

// printVersion writes what "paygate version" prints: paygate's own version
// (its module version, or the VCS revision and time it was built from, with
// "+dirty" for uncommitted changes), the Go version, and the versions of
// the modules that decide its behaviour. Caddy's own "version" prints only
// Caddy's.
func printVersion(w io.Writer, info *debug.BuildInfo) {
	version := info.Main.Version
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		version = fmt.Sprintf("%s (%s %s", version, rev, settings["vcs.time"])
		if settings["vcs.modified"] == "true" {
			version += " +dirty"
		}
		version += ")"
	}
	fmt.Fprintf(w, "paygate %s\n", version)
	fmt.Fprintf(w, "go %s\n", info.GoVersion)
	deps := map[string]string{}
	for _, d := range info.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		deps[d.Path] = d.Version
	}
	for _, m := range versionedModules {
		v := deps[m]
		if v == "" {
			v = "(not built in)"
		}
		fmt.Fprintf(w, "%s %s\n", m, v)
	}
}
