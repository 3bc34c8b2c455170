package opaauthz

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestDecisionCacheReads checks which policies are cached and which input
// keys their cache key holds.
func TestDecisionCacheReads(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy string
		// want is the key's fields; 0 with cached false for no cache.
		want   inputFields
		cached bool
	}{
		{"fields", `package p
decision := {"allow": input.method == "GET", "owner": input.resource.owner, "role": input.user.claims.role}`,
			fieldMethod | fieldResource | fieldUser, true},
		{"no input", `package p
decision := {"allow": true}`, 0, true},
		{"reads the time", `package p
decision := {"allow": input.time > "2026"}`, 0, false},
		{"calls time.now_ns", `package p
decision := {"allow": time.now_ns() > 0, "m": input.method}`, 0, false},
		{"calls a non-deterministic built-in in a function", `package p
f(x) := rand.intn(x, 10)
decision := {"allow": f("a") > 0}`, 0, false},
		{"whole input", `package p
decision := {"allow": count(input) > 0}`, 0, false},
		{"input by a variable key", `package p
decision := {"allow": true, "v": [v | some k; v := input[k]]}`, 0, false},
		{"with input", `package p
inner := input.method
decision := {"allow": x == "GET"} if {
	x := inner with input.method as "GET"
}`, 0, false},
		{"reads the client IP and the path", `package p
decision := {"allow": input.client_ip == "x", "p": input.path}`, fieldClientIP | fieldPath, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ast.ParseModuleWithOpts("p.rego", tc.policy, ast.ParserOptions{RegoVersion: ast.RegoV1})
			if err != nil {
				t.Fatal(err)
			}
			c := ast.NewCompiler()
			if c.Compile(map[string]*ast.Module{"p.rego": m}); c.Failed() {
				t.Fatal(c.Errors)
			}
			cache := newDecisionCache(ast.MustParseBody("data.p.decision"), c.Modules)
			if got := cache != nil; got != tc.cached {
				t.Fatalf("cached = %v, want %v", got, tc.cached)
			}
			if cache != nil && cache.fields != tc.want {
				t.Errorf("fields = %b, want %b", cache.fields, tc.want)
			}
		})
	}
}

// TestDecisionCacheKey checks that inputs differing in a read key never
// share a cache entry, and that those differing only in unread keys do.
func TestDecisionCacheKey(t *testing.T) {
	c := &decisionCache{fields: fieldMethod | fieldRoute | fieldUser | fieldResource}
	base := input{method: "GET", segments: []string{"v1", "x"}, sub: "alice", claims: []claim{{"role", "a"}},
		resourceID: "pi_1", owner: "alice", exists: true, clientIP: "192.0.2.1", now: time.Unix(1, 0)}
	same := base
	same.clientIP, same.now, same.segments = "192.0.2.2", time.Unix(2, 0), []string{"v1", "y"}
	if c.key(&base) != c.key(&same) {
		t.Error("keys differ in unread keys only")
	}
	for name, change := range map[string]func(*input){
		"method":        func(in *input) { in.method = "POST" },
		"sub":           func(in *input) { in.sub = "bob" },
		"claim value":   func(in *input) { in.claims = []claim{{"role", "b"}} },
		"claim name":    func(in *input) { in.claims = []claim{{"rolf", "a"}} },
		"no claim":      func(in *input) { in.claims = nil },
		"owner":         func(in *input) { in.owner = "bob" },
		"exists":        func(in *input) { in.exists = false },
		"resource id":   func(in *input) { in.resourceID = "pi_2" },
		"shifted bytes": func(in *input) { in.sub, in.claims = "alice1:", []claim{{"ole", "a"}} },
	} {
		other := base
		change(&other)
		if c.key(&base) == c.key(&other) {
			t.Errorf("%s: the key did not change", name)
		}
	}
}

// TestDecisionCacheServes runs the shipped policy: a repeated request is
// served from the cache, still logged with a decision ID of its own; a
// change in what the policy reads (the owner) is a new decision.
func TestDecisionCacheServes(t *testing.T) {
	env := mustProvision(t, &Handler{PolicyDir: repoPolicies, Claims: []string{"role"}})
	env.own(t, "pi_c", "alice")
	hits, misses := testutil.ToFloat64(cacheHits), testutil.ToFloat64(cacheMisses)

	alice := caller{user: "alice", claims: map[string]string{"role": "customer"}}
	for range 2 {
		r, w := newRequest("GET", "/v1/payment_intents/pi_c", alice)
		if out := serve(t, env.h, r, w); !out.passed {
			t.Fatalf("refused: %v", out.err)
		}
	}
	if got := testutil.ToFloat64(cacheMisses) - misses; got != 1 {
		t.Errorf("misses = %v, want 1", got)
	}
	if got := testutil.ToFloat64(cacheHits) - hits; got != 1 {
		t.Errorf("hits = %v, want 1", got)
	}
	// Both decisions are logged, each with its own ID, input and result.
	entries := env.decisionLogs(t, 2)
	ids := map[any]bool{}
	for _, e := range entries {
		m := e.ContextMap()
		ids[m["decision_id"]] = true
		result, _ := m["result"].(map[string]any)
		input, _ := m["input"].(map[string]any)
		if result["allow"] != true || result["reason"] != "owner" || input["path"] != "/v1/payment_intents/pi_c" {
			t.Errorf("decision log entry %v", m)
		}
	}
	if len(ids) != 2 {
		t.Errorf("decision IDs %v, want two different ones", ids)
	}

	env.own(t, "pi_c", "bob")
	r, w := newRequest("GET", "/v1/payment_intents/pi_c", alice)
	if out := serve(t, env.h, r, w); out.passed {
		t.Error("a cached allow outlived a change of owner")
	}
}

// TestDecisionCacheLogsEachInput checks that a decision served from the
// cache is logged with its own request's input: its own time, and its own
// client IP when only that differs (the shipped policy does not read it),
// masked (the e-mail claim erased) each time, also when the cached input
// is reused by many requests at once (run with -race: masking changes each
// event's input).
func TestDecisionCacheLogsEachInput(t *testing.T) {
	env := mustProvision(t, &Handler{PolicyDir: repoPolicies, Claims: []string{"role", "email"}})
	env.own(t, "pi_c", "alice")
	var clock atomic.Int64
	clock.Store(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	env.h.now = func() time.Time { return time.Unix(0, clock.Add(1)).UTC() }
	hits := testutil.ToFloat64(cacheHits)

	alice := caller{user: "alice", claims: map[string]string{"role": "customer", "email": "alice@example.com"}}
	get := func(ip string) {
		r, w := newRequest("GET", "/v1/payment_intents/pi_c", alice)
		caddyhttp.SetVar(r.Context(), caddyhttp.ClientIPVarKey, ip)
		if out := serve(t, env.h, r, w); !out.passed {
			t.Errorf("refused: %v", out.err)
		}
	}
	get("192.0.2.1")
	get("192.0.2.2")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				get("192.0.2.1")
			}
		})
	}
	wg.Wait()
	if got := testutil.ToFloat64(cacheHits) - hits; got != 81 {
		t.Errorf("cache hits = %v, want 81", got)
	}

	entries := env.decisionLogs(t, 82)
	times := map[string]bool{}
	for i, e := range entries {
		input, _ := e.ContextMap()["input"].(map[string]any)
		wantIP := "192.0.2.1"
		if i == 1 {
			wantIP = "192.0.2.2"
		}
		if erased, _ := e.ContextMap()["erased"].([]any); len(erased) != 1 || erased[0] != "/input/user/claims/email" {
			t.Errorf("entry %d: erased %v, want the e-mail claim", i, erased)
		}
		user, _ := input["user"].(map[string]any)
		claims, _ := user["claims"].(map[string]any)
		if input["client_ip"] != wantIP || input["path"] != "/v1/payment_intents/pi_c" || len(claims) != 1 || claims["role"] != "customer" {
			t.Errorf("entry %d: input %v, want client_ip %s and the role claim alone", i, input, wantIP)
		}
		ts, _ := input["time"].(string)
		if !strings.HasPrefix(ts, "2026-05-01T12:00:00.0000000") || times[ts] {
			t.Errorf("entry %d: time %q, want a new one of the test's clock", i, ts)
		}
		times[ts] = true
	}
}
