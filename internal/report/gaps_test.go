package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/propwatch/propwatch/internal/parse"
)

var (
	pairProduce = PairKey{Source: "checkout", Destination: "orders", Protocol: "kafka"}
	pairFetch   = PairKey{Source: "orders", Destination: "billing", Protocol: "kafka"}
)

// gapAggregator has a Kafka pair with records and gaps, a pair with gaps
// only, and an HTTP pair without any.
func gapAggregator() *Aggregator {
	a := NewAggregator(AggregatorConfig{})
	recordN(a, pairProduce, 3, parse.Valid)
	recordN(a, pairProduce, 1, parse.Missing)
	a.Gap(pairProduce, "kafka.codec_error", 10)
	a.Gap(pairProduce, "kafka.codec_error", 5)
	a.Gap(pairProduce, "kafka.batch_truncated", -1) // count unknown
	a.Gap(pairFetch, "kafka.unknown_topic_id", 7)
	recordN(a, PairKey{Source: "web", Destination: "api", Protocol: "http"}, 2, parse.Valid)
	return a
}

func TestGapCounts(t *testing.T) {
	s := gapAggregator().Snapshot()
	p := pairOf(t, s, pairProduce)
	if p.Requests != 4 || p.MissingContext != 1 || p.GapRecords != 15 || p.GapTotal() != 3 ||
		p.CoverageGaps["kafka.codec_error"] != 2 || p.CoverageGaps["kafka.batch_truncated"] != 1 {
		t.Errorf("produce pair %+v", p)
	}
	// A gap is never a request, never missing context.
	f := pairOf(t, s, pairFetch)
	if f.Requests != 0 || f.MissingContext != 0 || f.GapRecords != 7 || f.CoverageGaps["kafka.unknown_topic_id"] != 1 {
		t.Errorf("gap-only pair %+v", f)
	}
	if h := pairOf(t, s, PairKey{Source: "web", Destination: "api", Protocol: "http"}); h.CoverageGaps != nil || h.GapRecords != 0 {
		t.Errorf("http pair has gaps: %+v", h)
	}
}

func TestGapDeepCopyAndEmptyCode(t *testing.T) {
	a := NewAggregator(AggregatorConfig{})
	a.Gap(pairProduce, "", 1)
	s := a.Snapshot()
	s.Pairs[0].CoverageGaps[ReasonUnknown] = 100
	a.Gap(pairProduce, "", 1)
	if p := a.Snapshot().Pairs[0]; p.CoverageGaps[ReasonUnknown] != 2 || p.GapRecords != 2 {
		t.Errorf("snapshot shares gap counts, or the empty code is lost: %+v", p)
	}
}

func TestGapFolds(t *testing.T) {
	a := NewAggregator(AggregatorConfig{MaxPairs: 1})
	recordN(a, pairProduce, 1, parse.Valid)
	a.Gap(pairFetch, "kafka.codec_error", 3)
	s := a.Snapshot()
	o := pairOf(t, s, PairKey{Source: OverflowName, Destination: OverflowName, Protocol: "kafka"})
	if o.Requests != 0 || o.CoverageGaps["kafka.codec_error"] != 1 || o.GapRecords != 3 || s.FoldedPairs != 1 {
		t.Errorf("overflow pair %+v, folded %d", o, s.FoldedPairs)
	}
	if a.Len() != 2 {
		t.Errorf("%d pairs", a.Len())
	}
}

func TestGapReportJSON(t *testing.T) {
	r := NewReport("node-1", t0, t1, gapAggregator().Snapshot(), nil)
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var m struct {
		Pairs []map[string]any `json:"pairs"`
	}
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	byName := map[string]map[string]any{}
	for _, p := range m.Pairs {
		byName[p["source"].(string)+"→"+p["destination"].(string)] = p
	}
	prod := byName["checkout→orders"]
	if gaps, ok := prod["coverage_gaps"].(map[string]any); !ok || gaps["kafka.codec_error"] != 2.0 || gaps["kafka.batch_truncated"] != 1.0 ||
		prod["coverage_gap_records"] != 15.0 || prod["protocol"] != "kafka" {
		t.Errorf("kafka pair %v", prod)
	}
	// Pairs without gaps keep the v1 layout they always had.
	web := byName["web→api"]
	if _, ok := web["coverage_gaps"]; ok {
		t.Errorf("http pair has coverage_gaps: %v", web)
	}
	if _, ok := web["coverage_gap_records"]; ok {
		t.Errorf("http pair has coverage_gap_records: %v", web)
	}
	if strings.Contains(buf.String(), "null") {
		t.Errorf("report has nulls:\n%s", buf.String())
	}
	back, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range back.Pairs {
		if p.Source == "checkout" && (p.CoverageGaps["kafka.codec_error"] != 2 || p.CoverageGapRecords != 15) {
			t.Errorf("round trip lost gaps: %+v", p)
		}
	}
}

func TestGapMerge(t *testing.T) {
	s := gapAggregator().Snapshot()
	r1 := NewReport("node-1", t0, t1, s, nil)
	r2 := NewReport("node-2", t0, t1, s, nil)
	old := NewReport("node-3", t0, t1, sampleSnapshot(), nil) // a report without gaps
	m, err := Merge(old, r1, r2)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Pairs {
		switch reportKey(&p) {
		case pairProduce:
			if p.CoverageGaps["kafka.codec_error"] != 4 || p.CoverageGaps["kafka.batch_truncated"] != 2 || p.CoverageGapRecords != 30 || p.Requests != 8 {
				t.Errorf("merged produce pair %+v", p)
			}
		case pairFetch:
			if p.CoverageGaps["kafka.unknown_topic_id"] != 2 || p.CoverageGapRecords != 14 || p.Requests != 0 {
				t.Errorf("merged fetch pair %+v", p)
			}
		default:
			if p.CoverageGaps != nil || p.CoverageGapRecords != 0 {
				t.Errorf("merged pair %v has gaps: %+v", reportKey(&p), p)
			}
		}
	}
	if r1.Pairs[0].CoverageGaps != nil && r1.Pairs[0].CoverageGaps["kafka.codec_error"] != 2 {
		t.Error("Merge modified an input")
	}
}

func reportKey(p *ReportPair) PairKey {
	return PairKey{Source: p.Source, Destination: p.Destination, Protocol: p.Protocol}
}

func TestGapMetrics(t *testing.T) {
	c := NewCollector(gapAggregator(), KernelCounters{})
	want := `
# HELP propwatch_coverage_gaps_total Input of the pair seen on the wire but not read (a Kafka batch cut by the capture, a codec error, an unknown topic id, ...), by reason. Gaps are not requests and never count as missing context: while this grows, the pair's counts are a lower bound.
# TYPE propwatch_coverage_gaps_total counter
propwatch_coverage_gaps_total{destination="orders",destination_namespace="",protocol="kafka",reason="kafka.batch_truncated",source="checkout",source_namespace="",tls="false"} 1
propwatch_coverage_gaps_total{destination="orders",destination_namespace="",protocol="kafka",reason="kafka.codec_error",source="checkout",source_namespace="",tls="false"} 2
propwatch_coverage_gaps_total{destination="billing",destination_namespace="",protocol="kafka",reason="kafka.unknown_topic_id",source="orders",source_namespace="",tls="false"} 1
# HELP propwatch_coverage_gap_records_total Records (requests) hidden by the pair's coverage gaps, where their number was known.
# TYPE propwatch_coverage_gap_records_total counter
propwatch_coverage_gap_records_total{destination="orders",destination_namespace="",protocol="kafka",source="checkout",source_namespace="",tls="false"} 15
propwatch_coverage_gap_records_total{destination="billing",destination_namespace="",protocol="kafka",source="orders",source_namespace="",tls="false"} 7
# HELP propwatch_requests_total Requests observed from source to destination, with or without trace context.
# TYPE propwatch_requests_total counter
propwatch_requests_total{destination="orders",destination_namespace="",protocol="kafka",source="checkout",source_namespace="",tls="false"} 4
propwatch_requests_total{destination="billing",destination_namespace="",protocol="kafka",source="orders",source_namespace="",tls="false"} 0
propwatch_requests_total{destination="api",destination_namespace="",protocol="http",source="web",source_namespace="",tls="false"} 2
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"propwatch_coverage_gaps_total", "propwatch_coverage_gap_records_total", "propwatch_requests_total"); err != nil {
		t.Error(err)
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestGapLive(t *testing.T) {
	a := gapAggregator()
	var buf bytes.Buffer
	l := NewLive(&buf, true, t0)
	if err := l.Render(a.Snapshot(), nil, t0); err != nil {
		t.Fatal(err)
	}
	out := ansi.ReplaceAllString(buf.String(), "")
	if !strings.Contains(out, "coverage gaps 4") {
		t.Errorf("header lacks the gap total:\n%s", out)
	}
	found := false
	for _, ln := range strings.Split(out, "\n") {
		if f := strings.Fields(ln); len(f) > 3 && f[0] == "checkout" {
			found = true
			if f[11] != "3" {
				t.Errorf("row %q: GAPS is not 3", ln)
			}
		}
	}
	if !found {
		t.Errorf("no checkout row:\n%s", out)
	}

	// Plain lines: a pair whose gaps moved gets a line even when its
	// requests did not.
	buf.Reset()
	l = NewLive(&buf, false, t0)
	if err := l.Render(a.Snapshot(), nil, t0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "coverage_gaps=4 ") || !strings.Contains(buf.String(), "source=orders destination=billing protocol=kafka requests=0 new_requests=0") {
		t.Errorf("plain frame:\n%s", buf.String())
	}
	buf.Reset()
	a.Gap(pairFetch, "kafka.codec_error", 1)
	if err := l.Render(a.Snapshot(), nil, t0); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "source=orders destination=billing") || !strings.Contains(lines[1], " coverage_gaps=2 ") {
		t.Errorf("after a new gap:\n%s", buf.String())
	}
}
