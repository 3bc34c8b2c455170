package doctor

import (
	"fmt"
	"sort"
	"strings"

	"github.com/paygate/paygate/internal/audit"
)

// namedLog is one of the config's logs, or Caddy's implicit default log.
type namedLog struct {
	name string
	log  *logConfig
}

// logs returns the config's logs by name, with Caddy's default log
// (stderr, Caddy's own encoder) when the config does not define one.
func (m *model) logs() []namedLog {
	var ls []namedLog
	hasDefault := false
	if m.cfg.Logging != nil {
		for n, l := range m.cfg.Logging.Logs {
			if l == nil {
				l = &logConfig{}
			}
			ls = append(ls, namedLog{n, l})
			hasDefault = hasDefault || n == "default"
		}
	}
	if !hasDefault {
		ls = append(ls, namedLog{"default", &logConfig{}})
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].name < ls[j].name })
	return ls
}

// receives reports whether l takes the entries of the logger named name,
// by Caddy's rule: the longest matching namespace of include and exclude
// decides; with an include list, one of it must match.
func (l *logConfig) receives(name string) bool {
	if len(l.Include) == 0 && len(l.Exclude) == 0 {
		return true
	}
	name += "."
	var accept, reject int
	for _, ns := range l.Include {
		if strings.HasPrefix(name, ns+".") && len(ns) > accept {
			accept = len(ns)
		}
	}
	if len(l.Include) > 0 && accept == 0 {
		return false
	}
	for _, ns := range l.Exclude {
		if ns == "*" {
			return false
		}
		if strings.HasPrefix(name, ns+".") && len(ns) > reject {
			reject = len(ns)
		}
	}
	return accept > reject || (len(l.Include) == 0 && reject == 0)
}

// output names where a log writes: file, stderr, stdout, net or discard.
func (l *logConfig) output() string {
	if l.Writer == nil || l.Writer.Output == "" {
		return "stderr"
	}
	return l.Writer.Output
}

// dropsInfo reports whether l's level drops INFO entries, as audit events
// are.
func (l *logConfig) dropsInfo() bool {
	switch strings.ToUpper(l.Level) {
	case "WARN", "WARNING", "ERROR", "PANIC", "FATAL":
		return true
	}
	return false
}

func checkAuditLog(m *model, _ Options) []finding {
	var fs, streams []finding
	kept, stored := false, false
	for _, nl := range m.logs() {
		l := nl.log
		if !l.receives(audit.LoggerName) {
			continue
		}
		switch out := l.output(); {
		case out == "discard" || l.dropsInfo():
			fs = append(fs, warnf("log %q takes %s but drops its events (writer %s, level %s)", nl.name, audit.LoggerName, out, show(l.Level)))
		case out == "file":
			kept, stored = true, true
			fs = append(fs, passf("log %q writes %s to the file %s", nl.name, audit.LoggerName, show(l.Writer.Filename)))
		case out == "net":
			kept, stored = true, true
			fs = append(fs, passf("log %q sends %s to %s", nl.name, audit.LoggerName, show(l.Writer.Address)))
		default:
			kept = true
			streams = append(streams, finding{Warn, fmt.Sprintf("log %q writes %s to %s: kept only if the service manager (journald, the kubelet) keeps it; a file (log { output file ...; include %s }) is the audit trail of its own", nl.name, audit.LoggerName, out, audit.LoggerName)})
		}
	}
	// A copy on stderr besides a file is no concern.
	for _, f := range streams {
		if stored {
			f.status = Pass
		}
		fs = append(fs, f)
	}
	if !kept {
		fs = append(fs, failf("no log keeps %s: audit events are lost", audit.LoggerName))
	}
	return fs
}

// redactFormat is the log encoder (module caddy.logging.encoders.redact)
// that passes every entry through paygate's redaction.
const redactFormat = "redact"

func checkLogRedaction(m *model, _ Options) []finding {
	var fs []finding
	for _, nl := range m.logs() {
		l := nl.log
		if l.output() == "discard" {
			continue
		}
		if l.Encoder == nil || l.Encoder.Format != redactFormat {
			format := "Caddy's default"
			if l.Encoder != nil && l.Encoder.Format != "" {
				format = show(l.Encoder.Format)
			}
			fs = append(fs, failf("log %q uses the %s encoder, not format redact: card numbers, tokens and keys in its entries are written as they are", nl.name, format))
		} else {
			fs = append(fs, passf("log %q: format redact", nl.name))
		}
	}
	return fs
}
