package opaauthz

import (
	"fmt"
	"sort"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/logging"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// opaLogger is OPA's logging.Logger on top of a Caddy (zap) logger, so that
// OPA's own messages (bundle downloads, activations, failures) and its
// console decision log are Caddy log entries. The zap logger can be
// replaced, for an engine kept across config reloads, and the replacement
// applies to every logger derived with WithFields.
type opaLogger struct {
	zl     *atomic.Pointer[zap.Logger]
	fields []zap.Field
}

func newOPALogger(zl *zap.Logger) *opaLogger {
	l := &opaLogger{zl: new(atomic.Pointer[zap.Logger])}
	l.zl.Store(zl)
	return l
}

// setLogger makes l and every logger derived from it write to zl.
func (l *opaLogger) setLogger(zl *zap.Logger) { l.zl.Store(zl) }

// restated are the formats of OPA's messages about a refused bundle, which
// the engine's bundle status listener logs once per attempt with what
// failed (policy bundle refused): written at DEBUG, so that an attempt is
// not an error twice.
var restated = map[string]bool{
	"Bundle load failed: %v":       true,
	"Bundle activation failed: %v": true,
}

func (l *opaLogger) log(level zapcore.Level, format string, a []any) {
	if restated[format] {
		level = zapcore.DebugLevel
	}
	zl := l.zl.Load()
	if !zl.Core().Enabled(level) {
		return
	}
	if c := zl.Check(level, fmt.Sprintf(format, a...)); c != nil {
		c.Write(l.fields...)
	}
}

// Debug logs at DEBUG.
func (l *opaLogger) Debug(format string, a ...any) { l.log(zapcore.DebugLevel, format, a) }

// Info logs at INFO.
func (l *opaLogger) Info(format string, a ...any) { l.log(zapcore.InfoLevel, format, a) }

// Warn logs at WARN.
func (l *opaLogger) Warn(format string, a ...any) { l.log(zapcore.WarnLevel, format, a) }

// Error logs at ERROR.
func (l *opaLogger) Error(format string, a ...any) { l.log(zapcore.ErrorLevel, format, a) }

// customField holds a decision event's custom fields (paygate's
// request_id) in the fields OPA's console decision logger passes.
const customField = "custom"

// WithFields returns a logger that adds fields to every entry, in key
// order. A decision event's custom fields are written at the top level,
// so that its request_id is named as in every other paygate log.
func (l *opaLogger) WithFields(fields map[string]any) logging.Logger {
	if custom, ok := fields[customField].(map[string]any); ok {
		flat := make(map[string]any, len(fields)+len(custom))
		for k, v := range fields {
			flat[k] = v
		}
		delete(flat, customField)
		for k, v := range custom {
			flat[k] = v
		}
		fields = flat
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := &opaLogger{zl: l.zl, fields: make([]zap.Field, len(l.fields), len(l.fields)+len(keys))}
	copy(out.fields, l.fields)
	for _, k := range keys {
		out.fields = append(out.fields, zap.Any(k, fields[k]))
	}
	return out
}

// GetLevel reports the most verbose level Caddy's logger writes.
func (l *opaLogger) GetLevel() logging.Level {
	core := l.zl.Load().Core()
	switch {
	case core.Enabled(zapcore.DebugLevel):
		return logging.Debug
	case core.Enabled(zapcore.InfoLevel):
		return logging.Info
	case core.Enabled(zapcore.WarnLevel):
		return logging.Warn
	}
	return logging.Error
}

// SetLevel does nothing: Caddy's logging configuration sets the level.
func (*opaLogger) SetLevel(logging.Level) {}

// Interface guards
var _ logging.Logger = (*opaLogger)(nil)
