package opaauthz

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/download"
	bundleplugin "github.com/open-policy-agent/opa/v1/plugins/bundle"

	"github.com/paygate/paygate/internal/health"
	"github.com/paygate/paygate/internal/testenv"
	"github.com/paygate/paygate/internal/testenv/bundletest"
)

// policyCheck is the readiness check "policy".
func policyCheck(t *testing.T) health.Status {
	t.Helper()
	s, found := health.Run().Checks["policy"]
	if !found {
		t.Fatal("no readiness check \"policy\"")
	}
	return s
}

// TestPolicyReadiness: unready while no bundle has activated (the service
// answering 500), naming the failed download; ready with the revision
// once one activates; gone with the handler.
func TestPolicyReadiness(t *testing.T) {
	priv, pub := devKey(t)
	var serving atomic.Bool
	bundles := new(testenv.BundleServer)
	bundles.Set("r1", bundletest.Build(t, "1", revisionPolicy("1"), priv))
	srv := testenv.StartUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !serving.Load() {
			http.Error(w, "maintenance", http.StatusInternalServerError)
			return
		}
		bundles.ServeHTTP(w, r)
	}))
	env := mustProvision(t, &Handler{
		Bundle:      &BundleConfig{URL: srv.URL + testenv.BundlePath, PublicKey: pub, PollingMin: caddy.Duration(time.Second)},
		StartupWait: caddy.Duration(time.Millisecond),
	})

	testenv.Eventually(t, "the failed download in the policy check", func() bool {
		s := policyCheck(t)
		return !s.OK && s.Reason == "no policy active; last bundle attempt: download (HTTP 500)"
	})
	serving.Store(true)
	testenv.Eventually(t, "the policy check to pass once the bundle activates", func() bool { return policyCheck(t).OK })
	if got := policyCheck(t).Details["revision"]; got != "1" {
		t.Errorf("revision = %v, want 1", got)
	}

	if err := env.h.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, found := health.Run().Checks["policy"]; found {
		t.Fatal("the policy check outlived its handler")
	}
}

// TestBundleAge drives the engine's bundle status as OPA's bundle plug-in
// would and a clock: the active bundle grows old only while nothing
// confirms it current. A 304 confirms it; a download that fails, or a new
// bundle that is downloaded but refused, does not.
func TestBundleAge(t *testing.T) {
	priv, pub := devKey(t)
	srv, url := testenv.StartBundleServer(t)
	srv.Set("r1", bundletest.Build(t, "1", revisionPolicy("1"), priv))
	// The default polling (60s to 120s) leaves the test to drive the status.
	env := mustProvision(t, &Handler{
		Bundle:       &BundleConfig{URL: url, PublicKey: pub},
		MaxBundleAge: caddy.Duration(20 * time.Minute),
	})
	e := env.h.engine
	t0 := time.Now()
	var now time.Time
	env.h.now = func() time.Time { return now }
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	check := func(step string, d time.Duration, wantOK bool, wantReason string) {
		t.Helper()
		now = at(d)
		s := policyCheck(t)
		if s.OK != wantOK || !strings.Contains(s.Reason, wantReason) {
			t.Errorf("%s: %+v, want ok %v, reason containing %q", step, s, wantOK, wantReason)
		}
	}
	status := func(lastSuccessfulRequest time.Time, err error) bundleplugin.Status {
		s := bundleplugin.Status{Name: bundleName, LastSuccessfulRequest: lastSuccessfulRequest}
		s.SetError(err)
		return s
	}

	check("19m after the activation", 19*time.Minute, true, "")
	check("21m after the activation, nothing since", 21*time.Minute, false, "longer than max_bundle_age 20m0s: bundle updates keep failing")

	e.bundleStatus(status(at(15*time.Minute), nil)) // 304 Not Modified
	check("6m after a 304", 21*time.Minute, true, "")
	if got := policyCheck(t).Details["age_seconds"]; got != int64(6*60) {
		t.Errorf("age_seconds = %v, want 360", got)
	}

	e.bundleStatus(status(at(15*time.Minute), download.HTTPError{StatusCode: 500}))
	check("21m after the 304, downloads failing", 36*time.Minute, false, "; last attempt: download (HTTP 500)")

	// The service serves a new bundle that does not compile: the request
	// succeeded, but the active bundle is not the current one.
	e.bundleStatus(status(at(35*time.Minute), ast.Errors{ast.NewError(ast.CompileErr, nil, "conflicting rules")}))
	check("a new bundle refused", 36*time.Minute, false, "; last attempt: compile")

	env.h.MaxBundleAge = -1
	check("max_bundle_age off", 36*time.Minute, true, "")
}

// TestPolicyDirReadiness: a policy directory is ready once loaded, whatever
// its age; a query that cannot be prepared against it is not.
func TestPolicyDirReadiness(t *testing.T) {
	env := mustProvision(t, &Handler{PolicyDir: repoPolicies})
	env.h.now = func() time.Time { return time.Now().Add(365 * 24 * time.Hour) }
	if s := policyCheck(t); !s.OK || s.Details["revision"] != "" {
		t.Errorf("policy directory: %+v, want ok with no revision", s)
	}
	if err := env.h.Cleanup(); err != nil {
		t.Fatal(err)
	}

	mustProvision(t, &Handler{PolicyDir: repoPolicies, Query: "data.paygate.authz.undefined_function(1)"})
	if s := policyCheck(t); s.OK || s.Reason != "the active policy's query cannot be prepared; every request is refused" {
		t.Errorf("query that cannot be prepared: %+v, want unready", s)
	}
}

func TestMaxBundleAgeDefault(t *testing.T) {
	for _, tt := range []struct {
		name string
		h    Handler
		want time.Duration
	}{
		{"policy directory", Handler{PolicyDir: "d"}, 0},
		{"default polling", Handler{Bundle: &BundleConfig{}}, 20 * time.Minute},
		{"polling min only", Handler{Bundle: &BundleConfig{PollingMin: caddy.Duration(30 * time.Second)}}, 10 * time.Minute},
		{"polling min and max", Handler{Bundle: &BundleConfig{PollingMin: caddy.Duration(30 * time.Second), PollingMax: caddy.Duration(2 * time.Minute)}}, 20 * time.Minute},
		{"configured", Handler{Bundle: &BundleConfig{}, MaxBundleAge: caddy.Duration(time.Hour)}, time.Hour},
		{"off", Handler{Bundle: &BundleConfig{}, MaxBundleAge: -1}, 0},
	} {
		if got := tt.h.maxBundleAge(); got != tt.want {
			t.Errorf("%s: maxBundleAge = %v, want %v", tt.name, got, tt.want)
		}
	}
}
