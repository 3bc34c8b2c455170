package opaauthz

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/store"
)

// routePolicy is a policy in the shipped one's shape for a custom API of
// resources object_00 to object_<n-1>, each with five routes: a collection
// (POST /v1/object_NNs) and four owner operations on one object (GET
// /v1/object_NNs/{id}, POST .../confirm, .../cancel and .../capture). It
// writes the policy (the shipped authz.rego with its two operation sets
// replaced, and the shipped log.rego) to a new directory, and returns the
// directory and the opa_authz routes for its templates.
func routePolicy(b *testing.B, n int) (string, []Route) {
	b.Helper()
	var owner, collection []string
	var routes []Route
	for i := range n {
		typ := fmt.Sprintf("object_%02d", i)
		base := "/v1/" + typ + "s"
		collection = append(collection, fmt.Sprintf(`{"method": "POST", "template": %q}`, base))
		routes = append(routes, Route{Template: base, ResourceType: typ})
		for _, op := range []struct{ method, suffix string }{{"GET", ""}, {"POST", "/confirm"}, {"POST", "/cancel"}, {"POST", "/capture"}} {
			template := base + "/{id}" + op.suffix
			owner = append(owner, fmt.Sprintf(`{"method": %q, "template": %q, "type": %q}`, op.method, template, typ))
			routes = append(routes, Route{Template: template, ResourceType: typ})
		}
	}
	authz, err := os.ReadFile(filepath.Join(repoPolicies, "authz.rego"))
	if err != nil {
		b.Fatal(err)
	}
	src := replaceSet(b, string(authz), "owner_operations", owner)
	src = replaceSet(b, src, "collection_operations", collection)
	dir := writePolicy(b, map[string]string{"authz.rego": src})
	log, err := os.ReadFile(filepath.Join(repoPolicies, "log.rego"))
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "log.rego"), log, 0o644); err != nil {
		b.Fatal(err)
	}
	return dir, routes
}

// replaceSet replaces the members of the set literal "name := {...}" in
// the Rego source src.
func replaceSet(b *testing.B, src, name string, members []string) string {
	b.Helper()
	head := name + " := {\n"
	start := strings.Index(src, head)
	end := strings.Index(src[max(start, 0):], "\n}\n")
	if start < 0 || end < 0 {
		b.Fatalf("no set %s in the shipped policy", name)
	}
	return src[:start] + head + "\t" + strings.Join(members, ",\n\t") + ",\n}\n" + src[start+end+len("\n}\n"):]
}

// BenchmarkPolicySize is the stage on an allowed owner's request on a
// resource route, with the shipped policy (9 operations on the payment
// API's routes) and with one of 50 operations on 50 route templates in the
// same shape, decision logs off and on the console (the default). Each
// request looks its owner up in the memory store.
func BenchmarkPolicySize(b *testing.B) {
	const id = "pi_3MtwBwLkdIwHu7ix28a3tqPa"
	dir50, routes50 := routePolicy(b, 10)
	if len(routes50) != 50 {
		b.Fatalf("%d routes, want 50", len(routes50))
	}
	policies := []struct {
		name   string
		dir    string
		routes []Route
		target string
	}{
		{"policy=shipped", repoPolicies, nil, "/v1/payment_intents/" + id + "/confirm"},
		{"policy=routes_50", dir50, routes50, "/v1/object_09s/" + id + "/confirm"},
	}
	logs := []struct {
		name string
		dl   *DecisionLogConfig
	}{
		{"decision_log=off", &DecisionLogConfig{Disabled: true}},
		{"decision_log=console", nil},
	}
	for _, p := range policies {
		for _, dl := range logs {
			b.Run(p.name+"/"+dl.name, func(b *testing.B) {
				s := store.NewMemory(time.Now)
				b.Cleanup(func() { _ = s.Close() })
				h := provisionOn(b, &Handler{PolicyDir: p.dir, Routes: p.routes, Claims: []string{"role"}, DecisionLog: dl.dl}, s, id)
				serveAllowed(b, h, http.MethodPost, p.target)
			})
		}
		// What a decision-cache miss costs: the input and the policy's
		// evaluation, every time.
		b.Run(p.name+"/evaluation", func(b *testing.B) {
			s := store.NewMemory(time.Now)
			b.Cleanup(func() { _ = s.Close() })
			h := provisionOn(b, &Handler{PolicyDir: p.dir, Routes: p.routes, Claims: []string{"role"}, DecisionLog: &DecisionLogConfig{Disabled: true}}, s, id)
			r, _ := newRequest(http.MethodPost, p.target, caller{user: "user_42", claims: map[string]string{"role": "customer"}})
			in, err := h.buildInput(r)
			if err != nil {
				b.Fatal(err)
			}
			snap := h.engine.snap.Load()
			b.ReportAllocs()
			for b.Loop() {
				rs, err := snap.eval(context.Background(), in.value(), in.now)
				if d := interpret(rs, err); !d.allowed() {
					b.Fatalf("decision %+v", d)
				}
			}
		})
	}
}
