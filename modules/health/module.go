// Package health provides the paygate_health HTTP handler (module
// http.handlers.paygate_health, directive paygate_health): the liveness and
// readiness endpoints of a replica, meant for an internal listener that
// only probes and Prometheus reach (the shipped Caddyfiles serve it on
// loopback:9180 with /metrics).
//
// Readiness is what the paygate app and the stages registered in package
// internal/health: the store answered its last ping, each JWKS can still
// verify tokens (loaded, and not stale past jwks_max_stale), each
// opa_authz has an active policy whose bundle is current within
// max_bundle_age.
package health

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	pghealth "github.com/paygate/paygate/internal/health"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// The checks the handler can answer.
const (
	checkLive  = "live"
	checkReady = "ready"
)

// Handler answers a health probe with JSON and ends the route.
//
// Liveness ("live") is 200 {"status":"ok"} whenever the process serves.
// Readiness ("ready") is 200 {"status":"ready","checks":{...}} when every
// registered check passes, and 503 {"status":"unready","checks":{...}}
// otherwise; each check is an object with "ok", "reason" when it fails,
// and its facts (the policy's "revision" and "age_seconds"), e.g.
//
//	{"status":"unready","checks":{"store":{"ok":false,"reason":"..."},
//	 "policy":{"ok":true,"revision":"...","age_seconds":12}}}
//
// A check is named by its kind (store, jwks, policy), or "kind:resource"
// when several resources of one kind are checked.
type Handler struct {
	// Check is what the handler reports: "live" or "ready". Required.
	Check string `json:"check"`
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.paygate_health",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Validate checks that Check is live or ready.
func (h *Handler) Validate() error {
	if h.Check != checkLive && h.Check != checkReady {
		return fmt.Errorf("paygate_health: check %q: want %s or %s", h.Check, checkLive, checkReady)
	}
	return nil
}

// response is the body of every answer.
type response struct {
	Status string                     `json:"status"`
	Checks map[string]pghealth.Status `json:"checks,omitempty"`
}

// ServeHTTP answers the probe.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	status, body := http.StatusOK, response{Status: "ok"}
	if h.Check == checkReady {
		report := pghealth.Run()
		body = response{Status: "ready", Checks: report.Checks}
		switch {
		case shuttingDown(r):
			// Draining (shutdown_delay): the load balancer takes the
			// replica out while it still serves what comes.
			status, body.Status = http.StatusServiceUnavailable, "shutting_down"
		case !report.Ready:
			status, body.Status = http.StatusServiceUnavailable, "unready"
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(body)
}

// shuttingDown reports whether the server is stopping: from the moment it
// is told to (a signal, a config unload) through its shutdown_delay.
func shuttingDown(r *http.Request) bool {
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok || r.Context().Value(caddyhttp.ServerCtxKey) == nil {
		return false
	}
	down, _ := repl.Get("http.shutting_down")
	return down == true
}

// Interface guards
var (
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
