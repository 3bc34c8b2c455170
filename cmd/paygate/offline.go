package main

import "slices"

// offlineFlag is paygate's own flag of Caddy's validate command: "paygate
// validate --offline" provisions the config without reaching the network
// (package internal/offline says what is skipped).
const offlineFlag = "--offline"

// offlineValidate reports whether args (os.Args) are "validate" with
// --offline, and returns them without the flag, for Caddy's validate
// command, which does not know it. Any other command keeps its arguments,
// so "paygate run --offline" is refused by Caddy as an unknown flag: a
// server never runs offline.
func offlineValidate(args []string) ([]string, bool) {
	if len(args) < 2 || args[1] != "validate" {
		return args, false
	}
	i := slices.Index(args[2:], offlineFlag)
	if i < 0 {
		return args, false
	}
	return slices.Delete(slices.Clone(args), i+2, i+3), true
}
