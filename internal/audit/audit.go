// Package audit writes paygate's audit events: one JSON line per security or
// payment event on the Caddy logger "paygate.audit", with the request ID,
// actor, action, resource, outcome and client IP. Operators route it with
// Caddy's logging config (e.g. `log audit { include paygate.audit ... }`).
//
// Field values are built by paygate from identifiers it controls (user IDs,
// Stripe object IDs, reason codes); raw request data, tokens and secrets never
// go into an event.
package audit

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/reqid"
)

// LoggerName is the name of the audit logger.
const LoggerName = "paygate.audit"

// Outcomes of an audited action.
const (
	Allowed   = "allowed"
	Denied    = "denied"
	Succeeded = "succeeded"
	Failed    = "failed"
)

// Event is one audited action.
type Event struct {
	// Action is what was attempted, e.g. "token_rejected",
	// "payment_intent.create".
	Action string
	// Outcome is one of the outcome constants.
	Outcome string
	// Actor is the authenticated user ID, or "" when unknown.
	Actor string
	// Resource is the object acted on (a Stripe ID, a route), or "".
	Resource string
	// Reason is a stable reason code for a denial or failure, or "".
	Reason string
	// DecisionID is the ID of the policy decision behind the event (the
	// decision_id of OPA's decision log), or "" when no policy ran.
	DecisionID string
}

// Logger returns the audit logger for a module provisioned with ctx. It is
// built through Caddy's log routing (the configured logs' include and
// exclude filters), so `log audit { include paygate.audit ... }` receives
// every audit event and the default log no longer does; caddy.Log(), the
// default logger alone, would bypass that routing and lose the events.
func Logger(ctx caddy.Context) *zap.Logger {
	return ctx.Logger(loggerOwner{}).Named(loggerLeaf)
}

// loggerOwner stands for the paygate app in Caddy's log routing: a log
// includes or excludes loggers by module ID, and the audit logger is the
// app's "audit" sub-logger, paygate.audit.
type loggerOwner struct{}

// CaddyModule names the module whose logger the audit logger derives from.
func (loggerOwner) CaddyModule() caddy.ModuleInfo { return caddy.ModuleInfo{ID: "paygate"} }

// loggerLeaf is LoggerName below the app's module ID.
const loggerLeaf = "audit"

// Log writes ev for request r.
func Log(logger *zap.Logger, r *http.Request, ev Event) {
	c := logger.Check(zap.InfoLevel, "audit")
	if c == nil {
		return
	}
	clientIP, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	fields := []zap.Field{
		zap.String(reqid.LogField, reqid.From(r)),
		zap.String("action", ev.Action),
		zap.String("outcome", ev.Outcome),
		zap.String("actor", ev.Actor),
		zap.String("resource", ev.Resource),
		zap.String("client_ip", clientIP),
	}
	if ev.Reason != "" {
		fields = append(fields, zap.String("reason", ev.Reason))
	}
	if ev.DecisionID != "" {
		fields = append(fields, zap.String("decision_id", ev.DecisionID))
	}
	c.Write(fields...)
}
