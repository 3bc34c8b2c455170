package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/paygate/paygate/internal/doctor"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "doctor",
		Usage: "--config <file> [--adapter <name>] [--replicas <n>] [--json]",
		Short: "Checks a config against the security posture paygate's design demands",
		Long: `
Reads a Caddyfile or a JSON config and reports, as a checklist, whether it
holds the posture paygate's design demands: HTTPS only, the TLS floor and
AEAD suites, HSTS, a CSP admitting Stripe and nothing broader, JWT settings,
webhook secrets from the environment, rate limits and idempotency on the
payment routes, a shared store for replicas, live Stripe keys only behind
TLS, signed policy bundles, the admin API not public, no secret written
inline, the audit log kept and every log redacted.

Each check passes, warns (advisory, or not decidable from the config) or
fails; the exit status is 1 when a check fails, 0 otherwise. Nothing is
started or fetched: doctor runs offline.

--config <file>
    The config. A .json file is read as Caddy JSON; a file named
    Caddyfile* or *.caddyfile is adapted by the Caddyfile adapter.

--adapter <name>
    The config adapter, e.g. caddyfile, for another file name. A
    Caddyfile's {$NAME} placeholders are replaced from this process's
    environment when it is adapted, as they would be at start-up; its text
    is also scanned for secrets written inline.

--replicas <n>
    How many instances run this config (default 1). Above 1, the paygate
    app's store must be Redis.

--json
    Prints the report as a JSON document instead of the checklist.
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().StringP("config", "c", "", "Configuration file to check")
			cmd.Flags().StringP("adapter", "a", "", "Name of config adapter (default: from the file name)")
			cmd.Flags().Int("replicas", 1, "How many instances run this config")
			cmd.Flags().Bool("json", false, "Print the report as JSON")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdDoctor)
		},
	})
}

func cmdDoctor(fl caddycmd.Flags) (int, error) {
	path := fl.String("config")
	if path == "" {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("--config is required")
	}
	replicas := fl.Int("replicas")
	if replicas < 1 {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("--replicas must be at least 1")
	}
	input, err := os.ReadFile(path)
	if err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("reading the config: %w", err)
	}
	adapter := fl.String("adapter")
	switch adapter {
	case "":
		adapter = adapterFor(path)
	case "json":
		adapter = "" // Caddy's own format: read as is
	}
	rep, err := doctorReport(input, path, adapter, replicas)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	if fl.Bool("json") {
		err = rep.WriteJSON(os.Stdout)
	} else {
		err = rep.WriteText(os.Stdout)
	}
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	if !rep.OK {
		// Caddy's command wrapper exits 0 for status 1 without an error.
		return 1, fmt.Errorf("doctor: %d of %d checks failed", rep.Failed, len(rep.Checks))
	}
	return caddy.ExitCodeSuccess, nil
}

// adapterFor names the adapter a config file needs by its name, as Caddy
// does: "caddyfile" for Caddyfile* and *.caddyfile, none otherwise.
func adapterFor(path string) string {
	base := strings.ToLower(filepath.Base(path))
	if strings.HasPrefix(base, "caddyfile") || filepath.Ext(base) == ".caddyfile" {
		return "caddyfile"
	}
	return ""
}

// doctorReport adapts input (named path) with adapter, unless it is empty
// (JSON as is), and checks the result.
func doctorReport(input []byte, path, adapter string, replicas int) (*doctor.Report, error) {
	opts := doctor.Options{Replicas: replicas}
	var notes []string
	config := input
	if adapter != "" {
		a := caddyconfig.GetAdapter(adapter)
		if a == nil {
			return nil, fmt.Errorf("unknown config adapter %q", adapter)
		}
		adapted, warnings, err := a.Adapt(input, map[string]any{"filename": path})
		if err != nil {
			return nil, fmt.Errorf("adapting %s: %w", path, err)
		}
		for _, w := range warnings {
			notes = append(notes, "adapter: "+w.String())
		}
		config = adapted
		if adapter == "caddyfile" {
			opts.Caddyfile, opts.Filename = input, path
			if bytes.Contains(input, []byte("{$")) {
				notes = append(notes, "the Caddyfile's {$NAME} placeholders were replaced from this environment, as at start-up: the checks saw this environment's values")
			}
		}
	}
	rep, err := doctor.Check(config, opts)
	if err != nil {
		return nil, err
	}
	rep.Config, rep.Adapter = path, adapter
	rep.Notes = append(notes, rep.Notes...)
	return rep, nil
}
