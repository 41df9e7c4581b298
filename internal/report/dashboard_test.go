package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// dashboardPath is the Grafana dashboard for propwatch's metrics.
var dashboardPath = filepath.Join("..", "..", "deploy", "grafana-dashboard.json")

// targetLabels are the labels Prometheus adds to every series it scrapes:
// the dashboard may split by node with them though propwatch does not
// export them.
var targetLabels = []string{"instance", "job"}

// exported returns the series names propwatch's collector exports, each
// with its label names, by scraping collectors of aggregators that have
// something of every family to count (checked against allDescs, so that a
// new family cannot be missed). A histogram exports name_bucket (with
// le), name_sum and name_count.
func exported(t *testing.T) map[string][]string {
	t.Helper()
	full := metricsAggregator()
	full.Gap(pairAB, "kafka.batch_cut", 3)
	kernel := KernelCounters{
		Lost:   func() map[string]uint64 { return map[string]uint64{"ringbuf_full": 1} },
		Errors: func() map[string]uint64 { return map[string]uint64{"owner": 1} },
	}
	names := map[string]bool{}
	out := map[string][]string{}
	add := func(name string, labels ...string) {
		l := append(out[name], labels...)
		slices.Sort(l)
		out[name] = slices.Compact(l)
	}
	for _, c := range []prometheus.Collector{NewCollector(full, kernel), NewCollector(chainAggregator(), KernelCounters{})} {
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(c)
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			name := mf.GetName()
			names[name] = true
			var labels []string
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					labels = append(labels, lp.GetName())
				}
			}
			if mf.GetType().String() == "HISTOGRAM" {
				add(name+"_bucket", append(slices.Clone(labels), "le")...)
				add(name+"_sum", labels...)
				add(name+"_count", labels...)
				continue
			}
			add(name, labels...)
		}
	}
	if len(names) != len(allDescs) {
		t.Fatalf("the test aggregators export %d of the %d metric families: fill them in", len(names), len(allDescs))
	}
	return out
}

// promqlWords are the PromQL functions, aggregations and keywords the
// dashboard may use: any other word of a query is a metric name.
var promqlWords = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "count": true, "topk": true, "bottomk": true,
	"quantile": true, "stddev": true, "stdvar": true, "group": true, "count_values": true,
	"rate": true, "irate": true, "increase": true, "delta": true, "idelta": true, "deriv": true,
	"histogram_quantile": true, "clamp_min": true, "clamp_max": true, "clamp": true, "abs": true,
	"sum_over_time": true, "max_over_time": true, "avg_over_time": true, "min_over_time": true,
	"label_values": true, "label_replace": true, "vector": true, "scalar": true, "round": true,
	"ceil": true, "floor": true, "absent": true, "resets": true, "changes": true, "sort_desc": true,
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"bool": true, "and": true, "or": true, "unless": true, "offset": true,
}

// labelLists are the words followed by a list of label names.
var labelLists = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

var (
	grafanaVar = regexp.MustCompile(`\$\{?__[a-z_]+\}?`)
	quoted     = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	word       = regexp.MustCompile(`^[a-zA-Z_:]`)
	token      = regexp.MustCompile(`[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+|[smhdwy])?|[a-zA-Z_:][a-zA-Z0-9_:]*|=~|!~|!=|==|[(){}\[\],=]|\S`)
)

// queryNames returns the metric names and label names a PromQL query
// uses, and an error text when it uses a word that is neither.
func queryNames(expr string) (metrics, labels []string, bad string) {
	expr = grafanaVar.ReplaceAllString(expr, "5m")
	expr = quoted.ReplaceAllString(expr, `""`)
	toks := token.FindAllString(expr, -1)
	depth := 0 // inside {...}
	for i := 0; i < len(toks); i++ {
		tk := toks[i]
		next := ""
		if i+1 < len(toks) {
			next = toks[i+1]
		}
		switch {
		case tk == "{":
			depth++
		case tk == "}":
			depth--
		case !word.MatchString(tk):
		case depth > 0:
			if next != "=" && next != "=~" && next != "!=" && next != "!~" {
				return nil, nil, "odd selector at " + tk
			}
			labels = append(labels, tk)
		case tk == "label_values":
			// label_values(metric, label)
			if i+5 >= len(toks) || toks[i+3] != "," {
				return nil, nil, "odd label_values"
			}
			metrics = append(metrics, toks[i+2])
			labels = append(labels, toks[i+4])
			i += 5
		case labelLists[tk]:
			if next != "(" {
				continue // group_left without a list
			}
			for i += 2; i < len(toks) && toks[i] != ")"; i++ {
				if toks[i] != "," {
					labels = append(labels, toks[i])
				}
			}
		case promqlWords[tk]:
		default:
			metrics = append(metrics, tk)
		}
	}
	return metrics, labels, ""
}

// TestDashboardQueries: every query of deploy/grafana-dashboard.json
// (panel targets and template variables) names at least one metric, each
// metric one that propwatch's collector exports, and each label one that
// a metric of the query carries (or a label Prometheus adds at scrape).
func TestDashboardQueries(t *testing.T) {
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatal("dashboard has no uid or no panels")
	}
	queries := map[string]string{} // query: where
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			queries[tg.Expr] = "panel " + p.Title
		}
	}
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Fatalf("variable %s: %v", v.Name, err)
		}
		queries[q.Query] = "variable " + v.Name
	}

	exp := exported(t)
	used := map[string]bool{}
	for q, where := range queries {
		metrics, labels, bad := queryNames(q)
		if bad != "" || len(metrics) == 0 {
			t.Errorf("%s: %q: %s (no metric?)", where, q, bad)
			continue
		}
		carried := slices.Clone(targetLabels)
		for _, m := range metrics {
			l, ok := exp[m]
			if !ok {
				t.Errorf("%s: %q names %s, which propwatch does not export", where, q, m)
			}
			carried = append(carried, l...)
			used[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")] = true
		}
		for _, l := range labels {
			if !slices.Contains(carried, l) {
				t.Errorf("%s: %q uses label %s, which none of %v carries", where, q, l, metrics)
			}
		}
	}
	// The panels: worst pairs by missing and broken rate, baggage
	// size and bytes a second, PII findings, coverage and lost events.
	for _, m := range []string{"propwatch_context_missing_total", "propwatch_chain_broken_total", "propwatch_baggage_bytes",
		"propwatch_pii_findings_total", "propwatch_coverage_gaps_total", "propwatch_events_lost_total"} {
		if !used[m] {
			t.Errorf("no query of the dashboard uses %s", m)
		}
	}
}

// TestQueryNames checks the checker: it catches a misspelt metric, a
// label no metric carries, and a word that is neither.
func TestQueryNames(t *testing.T) {
	m, l, bad := queryNames(`topk(10, sum by (le, source) (rate(propwatch_baggage_bytes_bucket{source=~"$source", x!="a}b"}[$__rate_interval]))) / ignoring (reason) group_left sum(x_total) > 1e-9`)
	if bad != "" || strings.Join(m, ",") != "propwatch_baggage_bytes_bucket,x_total" || strings.Join(l, ",") != "le,source,source,x,reason" {
		t.Errorf("metrics %v labels %v bad %q", m, l, bad)
	}
	m, l, _ = queryNames(`label_values(propwatch_requests_total, source)`)
	if strings.Join(m, ",") != "propwatch_requests_total" || strings.Join(l, ",") != "source" {
		t.Errorf("label_values: %v %v", m, l)
	}
}
