package payments

import (
	"bytes"
	"strings"
	"testing"
)

// reindex finds the paygate app and the one payments handler wherever the
// Caddyfile adapter put it (subroutes), identical copies counting once.
func TestReindexConfig(t *testing.T) {
	handler := `{"handler":"payments","stripe_key":"{env.STRIPE_SECRET_KEY}","catalog":"/c.json"}`
	route := func(h string) string {
		return `{"handle":[{"handler":"subroute","routes":[{"handle":[` + h + `]}]}]}`
	}
	cfg := func(routes ...string) []byte {
		return []byte(`{"apps":{"paygate":{"store":{"backend":"redis"}},"http":{"servers":{"a":{"routes":[` + strings.Join(routes, ",") + `]}}}}}`)
	}
	app, h, err := reindexConfig(cfg(route(handler), route(handler)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(app), `"redis"`) || !strings.Contains(string(h), `"stripe_key":"{env.STRIPE_SECRET_KEY}"`) {
		t.Errorf("app %s, handler %s", app, h)
	}
	if _, _, err := reindexConfig(cfg(route(`{"handler":"static_response"}`))); err == nil || !strings.Contains(err.Error(), "no payments handler") {
		t.Errorf("no handler: %v", err)
	}
	other := strings.Replace(handler, "/c.json", "/d.json", 1)
	if _, _, err := reindexConfig(cfg(route(handler), route(other))); err == nil || !strings.Contains(err.Error(), "2 payments handlers") {
		t.Errorf("two handlers: %v", err)
	}
}

func TestPrintReindex(t *testing.T) {
	var b bytes.Buffer
	printReindex(&b, ReindexSummary{Customers: 2, Recorded: 5, Present: 1, Conflicts: []string{"pi_1 (recorded otherwise; kept)"}}, false)
	want := "customers: 2\nrecorded: 5\nalready present: 1\nconflicts: 1\n  conflict: pi_1 (recorded otherwise; kept)\n"
	if b.String() != want {
		t.Errorf("summary:\n%s\nwant:\n%s", b.String(), want)
	}
}
