package e2e

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/paygate/paygate/internal/testenv"
)

// The monitoring files an operator installs (issue #15, item 3), relative
// to the repository.
const (
	monitoringRules     = "deploy/monitoring/paygate-alerts.yaml"
	monitoringRuleTests = "deploy/monitoring/paygate-alerts_test.yaml"
	monitoringDashboard = "deploy/monitoring/paygate-dashboard.json"
)

// monitoringRunbooks are the runbooks under docs/runbooks/ an alert may
// link to.
var monitoringRunbooks = []string{
	"rotate-jwks.md", "rotate-webhook-secret.md", "rotate-stripe-key.md",
	"incident-leaked-key.md", "policy-bundle-release.md", "redis-failover.md",
	"store-loss.md",
}

// monitoringExternal are the metrics the rules read from exporters other
// than paygate, and which.
var monitoringExternal = map[string]string{
	// Caddy exposes no certificate expiry.
	"probe_ssl_earliest_cert_expiry": "blackbox_exporter",
}

// alertRules is the part of a Prometheus rule file the tests read.
type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// alertRuleTests is the part of a promtool test file the tests read.
type alertRuleTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name  string `yaml:"name"`
		Cases []struct {
			Alertname string           `yaml:"alertname"`
			ExpAlerts []map[string]any `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// grafanaPanel is a dashboard panel, or a row holding panels.
type grafanaPanel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *grafanaSource `json:"datasource"`
	Targets    []struct {
		Expr       string         `json:"expr"`
		Datasource *grafanaSource `json:"datasource"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"`
}

type grafanaSource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// grafanaDashboard is the part of a dashboard's JSON the tests read.
type grafanaDashboard struct {
	SchemaVersion int `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Definition string          `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
	Panels []grafanaPanel `json:"panels"`
}

func readAlertRules(t *testing.T) alertRules {
	t.Helper()
	var r alertRules
	if err := yaml.Unmarshal(deployRead(t, monitoringRules), &r); err != nil {
		t.Fatalf("%s: %v", monitoringRules, err)
	}
	return r
}

func readDashboard(t *testing.T) grafanaDashboard {
	t.Helper()
	var d grafanaDashboard
	if err := json.Unmarshal(deployRead(t, monitoringDashboard), &d); err != nil {
		t.Fatalf("%s: %v", monitoringDashboard, err)
	}
	return d
}

// dashboardPanels is every panel of d that shows data, the panels of
// collapsed rows included.
func dashboardPanels(d grafanaDashboard) []grafanaPanel {
	var out []grafanaPanel
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			out = append(out, p)
		}
	}
	walk(d.Panels)
	return out
}

// TestMonitoringPromtool runs promtool on the alert rules and their unit
// tests, from the directory they are installed from.
func TestMonitoringPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	testenv.Require(t, "promtool (Debian package prometheus)", err)
	dir := deployAbs(t, filepath.Dir(monitoringRules))
	for _, args := range [][]string{
		{"check", "rules", filepath.Base(monitoringRules)},
		{"test", "rules", filepath.Base(monitoringRuleTests)},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestMonitoringAlertsComplete: every alert waits (for), has a severity, a
// summary, a description and a runbook, and the unit tests show it firing
// and, in a test of its own, silent; a test never names an alert that does
// not exist (promtool would pass it, seeing no such alert fire).
func TestMonitoringAlertsComplete(t *testing.T) {
	rules := readAlertRules(t)
	alerts := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: a rule without alert (recording rules belong elsewhere)", g.Name)
				continue
			}
			if alerts[r.Alert] {
				t.Errorf("alert %s defined twice", r.Alert)
			}
			alerts[r.Alert] = true
			if d, err := model.ParseDuration(r.For); err != nil || d <= 0 {
				t.Errorf("%s: for %q, want a duration above 0 (%v)", r.Alert, r.For, err)
			}
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", r.Alert, s)
			}
			for _, a := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s annotation", r.Alert, a)
				}
			}
			runbook := r.Annotations["runbook_url"]
			if !slices.ContainsFunc(monitoringRunbooks, func(name string) bool { return strings.HasSuffix(runbook, "/docs/runbooks/"+name) }) {
				t.Errorf("%s: runbook_url %q, want .../docs/runbooks/ and one of %v", r.Alert, runbook, monitoringRunbooks)
			}
		}
	}

	var tests alertRuleTests
	if err := yaml.Unmarshal(deployRead(t, monitoringRuleTests), &tests); err != nil {
		t.Fatalf("%s: %v", monitoringRuleTests, err)
	}
	if want := []string{filepath.Base(monitoringRules)}; !slices.Equal(tests.RuleFiles, want) {
		t.Errorf("rule_files = %v, want %v", tests.RuleFiles, want)
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		firesHere := map[string]bool{}
		for _, c := range tc.Cases {
			if !alerts[c.Alertname] {
				t.Errorf("test %q checks %q, which is no alert", tc.Name, c.Alertname)
			}
			if len(c.ExpAlerts) > 0 {
				firesHere[c.Alertname] = true
			}
		}
		for _, c := range tc.Cases {
			fires[c.Alertname] = fires[c.Alertname] || firesHere[c.Alertname]
			silent[c.Alertname] = silent[c.Alertname] || !firesHere[c.Alertname]
		}
	}
	for a := range alerts {
		if !fires[a] {
			t.Errorf("%s: no test in which it fires", a)
		}
		if !silent[a] {
			t.Errorf("%s: no test in which it stays silent", a)
		}
	}
}

// TestMonitoringDashboardShape: the dashboard asks for its Prometheus data
// source (the datasource variable), and every panel queries through it.
func TestMonitoringDashboardShape(t *testing.T) {
	d := readDashboard(t)
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d, want 36 or later", d.SchemaVersion)
	}
	hasSource := false
	for _, v := range d.Templating.List {
		if v.Name == "datasource" && v.Type == "datasource" && string(v.Query) == `"prometheus"` {
			hasSource = true
		}
	}
	if !hasSource {
		t.Error("no datasource variable of type datasource and query prometheus")
	}
	panels := dashboardPanels(d)
	if len(panels) == 0 {
		t.Fatal("no panels")
	}
	ids := map[int]bool{}
	for _, p := range panels {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource %+v, want uid ${datasource}", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q: no queries", p.Title)
		}
		for _, q := range p.Targets {
			if strings.TrimSpace(q.Expr) == "" || q.Datasource == nil || q.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: query %q through %+v, want an expression through ${datasource}", p.Title, q.Expr, q.Datasource)
			}
		}
	}
}

// labelValuesQuery is a Grafana variable's label_values(<selector>, <label>).
var labelValuesQuery = regexp.MustCompile(`^label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\)$`)

// monitoringMetricNames maps every metric name the alert rules and the
// dashboard (panels and variables) use to where they use it.
func monitoringMetricNames(t *testing.T) map[string][]string {
	t.Helper()
	names := map[string][]string{}
	add := func(where, expr string) {
		found := promqlMetricNames(expr)
		if len(found) == 0 {
			t.Errorf("%s: no metric in %q", where, expr)
		}
		for _, n := range found {
			if !slices.Contains(names[n], where) {
				names[n] = append(names[n], where)
			}
		}
	}
	for _, g := range readAlertRules(t).Groups {
		for _, r := range g.Rules {
			add("alert "+r.Alert, r.Expr)
		}
	}
	d := readDashboard(t)
	for _, p := range dashboardPanels(d) {
		for _, q := range p.Targets {
			add("panel "+p.Title, q.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q := v.Definition
		if m := labelValuesQuery.FindStringSubmatch(q); m != nil {
			q = m[1]
		}
		add("variable "+v.Name, q)
	}
	return names
}

// PromQL's words that stand where a metric name could: binary and set
// operators, modifiers, aggregations (which may take their by clause
// before the parenthesis), and the words followed by a list of label names.
var (
	promqlWords = map[string]bool{
		"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true,
		"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
		"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
		"limitk": true, "limit_ratio": true,
	}
	promqlLabelLists = map[string]bool{
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	}
)

// promqlMetricNames returns the metric names of a PromQL expression (with
// Grafana's $variables): the identifiers that are not in a string, a label
// matcher, a range, a label list, and that are neither a function nor one
// of PromQL's words. A name written only as __name__="..." is not seen;
// the files here do not write names that way.
func promqlMetricNames(expr string) []string {
	var names []string
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = promqlSkipString(expr, i)
		case c == '{':
			i = promqlSkipTo(expr, i, '}')
		case c == '[':
			i = promqlSkipTo(expr, i, ']')
		case c == '$':
			if i+1 < len(expr) && expr[i+1] == '{' {
				i = promqlSkipTo(expr, i+1, '}')
			} else {
				i = promqlWordEnd(expr, i+1)
			}
		case c >= '0' && c <= '9' || c == '.':
			// A number or a duration (after offset).
			i = promqlWordEnd(expr, i+1)
		case promqlWordByte(c):
			end := promqlWordEnd(expr, i)
			word := expr[i:end]
			next := end
			for next < len(expr) && (expr[next] == ' ' || expr[next] == '\t' || expr[next] == '\n') {
				next++
			}
			switch call := next < len(expr) && expr[next] == '('; {
			case promqlLabelLists[strings.ToLower(word)]:
				if call {
					end = promqlSkipTo(expr, next, ')')
				}
			case call, promqlWords[strings.ToLower(word)]:
			default:
				names = append(names, word)
			}
			i = end
		default:
			i++
		}
	}
	return names
}

func promqlWordByte(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func promqlWordEnd(expr string, i int) int {
	for i < len(expr) && (promqlWordByte(expr[i]) || expr[i] == '.') {
		i++
	}
	return i
}

// promqlSkipString returns the index after the string literal at i.
func promqlSkipString(expr string, i int) int {
	quote := expr[i]
	for i++; i < len(expr); i++ {
		switch {
		case expr[i] == '\\' && quote != '`':
			i++
		case expr[i] == quote:
			return i + 1
		}
	}
	return i
}

// promqlSkipTo returns the index after the close that ends what opens at
// i, skipping string literals.
func promqlSkipTo(expr string, i int, close byte) int {
	for i++; i < len(expr); {
		switch c := expr[i]; {
		case c == '"' || c == '\'' || c == '`':
			i = promqlSkipString(expr, i)
		case c == close:
			return i + 1
		default:
			i++
		}
	}
	return i
}

// TestMonitoringMetricNames: the extraction the existence check relies on.
func TestMonitoringMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`paygate_store_up == 0`, []string{"paygate_store_up"}},
		{`sum by (job, zone) (increase(paygate_rate_limit_decisions_total{zone=~".*declines.*|.*cards.*",outcome="refused"}[15m])) >= 5`,
			[]string{"paygate_rate_limit_decisions_total"}},
		{"sum by (job) (rate(a_total{code=~\"5..\"}[5m]))\n  / sum by (job) (rate(b_count[5m])) > 0.05\nand sum without (instance) (c_total) >= 50",
			[]string{"a_total", "b_count", "c_total"}},
		{`histogram_quantile(0.99, sum by (op, le) (rate(x_bucket{job=~"$job",instance=~"${instance}"}[$__rate_interval])))`, []string{"x_bucket"}},
		{`e_total unless on (instance) group_left (zone) f offset 1d`, []string{"e_total", "f"}},
		{`probe_ssl_earliest_cert_expiry{job=~".*paygate.*"} - time() < 14 * 86400`, []string{"probe_ssl_earliest_cert_expiry"}},
		{`count by (job) (count by (job, revision) (r_info)) > 1e3`, []string{"r_info"}},
		{`label_replace(m, "dst", "$1", "src", "(.*)")`, []string{"m"}},
	} {
		if got := promqlMetricNames(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("promqlMetricNames(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

// TestMonitoringMetricsExist: every metric the alert rules and the
// dashboard use is one paygate or Caddy exports. It runs deploy/Caddyfile
// as shipped (Caddy's request metrics are on: the global option metrics), which loads
// every paygate module that registers metrics, sends one webhook delivery
// without a signature so that Caddy's request metrics and the webhook
// counters have series, and scrapes /metrics. A family is listed there once
// it has a series: a name that is not scraped passes if it is a paygate
// collector without series yet, one that the Go code under modules/ or
// internal/ creates (Name: "..." in its options); a histogram's name
// counts through its _bucket, _sum and _count series. The test logs which
// check each name passed.
func TestMonitoringMetricsExist(t *testing.T) {
	names := monitoringMetricNames(t)

	svc := startDeployServices(t)
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Caddyfile: "../deploy/Caddyfile",
		Env: svc.with(map[string]string{
			"STRIPE_SECRET_KEY": e2eStripeKey,
			"STRIPE_API_BASE":   "http://127.0.0.1:9",
			"PAYGATE_UPSTREAM":  "127.0.0.1:9",
		}),
	})
	pg.WaitForMetric(t, `paygate_policy_bundle_revision_info{revision="1"}`, testenv.MetricIs(1))
	resp, body := postEvent(t, pg, []byte(`{}`), "", nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unsigned delivery: status %d, want 400 (body %s)", resp.StatusCode, body)
	}
	pg.WaitForMetric(t, `paygate_webhook_signature_failures_total{reason="header_missing"}`, testenv.MetricIs(1))
	var families map[string]dto.MetricType
	// Every name, waited for: a series appears once what it counts has
	// happened, and the scrape may come first.
	collectors := paygateCollectors(t, "modules", "internal")
	var missing []string
	testenv.EventuallyTelling(t, func() string {
		return "every metric the rules and the dashboard use on /metrics; missing:\n  " + strings.Join(missing, "\n  ")
	}, func() bool {
		families = scrapeFamilies(t, pg)
		missing = missing[:0]
		for _, name := range slices.Sorted(maps.Keys(names)) {
			if check, ok := metricExported(name, families, collectors); !ok {
				missing = append(missing, fmt.Sprintf("%s (used by %s): %s", name, strings.Join(names[name], ", "), check))
			}
		}
		return len(missing) == 0
	})
	for _, name := range slices.Sorted(maps.Keys(names)) {
		check, _ := metricExported(name, families, collectors)
		t.Logf("%s: %s", name, check)
	}
}

// metricExported says how name is known to exist, or why it does not:
// scraped (as a family, or as a series of a histogram, whose own name has
// no series), created by paygate's code (collectors: the name of each, with
// its file) without series yet, or read from another exporter. A
// histogram's series are only ever scraped: the code does not say which
// collectors are histograms, and every paygate histogram has series from
// the start.
func metricExported(name string, families map[string]dto.MetricType, collectors map[string]string) (string, bool) {
	if typ, ok := families[name]; ok {
		if typ == dto.MetricType_HISTOGRAM {
			return "a histogram, whose series are its _bucket, _sum and _count", false
		}
		return "scraped", true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && families[base] == dto.MetricType_HISTOGRAM {
			return "scraped, a series of the histogram " + base, true
		}
	}
	if file, ok := collectors[name]; ok {
		return "no series yet; created in " + file, true
	}
	if exporter, ok := monitoringExternal[name]; ok {
		return "exported by " + exporter, true
	}
	return "exported by neither paygate nor Caddy", false
}

// scrapeFamilies is every metric family on pg's /metrics, by type.
func scrapeFamilies(t *testing.T, pg *testenv.Paygate) map[string]dto.MetricType {
	t.Helper()
	resp, err := http.Get(pg.AdminURL + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: status %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	families := make(map[string]dto.MetricType, len(parsed))
	for name, f := range parsed {
		families[name] = f.GetType()
	}
	return families
}

// collectorName is the name in a Prometheus collector's options, as
// paygate's code writes it.
var collectorName = regexp.MustCompile(`\bName:\s+"(paygate_[a-z0-9_:]+)"`)

// paygateCollectors maps the name of every collector the non-test Go files
// under dirs (of the repository) create to the file that creates it.
func paygateCollectors(t *testing.T, dirs ...string) map[string]string {
	t.Helper()
	root := deployAbs(t, ".")
	names := map[string]string{}
	for _, dir := range dirs {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			for _, m := range collectorName.FindAllSubmatch(src, -1) {
				names[string(m[1])] = rel
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return names
}
