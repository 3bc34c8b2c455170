package testenv

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metricsClient scrapes the admin API.
var metricsClient = &http.Client{Timeout: clientTimeout}

// Metrics is one scrape of a Prometheus text exposition, by series.
type Metrics map[string]float64

// ParseMetrics reads the Prometheus text format: each counter, gauge and
// untyped sample under its series, written as /metrics writes it
// (name{label="value",...}, labels in name order), and each histogram's
// name_count and name_sum series (not its buckets).
func ParseMetrics(r io.Reader) (Metrics, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, err
	}
	m := Metrics{}
	for name, f := range families {
		for _, s := range f.GetMetric() {
			var v float64
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				v = s.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				v = s.GetGauge().GetValue()
			case dto.MetricType_UNTYPED:
				v = s.GetUntyped().GetValue()
			case dto.MetricType_HISTOGRAM:
				// Its sample count and sum, as the exposition writes
				// them; the buckets are left out.
				m[seriesKey(name+"_count", s.GetLabel())] = float64(s.GetHistogram().GetSampleCount())
				m[seriesKey(name+"_sum", s.GetLabel())] = s.GetHistogram().GetSampleSum()
				continue
			default:
				continue
			}
			m[seriesKey(name, s.GetLabel())] = v
		}
	}
	return m, nil
}

// seriesKey writes a series the one way Metrics is keyed by.
func seriesKey(name string, labels []*dto.LabelPair) string {
	if len(labels) == 0 {
		return name
	}
	pairs := make([]string, len(labels))
	for i, l := range labels {
		pairs[i] = l.GetName() + "=" + strconv.Quote(l.GetValue())
	}
	slices.Sort(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

// canonicalSeries is series (name{label="value",...}, labels in any order)
// as Metrics keys it.
func canonicalSeries(series string) (string, error) {
	m, err := ParseMetrics(strings.NewReader(series + " 0\n"))
	keys := slices.Collect(maps.Keys(m))
	if err != nil || len(keys) != 1 {
		return "", fmt.Errorf("series %q: want name{label=\"value\",...} (%v)", series, err)
	}
	return keys[0], nil
}

// Value is the value of series, name{label="value",...} with the complete
// label set in any order. A series not (yet) exposed is 0, as an unused
// counter or an unset gauge would be.
func (m Metrics) Value(series string) (float64, error) {
	key, err := canonicalSeries(series)
	if err != nil {
		return 0, err
	}
	return m[key], nil
}

// Family returns the series of the metric name (every label set), by
// series as Metrics keys them.
func (m Metrics) Family(name string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			out[k] = v
		}
	}
	return out
}

// Metrics scrapes the admin API's /metrics, failing the test when it cannot.
func (p *Paygate) Metrics(t testing.TB) Metrics {
	t.Helper()
	resp, err := metricsClient.Get(p.AdminURL + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: status %d", resp.StatusCode)
	}
	m, err := ParseMetrics(resp.Body)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	return m
}

// Metric is the value of series (see Metrics.Value) in one scrape: a
// baseline to compare with after an action. To see the effect of an
// action, which may be counted after its response has arrived, wait for it
// with WaitForMetric.
func (p *Paygate) Metric(t testing.TB, series string) float64 {
	t.Helper()
	v, err := p.Metrics(t).Value(series)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// WaitForMetric scrapes until the value of series (see Metrics.Value)
// satisfies want, and returns it; it fails the test, with the last value,
// when that does not happen within WaitTimeout.
func (p *Paygate) WaitForMetric(t testing.TB, series string, want func(v float64) bool) float64 {
	t.Helper()
	key, err := canonicalSeries(series)
	if err != nil {
		t.Fatal(err)
	}
	var last float64
	EventuallyTelling(t, func() string { return fmt.Sprintf("%s (last scraped: %v)", series, last) }, func() bool {
		last = p.Metrics(t)[key]
		return want(last)
	})
	return last
}

// MetricIs is a want for WaitForMetric: the value v.
func MetricIs(v float64) func(float64) bool {
	return func(got float64) bool { return got == v }
}

// MetricAbove is a want for WaitForMetric: a value greater than v.
func MetricAbove(v float64) func(float64) bool {
	return func(got float64) bool { return got > v }
}
