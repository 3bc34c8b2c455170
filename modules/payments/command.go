package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/paygate/paygate/internal/store"
)

// reindexTimeout bounds a whole reindex run.
const reindexTimeout = 30 * time.Minute

// The reindex command lives beside the handler whose Stripe settings and
// records it uses, as Caddy's modules register their own commands.
func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "reindex",
		Usage: "--config <file> [--adapter <name>] [--dry-run]",
		Short: "Rebuilds the customer mapping and the ownership index from Stripe",
		Long: `
Rebuilds, in the store a running paygate uses, the user -> Stripe customer
mapping and the ownership index from the metadata paygate writes on
Stripe's objects: for every live customer with paygate_user metadata, its
mapping and the owner of its payment intents, setup intents and attached
payment methods (a payment method's owner is its customer's user; its own
metadata, which a browser can write, is never read). Run it after the
store (Redis) lost its data; paygate heals what it is asked about on its
own, this restores the rest at once.

It reads the same configuration as the running paygate: the store of the
global paygate option and the Stripe key and API base of the payments
handler (secrets from the same {env.*} and {file.*} placeholders, so run
it with the same environment). It never overwrites a record: a record that
names another user or customer is reported as a conflict and kept. A
second run records nothing.

--config <file>, --adapter <name>
    The configuration, as for "paygate run".

--dry-run
    Reads Stripe and the store and counts, without writing.

It prints a summary: customers, records written (or, dry, to write),
records already present, and conflicts.
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().StringP("config", "c", "", "Configuration file (default: ./Caddyfile)")
			cmd.Flags().StringP("adapter", "a", "", "Name of the config adapter to use")
			cmd.Flags().Bool("dry-run", false, "Count without writing")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdReindex)
		},
	})
}

func cmdReindex(fl caddycmd.Flags) (int, error) {
	cfg, _, _, err := caddycmd.LoadConfig(fl.String("config"), fl.String("adapter"))
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	appJSON, handlerJSON, err := reindexConfig(cfg)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	logger := caddy.Log()
	s, backend, err := store.Open(appJSON, logger)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	defer s.Close()
	if backend == "memory" {
		return caddy.ExitCodeFailedStartup, errors.New("the configuration uses the embedded memory store, which lives in the paygate process: nothing to reindex from outside (it heals on use)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), reindexTimeout)
	defer cancel()
	dry := fl.Bool("dry-run")
	sum, err := Reindex(ctx, handlerJSON, s, dry, logger)
	printReindex(os.Stdout, sum, dry)
	if err != nil {
		return caddy.ExitCodeFailedQuit, err
	}
	return caddy.ExitCodeSuccess, nil
}

// printReindex writes the summary of a run.
func printReindex(w io.Writer, sum ReindexSummary, dry bool) {
	verb := "recorded"
	if dry {
		verb = "to record (dry run)"
	}
	fmt.Fprintf(w, "customers: %d\n%s: %d\nalready present: %d\nconflicts: %d\n",
		sum.Customers, verb, sum.Recorded, sum.Present, len(sum.Conflicts))
	for _, c := range sum.Conflicts {
		fmt.Fprintf(w, "  conflict: %s\n", c)
	}
}

// reindexConfig finds, in a Caddy JSON config, the paygate app's
// configuration (empty for its defaults) and the one payments handler's
// (several identical ones count as one).
func reindexConfig(cfg []byte) (json.RawMessage, json.RawMessage, error) {
	var doc struct {
		Apps map[string]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(cfg, &doc); err != nil {
		return nil, nil, fmt.Errorf("reading the configuration: %w", err)
	}
	var handlers []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["handler"] == "payments" {
				b, _ := json.Marshal(v)
				if !slices.Contains(handlers, string(b)) {
					handlers = append(handlers, string(b))
				}
				return
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var httpApp any
	if raw, ok := doc.Apps["http"]; ok {
		if err := json.Unmarshal(raw, &httpApp); err != nil {
			return nil, nil, fmt.Errorf("reading the http app: %w", err)
		}
	}
	walk(httpApp)
	switch len(handlers) {
	case 0:
		return nil, nil, errors.New("the configuration has no payments handler: no Stripe key to read Stripe with")
	case 1:
		return doc.Apps["paygate"], json.RawMessage(handlers[0]), nil
	}
	return nil, nil, fmt.Errorf("the configuration has %d payments handlers with different settings; reindex reads one Stripe account", len(handlers))
}
