// Package doctor checks a paygate configuration (Caddy's JSON, adapted from
// a Caddyfile or written as is) against the security posture DESIGN.md
// demands, and reports it as a checklist: HTTPS only, the TLS floor and
// suites, HSTS, a CSP that admits Stripe and nothing broader, JWT settings,
// webhook secrets, rate limits and idempotency on the payment routes, a
// shared store for replicas, live Stripe keys only behind TLS, signed policy
// bundles, the admin API, inline secrets and the audit log.
//
// The config is decoded, never provisioned: no network, no Redis, so that
// doctor runs offline in CI. "paygate doctor" (cmd/paygate) is the command.
package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/paygate/paygate/internal/redact"
)

// Status is a check's outcome.
type Status string

// A check passes, warns (advisory, or not decidable from the config) or
// fails.
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
)

// rank orders statuses from best to worst.
func (s Status) rank() int {
	switch s {
	case Fail:
		return 2
	case Warn:
		return 1
	}
	return 0
}

// Result is one line of the checklist.
type Result struct {
	// ID names the check, stable for scripts: e.g. "tls_floor".
	ID string `json:"id"`
	// Title says what the check demands, in one line.
	Title string `json:"title"`
	// Status is the worst outcome of the check's findings.
	Status Status `json:"status"`
	// Details say where in the config each finding is (server, hosts,
	// paths) and what is wrong or why it passes. Never a secret's value.
	Details []string `json:"details,omitempty"`
}

// Report is doctor's whole answer.
type Report struct {
	// Config is the file that was checked, as given.
	Config string `json:"config,omitempty"`
	// Adapter is the config adapter used ("caddyfile"), or empty for
	// JSON read as is.
	Adapter string `json:"adapter,omitempty"`
	// Replicas is how many instances share the config (--replicas).
	Replicas int `json:"replicas"`
	// Notes are things to know about how the config was read.
	Notes  []string `json:"notes,omitempty"`
	Checks []Result `json:"checks"`
	// Passed, Warned and Failed count the checks by status.
	Passed int `json:"passed"`
	Warned int `json:"warned"`
	Failed int `json:"failed"`
	// OK is true when no check failed (warnings do not count).
	OK bool `json:"ok"`
}

// Options are what a run of the checks needs besides the JSON config.
type Options struct {
	// Replicas is how many instances run the config; more than one makes
	// a shared (Redis) store a requirement. Default: 1.
	Replicas int
	// Caddyfile, when the JSON was adapted from one, is its text: it is
	// scanned for secrets written inline too, and named Filename.
	Caddyfile []byte
	Filename  string
}

// finding is one thing a check found.
type finding struct {
	status Status
	msg    string
}

func passf(format string, a ...any) finding { return finding{Pass, fmt.Sprintf(format, a...)} }
func warnf(format string, a ...any) finding { return finding{Warn, fmt.Sprintf(format, a...)} }
func failf(format string, a ...any) finding { return finding{Fail, fmt.Sprintf(format, a...)} }

// check is one item of the checklist.
type check struct {
	id, title string
	run       func(*model, Options) []finding
}

// Check runs every check on a Caddy JSON config.
func Check(jsonConfig []byte, opts Options) (*Report, error) {
	if opts.Replicas < 1 {
		opts.Replicas = 1
	}
	m, err := newModel(jsonConfig, opts.Replicas)
	if err != nil {
		return nil, err
	}
	rep := &Report{Replicas: opts.Replicas}
	for _, c := range checks {
		fs := c.run(m, opts)
		res := Result{ID: c.id, Title: c.title, Status: Pass}
		for _, f := range fs {
			if f.status.rank() > res.Status.rank() {
				res.Status = f.status
			}
		}
		// A failing or warning check lists what is wrong first.
		for _, s := range []Status{Fail, Warn, Pass} {
			for _, f := range fs {
				if f.status == s {
					res.Details = append(res.Details, string(s)+": "+f.msg)
				}
			}
		}
		switch res.Status {
		case Pass:
			rep.Passed++
		case Warn:
			rep.Warned++
		case Fail:
			rep.Failed++
		}
		rep.Checks = append(rep.Checks, res)
	}
	rep.OK = rep.Failed == 0
	return rep, nil
}

// decoded reads h's config into v; a config that does not decode is a
// failure of the check that reads it.
func decoded(fs *[]finding, c chain, h handler, v any) bool {
	if err := h.decode(v); err != nil {
		*fs = append(*fs, failf("%s: %v", c.where, err))
		return false
	}
	return true
}

// show is a config value as a message may quote it: whatever in it looks
// like a secret is masked, by the redaction every log uses.
func show(s string) string { return redact.String(s) }

// WriteText writes the report as a checklist, one line per check and the
// details of the checks that did not pass under it.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	src := r.Config
	if r.Adapter != "" {
		src += " (adapted by " + r.Adapter + ")"
	}
	plural := "s"
	if r.Replicas == 1 {
		plural = ""
	}
	fmt.Fprintf(&b, "paygate doctor: %s, %d replica%s\n", src, r.Replicas, plural)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-4s  %-18s %s\n", strings.ToUpper(string(c.Status)), c.ID, c.Title)
		if c.Status == Pass {
			continue
		}
		for _, d := range c.Details {
			if strings.HasPrefix(d, string(Pass)+":") {
				continue
			}
			fmt.Fprintf(&b, "      - %s\n", d)
		}
	}
	fmt.Fprintf(&b, "%d passed, %d warned, %d failed\n", r.Passed, r.Warned, r.Failed)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as an indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
