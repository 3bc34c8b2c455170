package opaauthz

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/store"
)

// TestOwnershipPolicy runs the shipped policy through the handler: owners
// and the support role pass, everyone else is refused, and a refusal on a
// resource route looks exactly like a missing resource.
func TestOwnershipPolicy(t *testing.T) {
	env := mustProvision(t, &Handler{PolicyDir: repoPolicies, Claims: []string{"role", "email"}})
	env.own(t, "pi_alice", "alice")
	env.own(t, "pi_bob", "bob")
	env.own(t, "seti_bob", "bob")
	env.own(t, "pm_alice", "alice")
	env.own(t, "pm_bob", "bob")

	alice := caller{user: "alice"}
	support := caller{user: "agent", claims: map[string]string{"role": "support", "email": "agent@example.com"}}
	tests := []struct {
		name, method, path string
		who                caller
		wantStatus         int // 0: passed on
		wantCode           string
	}{
		{name: "owner reads intent", method: "GET", path: "/v1/payment_intents/pi_alice", who: alice},
		{name: "owner confirms intent", method: "POST", path: "/v1/payment_intents/pi_alice/confirm", who: alice},
		{name: "owner cancels intent", method: "POST", path: "/v1/payment_intents/pi_alice/cancel", who: alice},
		{name: "owner detaches card", method: "DELETE", path: "/v1/payment_methods/pm_alice", who: alice},
		{name: "create intent", method: "POST", path: "/v1/payment_intents", who: alice},
		{name: "create setup intent", method: "POST", path: "/v1/setup_intents", who: alice},
		{name: "list cards", method: "GET", path: "/v1/payment_methods", who: alice},
		{name: "erase customer", method: "DELETE", path: "/v1/customers/me", who: alice},
		{name: "support reads intent", method: "GET", path: "/v1/payment_intents/pi_bob", who: support},
		{name: "support reads setup intent", method: "GET", path: "/v1/setup_intents/seti_bob", who: support},

		{name: "other's intent", method: "GET", path: "/v1/payment_intents/pi_bob", who: alice, wantStatus: 404, wantCode: "resource_missing"},
		{name: "confirm other's intent", method: "POST", path: "/v1/payment_intents/pi_bob/confirm", who: alice, wantStatus: 404, wantCode: "resource_missing"},
		{name: "cancel other's intent", method: "POST", path: "/v1/payment_intents/pi_bob/cancel", who: alice, wantStatus: 404, wantCode: "resource_missing"},
		{name: "detach other's card", method: "DELETE", path: "/v1/payment_methods/pm_bob", who: alice, wantStatus: 404, wantCode: "resource_missing"},
		{name: "other's setup intent", method: "GET", path: "/v1/setup_intents/seti_bob", who: alice, wantStatus: 404, wantCode: "resource_missing"},
		{name: "missing intent", method: "GET", path: "/v1/payment_intents/pi_nobody", who: alice, wantStatus: 404, wantCode: "resource_missing"},
		{name: "support confirms", method: "POST", path: "/v1/payment_intents/pi_bob/confirm", who: support, wantStatus: 404, wantCode: "resource_missing"},
		{name: "support detaches", method: "DELETE", path: "/v1/payment_methods/pm_bob", who: support, wantStatus: 404, wantCode: "resource_missing"},
		{name: "support reads missing", method: "GET", path: "/v1/payment_intents/pi_nobody", who: support, wantStatus: 404, wantCode: "resource_missing"},
		{name: "anonymous on own-looking id", method: "GET", path: "/v1/payment_intents/pi_alice", wantStatus: 404, wantCode: "resource_missing"},
		{name: "anonymous create", method: "POST", path: "/v1/payment_intents", wantStatus: 403, wantCode: "forbidden"},
		{name: "unknown route", method: "GET", path: "/v1/refunds", who: alice, wantStatus: 403, wantCode: "forbidden"},
		{name: "wrong method on collection", method: "GET", path: "/v1/payment_intents", who: alice, wantStatus: 403, wantCode: "forbidden"},
		{name: "encoded slash", method: "GET", path: "/v1/payment_intents/pi_alice%2F..%2Fpi_bob", who: alice, wantStatus: 400, wantCode: "invalid_path"},
		{name: "upper-case prefix", method: "GET", path: "/V1/payment_intents/pi_bob", who: alice, wantStatus: 400, wantCode: "invalid_path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, w := newRequest(tt.method, tt.path, tt.who)
			out := serve(t, env.h, r, w)
			if tt.wantStatus == 0 {
				if !out.passed {
					t.Fatalf("refused with %d %v, want passed on", out.status, out.err)
				}
				return
			}
			if out.passed {
				t.Fatal("passed on, want refused")
			}
			if out.status != tt.wantStatus || out.err.Code != tt.wantCode {
				t.Fatalf("got %d %s, want %d %s", out.status, out.err.Code, tt.wantStatus, tt.wantCode)
			}
			if w.Body.Len() != 0 {
				t.Errorf("the handler wrote a body itself: %q", w.Body)
			}
		})
	}
}

// TestDenyLooksLikeMissing checks that the deny error is, field for field,
// what a client gets for a resource that does not exist, and that a denial
// on a resource route and a missing resource give the same error.
func TestDenyLooksLikeMissing(t *testing.T) {
	missing := apierror.Resolve(errors.New("no such object"), http.StatusNotFound)
	if !reflect.DeepEqual(*errResourceMissing, *missing) {
		t.Fatalf("deny error %+v differs from the missing-resource error %+v", *errResourceMissing, *missing)
	}
	forbidden := apierror.Resolve(errors.New("no"), http.StatusForbidden)
	if !reflect.DeepEqual(*errForbidden, *forbidden) {
		t.Fatalf("forbidden error %+v differs from apierror's 403 %+v", *errForbidden, *forbidden)
	}

	env := mustProvision(t, &Handler{PolicyDir: repoPolicies})
	env.own(t, "pi_bob", "bob")
	var got []apierror.Error
	for _, id := range []string{"pi_bob", "pi_nobody"} {
		r, w := newRequest("GET", "/v1/payment_intents/"+id, caller{user: "alice"})
		out := serve(t, env.h, r, w)
		if out.err == nil {
			t.Fatalf("%s: passed on", id)
		}
		e := *out.err
		e.Cause = nil
		got = append(got, e)
	}
	if !reflect.DeepEqual(got[0], got[1]) {
		t.Errorf("denied %+v, missing %+v: want identical", got[0], got[1])
	}
}

func TestMethodOverrideHeadersRemoved(t *testing.T) {
	env := mustProvision(t, &Handler{PolicyDir: repoPolicies})
	r, w := newRequest("GET", "/v1/payment_methods", caller{user: "alice"})
	for _, name := range []string{"X-HTTP-Method-Override", "X-Http-Method", "X-Method-Override", "x_http_method_override", "X_METHOD_OVERRIDE", "X-Http_Method"} {
		r.Header[name] = []string{"DELETE"}
	}
	r.Header.Set("X-Other", "kept")
	out := serve(t, env.h, r, w)
	if !out.passed {
		t.Fatalf("refused: %v", out.err)
	}
	for name := range out.header {
		if strings.Contains(strings.ToLower(name), "method") {
			t.Errorf("%s reached the next handler", name)
		}
	}
	if out.header.Get("X-Other") != "kept" {
		t.Error("an unrelated header was removed")
	}
	// Refused requests lose them too (a later error handler sees the request).
	r, w = newRequest("GET", "/v1/refunds", caller{user: "alice"})
	r.Header.Set("X-HTTP-Method-Override", "GET")
	serve(t, env.h, r, w)
	if r.Header.Get("X-HTTP-Method-Override") != "" {
		t.Error("override header kept on a refused request")
	}
}

// TestInputDocument checks the input the policy sees, with a policy that
// returns it.
func TestInputDocument(t *testing.T) {
	dir := writePolicy(t, map[string]string{"echo.rego": `package echo
decision := {"allow": false, "reason": "echo", "input": input}
`})
	env := mustProvision(t, &Handler{PolicyDir: dir, Query: "data.echo.decision", Claims: []string{"role", "tenant"}})
	env.own(t, "pi_1", "bob")
	fixed := time.Date(2026, 5, 1, 12, 0, 0, 123, time.UTC)
	env.h.now = func() time.Time { return fixed }

	r, _ := newRequest("POST", "/v1/payment_intents/pi_1/confirm?expand=x", caller{user: "alice", claims: map[string]string{"role": "support", "email": "a@example.com"}})
	r.Header.Set("X-Forwarded-For", "203.0.113.99")
	in, err := env.h.buildInput(r)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"method":   "POST",
		"path":     "/v1/payment_intents/pi_1/confirm",
		"segments": []any{"v1", "payment_intents", "pi_1", "confirm"},
		"route":    map[string]any{"template": "/v1/payment_intents/{id}/confirm", "resource_type": "payment_intent", "resource_id": "pi_1"},
		"user":     map[string]any{"sub": "alice", "claims": map[string]any{"role": "support"}},
		// Caddy's client IP, never X-Forwarded-For.
		"client_ip": "192.0.2.10",
		"time":      "2026-05-01T12:00:00.000000123Z",
		"resource":  map[string]any{"type": "payment_intent", "id": "pi_1", "owner": "bob", "exists": true},
	}
	if got := document(t, in); !reflect.DeepEqual(got, want) {
		t.Errorf("input\n got %#v\nwant %#v", got, want)
	}

	// The policy sees exactly that document.
	d := env.h.engine.decide(context.Background(), in, nil, "")
	if d.result != resultDeny || d.reason != "echo" {
		t.Fatalf("decision = %+v", d)
	}

	// A path no route matches, anonymous: every key present, empty.
	r, _ = newRequest("GET", "/v1/other", caller{})
	in, err = env.h.buildInput(r)
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]any{
		"method":    "GET",
		"path":      "/v1/other",
		"segments":  []any{"v1", "other"},
		"route":     map[string]any{"template": "", "resource_type": "", "resource_id": ""},
		"user":      map[string]any{"sub": "", "claims": map[string]any{}},
		"client_ip": "192.0.2.10",
		"time":      "2026-05-01T12:00:00.000000123Z",
		"resource":  map[string]any{"type": "", "id": "", "owner": "", "exists": false},
	}
	if got := document(t, in); !reflect.DeepEqual(got, want) {
		t.Errorf("input\n got %#v\nwant %#v", got, want)
	}
}

// TestClientGoneIsNoStoreFailure: an owner lookup that fails because the
// client hung up is no store outage and no policy decision: 499, nothing
// counted, no policy_denied audit event.
func TestClientGoneIsNoStoreFailure(t *testing.T) {
	env := mustProvision(t, &Handler{PolicyDir: repoPolicies})
	env.h.store = failingStore{env.store}
	before := testutil.ToFloat64(decisions.WithLabelValues(resultStoreUnavailable))
	r, w := newRequest("GET", "/v1/payment_intents/pi_1", caller{user: "alice"})
	ctx, cancel := context.WithCancel(r.Context())
	cancel()
	err := env.h.ServeHTTP(w, r.WithContext(ctx), caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		t.Error("next ran")
		return nil
	}))
	if he, ok := errors.AsType[caddyhttp.HandlerError](err); !ok || he.StatusCode != apierror.StatusClientClosedRequest {
		t.Fatalf("ServeHTTP = %v, want 499", err)
	}
	if got := testutil.ToFloat64(decisions.WithLabelValues(resultStoreUnavailable)); got != before {
		t.Errorf("store_unavailable counted: %v, want %v", got, before)
	}
	if n := env.logs.FilterField(zap.String("action", "policy_denied")).Len(); n != 0 {
		t.Errorf("%d policy_denied audit events", n)
	}
}

// failingStore is a store whose reads fail as an unreachable Redis does.
type failingStore struct{ store.Store }

func (failingStore) Get(context.Context, string) ([]byte, bool, error) {
	return nil, false, store.ErrUnavailable
}

func TestStoreUnavailableFailsClosed(t *testing.T) {
	env := mustProvision(t, &Handler{PolicyDir: repoPolicies})
	env.h.store = failingStore{env.store}
	before := testutil.ToFloat64(decisions.WithLabelValues(resultStoreUnavailable))
	r, w := newRequest("GET", "/v1/payment_intents/pi_1", caller{user: "alice"})
	out := serve(t, env.h, r, w)
	if out.passed || out.status != 503 || out.err.Code != "store_unavailable" {
		t.Fatalf("got passed=%v %d %v, want 503 store_unavailable", out.passed, out.status, out.err)
	}
	if got := testutil.ToFloat64(decisions.WithLabelValues(resultStoreUnavailable)); got != before+1 {
		t.Errorf("store_unavailable counter %v, want %v", got, before+1)
	}
	// Collection routes need no lookup and still work.
	r, w = newRequest("GET", "/v1/payment_methods", caller{user: "alice"})
	if out := serve(t, env.h, r, w); !out.passed {
		t.Fatalf("collection route refused: %v", out.err)
	}
}

// TestDecisionSemantics checks that only {"allow": true} allows, with
// policies that answer in every other way.
func TestDecisionSemantics(t *testing.T) {
	tests := []struct {
		name, policy, query string
		wantResult          string
	}{
		{name: "allow", policy: `decision := {"allow": true}`, wantResult: resultAllow},
		{name: "allow false", policy: `decision := {"allow": false, "reason": "nope"}`, wantResult: resultDeny},
		{name: "allow missing", policy: `decision := {"reason": "x"}`, wantResult: resultDeny},
		{name: "allow is a string", policy: `decision := {"allow": "true"}`, wantResult: resultDeny},
		{name: "allow is 1", policy: `decision := {"allow": 1}`, wantResult: resultDeny},
		{name: "bare true", policy: `decision := true`, wantResult: resultInvalid},
		{name: "array", policy: `decision := [{"allow": true}]`, wantResult: resultInvalid},
		{name: "undefined", policy: `decision := {"allow": true} if input.nothing`, wantResult: resultUndefined},
		{name: "no such rule", policy: `other := 1`, wantResult: resultUndefined},
		{name: "two results", policy: "decisions contains {\"allow\": true}\ndecisions contains {\"allow\": true, \"reason\": \"again\"}", query: "data.t.decisions[_]", wantResult: resultInvalid},
		{name: "conflict", policy: "decision := {\"allow\": true} if input.method\ndecision := {\"allow\": false} if input.path", wantResult: resultEvalError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writePolicy(t, map[string]string{"t.rego": "package t\n" + tt.policy + "\n"})
			query := tt.query
			if query == "" {
				query = "data.t.decision"
			}
			env := mustProvision(t, &Handler{PolicyDir: dir, Query: query})
			before := testutil.ToFloat64(decisions.WithLabelValues(tt.wantResult))
			for _, path := range []string{"/v1/payment_intents/pi_1", "/v1/payment_methods"} {
				r, w := newRequest("GET", path, caller{user: "alice"})
				out := serve(t, env.h, r, w)
				if tt.wantResult == resultAllow {
					if !out.passed {
						t.Fatalf("%s: refused: %v", path, out.err)
					}
					continue
				}
				if out.passed {
					t.Fatalf("%s: passed on, want a deny", path)
				}
				want := map[string]int{"/v1/payment_intents/pi_1": 404, "/v1/payment_methods": 403}[path]
				if out.status != want {
					t.Errorf("%s: status %d, want %d", path, out.status, want)
				}
			}
			if got := testutil.ToFloat64(decisions.WithLabelValues(tt.wantResult)); got != before+2 {
				t.Errorf("%s counter went from %v to %v, want +2", tt.wantResult, before, got)
			}
		})
	}
}

func TestPolicyDirThatDoesNotCompile(t *testing.T) {
	dir := writePolicy(t, map[string]string{"bad.rego": "package t\ndecision := {\"allow\": true} if {\n"})
	if _, err := provisionHandler(t, &Handler{PolicyDir: dir}); err == nil {
		t.Fatal("a policy with a syntax error was accepted")
	}
	dir = writePolicy(t, map[string]string{"bad.rego": "package t\ndecision := {\"allow\": x}\n"})
	if _, err := provisionHandler(t, &Handler{PolicyDir: dir}); err == nil {
		t.Fatal("a policy with an unsafe variable was accepted")
	}
	if _, err := provisionHandler(t, &Handler{PolicyDir: t.TempDir() + "/missing"}); err == nil {
		t.Fatal("a missing policy_dir was accepted")
	}
}

func TestPolicyDirSkipsTestsAndOtherFiles(t *testing.T) {
	// The policies/ folder itself: Go files, a README and Rego tests next to
	// the policy.
	env := mustProvision(t, &Handler{PolicyDir: "../../policies"})
	env.own(t, "pi_1", "alice")
	r, w := newRequest("GET", "/v1/payment_intents/pi_1", caller{user: "alice"})
	if out := serve(t, env.h, r, w); !out.passed {
		t.Fatalf("refused: %v", out.err)
	}
	if len(env.h.engine.manager.GetCompiler().GetRulesExact(ast.MustParseRef("data.paygate.authz_test.test_owner_reads_intent"))) != 0 {
		t.Error("Rego tests were loaded into the running policy")
	}
}

// TestPolicyDirPlaceholder: policy_dir takes placeholders, and an unset one
// fails the load rather than reading a directory named "{env...}".
func TestPolicyDirPlaceholder(t *testing.T) {
	t.Setenv("OPA_AUTHZ_TEST_POLICIES", repoPolicies)
	mustProvision(t, &Handler{PolicyDir: "{env.OPA_AUTHZ_TEST_POLICIES}"})
	if _, err := provisionHandler(t, &Handler{PolicyDir: "{env.OPA_AUTHZ_TEST_UNSET}"}); err == nil || !strings.Contains(err.Error(), "policy_dir") {
		t.Errorf("unset policy_dir placeholder: err = %v, want one naming policy_dir", err)
	}
}

// document is in's input document as the Go values a policy's JSON has.
func document(t *testing.T, in *input) any {
	t.Helper()
	doc, err := ast.JSON(in.value())
	if err != nil {
		t.Fatal(err)
	}
	return doc
}
