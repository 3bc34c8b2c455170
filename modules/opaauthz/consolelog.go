package opaauthz

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/plugins"
	"github.com/open-policy-agent/opa/v1/plugins/logs"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/paygate/paygate/internal/jsonlog"
)

// consolePlugin names the decision-log plug-in that writes each decision,
// once OPA's decision-log plug-in has masked it, to the Caddy log (logger
// http.handlers.opa_authz.decision_log). OPA's own console output would
// first turn every event into generic maps through JSON; this one hands
// the event's values to the log encoder as they are.
const consolePlugin = "paygate_console"

// consoleFactory makes the console plug-in of an engine.
type consoleFactory struct{ log *opaLogger }

// Validate accepts the plug-in's (empty) configuration.
func (consoleFactory) Validate(*plugins.Manager, []byte) (any, error) { return nil, nil }

// New returns the plug-in.
func (f consoleFactory) New(m *plugins.Manager, _ any) plugins.Plugin {
	return &consoleLog{log: f.log, manager: m}
}

// consoleLog is OPA's logs.Logger on the Caddy log.
type consoleLog struct {
	log     *opaLogger
	manager *plugins.Manager
}

// Start reports the plug-in ready.
func (c *consoleLog) Start(context.Context) error {
	c.manager.UpdatePluginStatus(consolePlugin, &plugins.Status{State: plugins.StateOK})
	return nil
}

// Stop does nothing: every event is written when it is logged.
func (*consoleLog) Stop(context.Context) {}

// Reconfigure does nothing: the plug-in has no settings.
func (*consoleLog) Reconfigure(context.Context, any) {}

// Log writes one masked decision as one entry, with the fields OPA's
// console decision log has, in key order; the event's custom fields
// (paygate's request_id) are written at the top level, so that the
// request ID is named as in every other paygate log.
func (c *consoleLog) Log(_ context.Context, e logs.EventV1) error {
	ce := c.log.zl.Load().Check(zapcore.InfoLevel, "Decision Log")
	if ce == nil {
		return nil
	}
	fields := make([]zap.Field, 0, 16+len(e.Custom))
	fields = append(fields,
		zap.String("type", logs.DecisionLogType),
		zap.String("timestamp", e.Timestamp.UTC().Format(time.RFC3339Nano)),
		zap.String("decision_id", e.DecisionID),
	)
	if len(e.Labels) > 0 {
		fields = append(fields, zap.Object("labels", stringMap(e.Labels)))
	}
	if len(e.Bundles) > 0 {
		fields = append(fields, zap.Object("bundles", bundles(e.Bundles)))
	}
	for _, s := range []struct{ key, value string }{
		{"path", e.Path}, {"query", e.Query}, {"requested_by", e.RequestedBy},
	} {
		if s.value != "" {
			fields = append(fields, zap.String(s.key, s.value))
		}
	}
	if e.Input != nil {
		fields = append(fields, jsonlog.Field("input", *e.Input))
	}
	if e.Result != nil {
		fields = append(fields, jsonlog.Field("result", *e.Result))
	}
	if len(e.Erased) > 0 {
		fields = append(fields, zap.Strings("erased", e.Erased))
	}
	if len(e.Masked) > 0 {
		fields = append(fields, zap.Strings("masked", e.Masked))
	}
	if e.Error != nil {
		fields = append(fields, zap.String("error", e.Error.Error()))
	}
	if len(e.Metrics) > 0 {
		fields = append(fields, jsonlog.Field("metrics", map[string]any(e.Metrics)))
	}
	if rc := e.RequestContext; rc != nil && rc.HTTPRequest != nil {
		fields = append(fields, zap.Object("request_context", zapcore.ObjectMarshalerFunc(func(enc zapcore.ObjectEncoder) error {
			return enc.AddObject("http", zapcore.ObjectMarshalerFunc(func(enc zapcore.ObjectEncoder) error {
				return enc.AddObject("headers", headerValues(rc.HTTPRequest.Headers))
			}))
		})))
	}
	for k, v := range e.Custom {
		fields = append(fields, jsonlog.Field(k, v))
	}
	slices.SortFunc(fields, func(a, b zap.Field) int { return strings.Compare(a.Key, b.Key) })
	ce.Write(fields...)
	return nil
}

// stringMap encodes a map of strings, its keys in order.
type stringMap map[string]string

func (m stringMap) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		enc.AddString(k, m[k])
	}
	return nil
}

// bundles encodes the active bundles' revisions, as OPA's event has them.
type bundles map[string]logs.BundleInfoV1

func (b bundles) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	for _, name := range slices.Sorted(maps.Keys(b)) {
		rev := b[name].Revision
		if err := enc.AddObject(name, zapcore.ObjectMarshalerFunc(func(enc zapcore.ObjectEncoder) error {
			if rev != "" {
				enc.AddString("revision", rev)
			}
			return nil
		})); err != nil {
			return err
		}
	}
	return nil
}

// headerValues encodes recorded request headers, names in order.
type headerValues map[string][]string

func (h headerValues) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	for _, name := range slices.Sorted(maps.Keys(h)) {
		if err := enc.AddArray(name, zapcore.ArrayMarshalerFunc(func(enc zapcore.ArrayEncoder) error {
			for _, v := range h[name] {
				enc.AppendString(v)
			}
			return nil
		})); err != nil {
			return err
		}
	}
	return nil
}

// Interface guards
var (
	_ plugins.Factory = consoleFactory{}
	_ plugins.Plugin  = (*consoleLog)(nil)
	_ logs.Logger     = (*consoleLog)(nil)
)
