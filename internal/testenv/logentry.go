package testenv

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// LogEntry is one JSON log entry a paygate process wrote.
type LogEntry struct {
	// Line is the entry as written: one line of JSON.
	Line string
	// Fields are its members, decoded (numbers as float64).
	Fields map[string]any
}

// Str returns the member name when it is a string, else "".
func (e LogEntry) Str(name string) string {
	s, _ := e.Fields[name].(string)
	return s
}

// LogFields returns a match for WaitForLog: an entry whose string members
// include every name and value of want.
func LogFields(want map[string]string) func(LogEntry) bool {
	return func(e LogEntry) bool {
		for name, value := range want {
			if v, ok := e.Fields[name].(string); !ok || v != value {
				return false
			}
		}
		return true
	}
}

// parseLogEntry decodes line; ok is false for a line that is not a JSON
// object (a process's plain-text output).
func parseLogEntry(line []byte) (e LogEntry, ok bool) {
	if err := json.Unmarshal(line, &e.Fields); err != nil || e.Fields == nil {
		return LogEntry{}, false
	}
	e.Line = string(line)
	return e, true
}

// ParseLogEntries decodes the JSON log entries of logs, one per line, in
// order; lines that are not JSON objects are left out.
func ParseLogEntries(logs []byte) []LogEntry {
	var entries []LogEntry
	for _, line := range bytes.Split(logs, []byte("\n")) {
		if e, ok := parseLogEntry(line); ok {
			entries = append(entries, e)
		}
	}
	return entries
}

// WaitForLog returns the first log entry, from the start of the process's
// output, for which match is true, waiting up to WaitTimeout for the process
// to write it. It fails the test, naming what, when the time passes or the
// process exits without writing one.
//
// A response can reach the client before the process has written the log
// lines about it, so a test looks for a line with WaitForLog, never in a
// copy of the output taken while the process runs.
func (p *Paygate) WaitForLog(t testing.TB, what string, match func(LogEntry) bool) LogEntry {
	t.Helper()
	var found LogEntry
	_, err := p.proc.waitForLine(WaitTimeout, func(line []byte) bool {
		e, ok := parseLogEntry(line)
		if !ok || !match(e) {
			return false
		}
		found = e
		return true
	})
	if errors.Is(err, errNoLine) {
		t.Fatalf("no log entry with %s: the process exited without writing one", what)
	} else if err != nil {
		t.Fatalf("no log entry with %s: %v", what, err)
	}
	return found
}

// Logs returns everything the process wrote to stdout and stderr, each line
// ending in a newline, once it has exited: Stop it first. Only then is the
// output complete, as a scan for what must not be there needs it to be; a
// call while the process runs fails the test.
func (p *Paygate) Logs(t testing.TB) []byte {
	t.Helper()
	select {
	case <-p.proc.done:
	default:
		t.Fatal("Logs while the process runs: Stop it first, or wait for an entry with WaitForLog")
	}
	return p.proc.logs.all()
}

// LogEntries is Logs decoded by ParseLogEntries.
func (p *Paygate) LogEntries(t testing.TB) []LogEntry {
	t.Helper()
	return ParseLogEntries(p.Logs(t))
}
