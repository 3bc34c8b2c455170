// Package health is the process-wide registry of readiness checks: what
// must hold for this replica to take traffic (the store answers, each JWKS
// is fresh enough to verify tokens, a policy is active and current). The
// paygate app and the stages register their checks; the paygate_health
// handler runs them. Liveness needs no check: a process that answers is
// alive.
//
// A config reload provisions the new configuration before cleaning up the
// old one, and a configuration that fails to load is cleaned up while the
// old one keeps running. So the registrations of one check are stacked: the
// newest answers, and an owner's Unregister removes only its own, leaving
// the running configuration's in place either way.
package health

import (
	"encoding/json"
	"maps"
	"slices"
	"sync"
)

// Status is the outcome of one check.
type Status struct {
	// OK says whether the check passes.
	OK bool
	// Reason says why it does not pass; empty when it does.
	Reason string
	// Details are further facts for the check's JSON object (the active
	// policy revision, say), under snake_case names other than ok and
	// reason.
	Details map[string]any
}

// MarshalJSON writes the status as one object: ok, reason (when there is
// one) and the details.
func (s Status) MarshalJSON() ([]byte, error) {
	obj := make(map[string]any, len(s.Details)+2)
	maps.Copy(obj, s.Details)
	obj["ok"] = s.OK
	if s.Reason != "" {
		obj["reason"] = s.Reason
	}
	return json.Marshal(obj)
}

// Func runs a check. It must answer at once: it reads the state that
// background work (the store's health watch, JWKS refreshes, bundle
// polling) keeps current, and never waits for a network round trip.
type Func func() Status

// key identifies what a check watches: its kind ("store", "jwks",
// "policy") and the resource (a JWKS URL, a policy source).
type key struct {
	kind, id string
}

type registration struct {
	owner any
	check Func
}

var (
	mu     sync.Mutex
	checks = map[key][]registration{}
)

// Register adds owner's check of kind on the resource id (empty for a
// kind that has one resource). Several owners may register the same kind
// and id, as the old and the new configuration do during a reload, or two
// sites that import the same stage: the newest registration answers.
func Register(owner any, kind, id string, check Func) {
	mu.Lock()
	defer mu.Unlock()
	k := key{kind, id}
	checks[k] = append(checks[k], registration{owner: owner, check: check})
}

// Unregister removes every check owner registered.
func Unregister(owner any) {
	mu.Lock()
	defer mu.Unlock()
	for k, regs := range checks {
		regs = slices.DeleteFunc(regs, func(r registration) bool { return r.owner == owner })
		if len(regs) == 0 {
			delete(checks, k)
		} else {
			checks[k] = regs
		}
	}
}

// Report is the outcome of every check.
type Report struct {
	// Ready says whether every check passes (true when there is none).
	Ready bool
	// Checks holds each check's status under its name: its kind, or
	// "kind:id" when several resources of that kind are checked.
	Checks map[string]Status
}

// Run runs every registered check.
func Run() Report {
	mu.Lock()
	newest := make(map[key]Func, len(checks))
	perKind := map[string]int{}
	for k, regs := range checks {
		newest[k] = regs[len(regs)-1].check
		perKind[k.kind]++
	}
	mu.Unlock()

	r := Report{Ready: true, Checks: make(map[string]Status, len(newest))}
	for k, check := range newest {
		s := check()
		name := k.kind
		if perKind[k.kind] > 1 {
			name += ":" + k.id
		}
		r.Checks[name] = s
		r.Ready = r.Ready && s.OK
	}
	return r
}
