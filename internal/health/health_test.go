package health

import (
	"encoding/json"
	"testing"
)

func ok() Status { return Status{OK: true} }

func failing(reason string) Func {
	return func() Status { return Status{Reason: reason} }
}

// register registers a check for owner and unregisters owner when t ends.
func register(t *testing.T, owner any, kind, id string, check Func) {
	t.Helper()
	Register(owner, kind, id, check)
	t.Cleanup(func() { Unregister(owner) })
}

func TestRunWithoutChecks(t *testing.T) {
	r := Run()
	if !r.Ready || len(r.Checks) != 0 {
		t.Fatalf("Run() = %+v, want ready with no checks", r)
	}
}

// TestRunNamesEachCheck: the report is ready only when every check passes,
// and names each check by its kind, or by kind and resource when a kind
// has several.
func TestRunNamesEachCheck(t *testing.T) {
	app, stage := new(int), new(int)
	register(t, app, "store", "", failing("ping failed"))
	register(t, stage, "jwks", "https://a.example/jwks.json", ok)
	register(t, stage, "jwks", "https://b.example/jwks.json", ok)
	register(t, stage, "policy", "policies/paygate", ok)

	r := Run()
	if r.Ready {
		t.Error("ready while the store check fails")
	}
	for name, want := range map[string]Status{
		"store":                            {Reason: "ping failed"},
		"jwks:https://a.example/jwks.json": {OK: true},
		"jwks:https://b.example/jwks.json": {OK: true},
		"policy":                           {OK: true},
	} {
		if got, found := r.Checks[name]; !found || got.OK != want.OK || got.Reason != want.Reason {
			t.Errorf("check %q = %+v (found %v), want %+v", name, got, found, want)
		}
	}
	if len(r.Checks) != 4 {
		t.Errorf("checks: %v, want 4", r.Checks)
	}

	Unregister(app)
	if r := Run(); !r.Ready {
		t.Errorf("not ready once the failing check is gone: %+v", r.Checks)
	}
}

// TestReload: the new configuration's check answers from the moment it is
// registered, the old configuration's cleanup leaves it in place, and a
// configuration that fails to load (cleaned up while the old one keeps
// running) leaves the old one's check answering.
func TestReload(t *testing.T) {
	old, next, broken := new(int), new(int), new(int)
	register(t, old, "store", "", failing("old"))

	register(t, broken, "store", "", failing("broken"))
	Unregister(broken)
	if got := Run().Checks["store"].Reason; got != "old" {
		t.Fatalf("after a failed reload the store check says %q, want the running config's (old)", got)
	}

	register(t, next, "store", "", failing("next"))
	if got := Run().Checks["store"].Reason; got != "next" {
		t.Fatalf("during the reload the store check says %q, want the new config's", got)
	}
	Unregister(old)
	if got := Run().Checks["store"].Reason; got != "next" {
		t.Fatalf("after the old config's cleanup the store check says %q, want the new config's", got)
	}
	Unregister(next)
	if _, found := Run().Checks["store"]; found {
		t.Fatal("a check outlived every owner")
	}
}

func TestStatusJSON(t *testing.T) {
	for _, tt := range []struct {
		name string
		s    Status
		want string
	}{
		{"ok", Status{OK: true}, `{"ok":true}`},
		{"failing", Status{Reason: "no policy active"}, `{"ok":false,"reason":"no policy active"}`},
		{"details", Status{OK: true, Details: map[string]any{"revision": "r1", "age_seconds": 12}}, `{"age_seconds":12,"ok":true,"revision":"r1"}`},
		{"details cannot override", Status{Details: map[string]any{"ok": true}}, `{"ok":false}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.s)
			if err != nil || string(got) != tt.want {
				t.Errorf("json = %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}
