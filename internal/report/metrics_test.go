package report

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/propwatch/propwatch/internal/parse"
	"github.com/propwatch/propwatch/internal/parse/formats"
	"github.com/propwatch/propwatch/internal/parse/pii"
	"github.com/propwatch/propwatch/internal/parse/reason"
	"github.com/propwatch/propwatch/internal/parse/w3c"
)

// drain collects c into nothing, as a scrape would.
func drain(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 256)
	done := make(chan int)
	go func() {
		n := 0
		for range ch {
			n++
		}
		done <- n
	}()
	c.Collect(ch)
	close(ch)
	return <-done
}

func metricsAggregator() *Aggregator {
	a := NewAggregator(AggregatorConfig{MaxPairs: 2})
	bag := parse.Verdict{Context: parse.Valid, Formats: formats.W3C,
		Baggage: w3c.BaggageStats{Headers: 1, Members: 3, Bytes: 300, AtRisk: false}, SuspectKeys: 1}
	bag.PII[pii.Email] = 1
	record(a, pairAB, &bag, "")
	big := parse.Verdict{Context: parse.Invalid, Formats: formats.W3C,
		Reasons: reason.List{"traceparent.bad_hex", "baggage.oversized_bytes"},
		Baggage: w3c.BaggageStats{Headers: 1, Members: 3, Bytes: 9000, Oversized: true, AtRisk: true}}
	record(a, pairAB, &big, "traceparent.bad_hex")
	cut := parse.Verdict{Context: parse.Missing, Truncated: true}
	record(a, pairAC, &cut, "")
	record(a, PairKey{Source: "x", Destination: "y", Protocol: "http"}, &cut, "") // folded
	a.ParseFailure("http.not_http")
	return a
}

func TestCollectorOutput(t *testing.T) {
	a := metricsAggregator()
	c := NewCollector(a, KernelCounters{
		Lost:   func() map[string]uint64 { return map[string]uint64{"ringbuf_full": 4} },
		Errors: func() map[string]uint64 { return map[string]uint64{"head_hold": 0, "owner": 2} },
	})
	const ab = `destination="checkout",destination_namespace="",protocol="http",source="frontend",source_namespace="",tls="false"`
	want := `
# HELP propwatch_requests_total Requests observed from source to destination, with or without trace context.
# TYPE propwatch_requests_total counter
propwatch_requests_total{destination="(overflow)",destination_namespace="",protocol="http",source="(overflow)",source_namespace="",tls="false"} 1
propwatch_requests_total{destination="cart",destination_namespace="",protocol="http",source="frontend",source_namespace="",tls="false"} 1
propwatch_requests_total{` + ab + `} 2
# HELP propwatch_context_invalid_total Requests whose trace context was present but unusable, by the defect that made it so; the receiver starts a new trace.
# TYPE propwatch_context_invalid_total counter
propwatch_context_invalid_total{destination="checkout",destination_namespace="",protocol="http",reason="traceparent.bad_hex",source="frontend",source_namespace="",tls="false"} 1
# HELP propwatch_defects_total Propagation defects found in requests (traceparent, tracestate, baggage syntax, header framing, formats naming different traces, ...), by defect code. A request counts once under each of its defects.
# TYPE propwatch_defects_total counter
propwatch_defects_total{destination="checkout",destination_namespace="",protocol="http",reason="baggage.oversized_bytes",source="frontend",source_namespace="",tls="false"} 1
propwatch_defects_total{destination="checkout",destination_namespace="",protocol="http",reason="traceparent.bad_hex",source="frontend",source_namespace="",tls="false"} 1
# HELP propwatch_baggage_bytes Size in bytes of the W3C baggage of requests that carried any, all baggage headers combined.
# TYPE propwatch_baggage_bytes histogram
propwatch_baggage_bytes_bucket{` + ab + `,le="128"} 0
propwatch_baggage_bytes_bucket{` + ab + `,le="256"} 0
propwatch_baggage_bytes_bucket{` + ab + `,le="512"} 1
propwatch_baggage_bytes_bucket{` + ab + `,le="1024"} 1
propwatch_baggage_bytes_bucket{` + ab + `,le="2048"} 1
propwatch_baggage_bytes_bucket{` + ab + `,le="4096"} 1
propwatch_baggage_bytes_bucket{` + ab + `,le="8192"} 1
propwatch_baggage_bytes_bucket{` + ab + `,le="16384"} 2
propwatch_baggage_bytes_bucket{` + ab + `,le="32768"} 2
propwatch_baggage_bytes_bucket{` + ab + `,le="+Inf"} 2
propwatch_baggage_bytes_sum{` + ab + `} 9300
propwatch_baggage_bytes_count{` + ab + `} 2
# HELP propwatch_events_lost_total Capture events dropped before propwatch could read them, by reason. While this grows, every other count is a lower bound.
# TYPE propwatch_events_lost_total counter
propwatch_events_lost_total{reason="ringbuf_full"} 4
# HELP propwatch_kernel_errors_total Times the kernel side could not keep state, by site (a map update or a user read that failed): a head or Kafka frame split across calls, a Kafka response or a loopback sender that then goes unrecognised. While this grows, counts may be low.
# TYPE propwatch_kernel_errors_total counter
propwatch_kernel_errors_total{site="head_hold"} 0
propwatch_kernel_errors_total{site="owner"} 2
# HELP propwatch_parse_failures_total Captured data propwatch could not read as a request, by reason (not HTTP, cut before the head ended, connection evicted, ...).
# TYPE propwatch_parse_failures_total counter
propwatch_parse_failures_total{reason="http.not_http"} 1
# HELP propwatch_pairs_folded_total Distinct service pairs counted under source="(overflow)" because the pair limit was reached; approximate beyond 1024.
# TYPE propwatch_pairs_folded_total counter
propwatch_pairs_folded_total 1
# HELP propwatch_truncated_heads_total Requests whose header block was cut by the capture before its end; what followed the cut was not judged.
# TYPE propwatch_truncated_heads_total counter
propwatch_truncated_heads_total{destination="(overflow)",destination_namespace="",protocol="http",source="(overflow)",source_namespace="",tls="false"} 1
propwatch_truncated_heads_total{destination="cart",destination_namespace="",protocol="http",source="frontend",source_namespace="",tls="false"} 1
propwatch_truncated_heads_total{` + ab + `} 0
`
	err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"propwatch_requests_total", "propwatch_context_invalid_total", "propwatch_defects_total",
		"propwatch_baggage_bytes", "propwatch_events_lost_total", "propwatch_kernel_errors_total",
		"propwatch_parse_failures_total", "propwatch_pairs_folded_total", "propwatch_truncated_heads_total")
	if err != nil {
		t.Error(err)
	}

	// Spot checks of the other families.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"propwatch_context_missing_total", map[string]string{"source": "frontend", "destination": "cart"}, 1},
		{"propwatch_baggage_oversized_total", map[string]string{"destination": "checkout"}, 1},
		{"propwatch_baggage_at_risk_total", map[string]string{"destination": "checkout"}, 1},
		{"propwatch_pii_findings_total", map[string]string{"destination": "checkout", "kind": "email"}, 1},
		{"propwatch_pii_findings_total", map[string]string{"destination": "checkout", "kind": "jwt"}, 0},
		{"propwatch_suspect_keys_total", map[string]string{"destination": "checkout"}, 1},
		{"propwatch_formats_total", map[string]string{"destination": "checkout", "format": "w3c"}, 2},
	} {
		if got := gathered(t, reg, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	// Every pair has a PII series per kind, so alerts see the first finding.
	if n := testutil.CollectAndCount(c, "propwatch_pii_findings_total"); n != 3*len(pii.AllKinds()) {
		t.Errorf("%d pii series, want %d", n, 3*len(pii.AllKinds()))
	}
}

// gathered returns the value of the one series of family name whose labels
// include labels.
func gathered(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

func TestCollectorLint(t *testing.T) {
	c := NewCollector(metricsAggregator(), KernelCounters{Lost: func() map[string]uint64 { return map[string]uint64{"ringbuf_full": 1} }})
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	// A pedantic registry checks the descriptors against what is collected
	// and that no two series share a label set.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	if _, err := reg.Gather(); err != nil {
		t.Error(err)
	}
}

// TestCollectorHostileNames checks that names that sanitize alike, lost
// reasons included, never produce duplicate series.
func TestCollectorHostileNames(t *testing.T) {
	a := NewAggregator(AggregatorConfig{})
	v := parse.Verdict{}
	record(a, PairKey{Source: "a\x01", Destination: "b", Protocol: "http"}, &v, "")
	record(a, PairKey{Source: "a\x02", Destination: "b", Protocol: "http"}, &v, "")
	record(a, PairKey{Source: "a?", Destination: "b", Protocol: "http"}, &v, "")
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(a, KernelCounters{Lost: func() map[string]uint64 {
		return map[string]uint64{"x\x01": 1, "x\x02": 2}
	}}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "propwatch_requests_total" && len(mf.GetMetric()) != 1 {
			t.Errorf("%d request series, want 1", len(mf.GetMetric()))
		}
		if mf.GetName() == "propwatch_events_lost_total" && mf.GetMetric()[0].GetCounter().GetValue() != 3 {
			t.Errorf("lost events not summed: %v", mf.GetMetric())
		}
	}
}

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler(NewCollector(metricsAggregator(), KernelCounters{})))
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`propwatch_requests_total{destination="checkout",destination_namespace="",protocol="http",source="frontend",source_namespace="",tls="false"} 2`,
		"go_goroutines", "process_start_time_seconds", "propwatch_pairs_folded_total 1",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code, _ := get("/nope"); code != 404 {
		t.Errorf("/nope: %d", code)
	}
}

// TestCollectorBadCode checks that a code that is not valid UTF-8, which
// Prometheus refuses as a label, costs its series and nothing else.
func TestCollectorBadCode(t *testing.T) {
	a := NewAggregator(AggregatorConfig{})
	v := parse.Verdict{Context: parse.Invalid, Reasons: reason.List{"bad.\xff"}}
	record(a, pairAB, &v, "bad.\xff")
	c := NewCollector(a, KernelCounters{})
	if n := testutil.CollectAndCount(c, "propwatch_defects_total"); n != 0 {
		t.Errorf("%d defect series, want 0", n)
	}
	if n := testutil.CollectAndCount(c, "propwatch_requests_total"); n != 1 {
		t.Errorf("%d request series, want 1", n)
	}
}
