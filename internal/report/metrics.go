package report

import (
	"bytes"
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// pairLabels name a pair in every per-pair metric; the namespaces are
// empty off-cluster, tls is "true" for requests read at a TLS library and
// "false" for socket bytes (see PairKey).
var pairLabels = []string{"source", "destination", "protocol", "source_namespace", "destination_namespace", "tls"}

// tlsLabel is the tls label's value: always set, so that a query can
// select either side without matching on an absent label.
func tlsLabel(tls bool) string {
	if tls {
		return "true"
	}
	return "false"
}

func pairDesc(name, help string, extra ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, append(append([]string(nil), pairLabels...), extra...), nil)
}

// The metric families. Help strings are written for the person who finds
// the metric in a dashboard without having read propwatch's docs.
var (
	descRequests = pairDesc("propwatch_requests_total",
		"Requests observed from source to destination, with or without trace context.")
	descMissing = pairDesc("propwatch_context_missing_total",
		"Requests that carried no trace context in any format (traceparent, b3, uber-trace-id, ...): the trace breaks at this hop.")
	descInvalid = pairDesc("propwatch_context_invalid_total",
		"Requests whose trace context was present but unusable, by the defect that made it so; the receiver starts a new trace.",
		"reason")
	descDefects = pairDesc("propwatch_defects_total",
		"Propagation defects found in requests (traceparent, tracestate, baggage syntax, header framing, formats naming different traces, ...), by defect code. A request counts once under each of its defects.",
		"reason")
	descOversized = pairDesc("propwatch_baggage_oversized_total",
		"Requests whose W3C baggage exceeded the configured limit (by default the W3C minimums, 8192 bytes or 64 members); receivers may drop it whole.")
	descAtRisk = pairDesc("propwatch_baggage_at_risk_total",
		"Requests whose W3C baggage exceeded the at-risk size (by default 4096 bytes), past which common proxies and servers reject header lines.")
	descBaggage = pairDesc("propwatch_baggage_bytes",
		"Size in bytes of the W3C baggage of requests that carried any, all baggage headers combined.")
	descPII = pairDesc("propwatch_pii_findings_total",
		"Propagated values (baggage and other baggage headers) that look like personal data or secrets, by kind. The values themselves are never recorded.",
		"kind")
	descSuspect = pairDesc("propwatch_suspect_keys_total",
		"Propagated keys whose name alone suggests personal data or a secret, such as password, ssn or session_token.")
	descFormats = pairDesc("propwatch_formats_total",
		"Requests carrying each trace-context format (w3c, b3, jaeger, xray, datadog, ...), valid or not.",
		"format")
	descTruncated = pairDesc("propwatch_truncated_heads_total",
		"Requests whose header block was cut by the capture before its end; what followed the cut was not judged.")
	descGaps = pairDesc("propwatch_coverage_gaps_total",
		"Input of the pair seen on the wire but not read (a Kafka batch cut by the capture, a codec error, an unknown topic id, ...), by reason. Gaps are not requests and never count as missing context: while this grows, the pair's counts are a lower bound.",
		"reason")
	descGapRecords = pairDesc("propwatch_coverage_gap_records_total",
		"Records (requests) hidden by the pair's coverage gaps, where their number was known.")
	descChainContinued = pairDesc("propwatch_chain_continued_total",
		"Requests a local service sent that continued a trace it had received (within --chain-window).")
	descChainBroken = pairDesc("propwatch_chain_broken_total",
		"Requests a local service sent, after receiving traced input, that split the trace: reason new_root (a fresh trace: context lost inside the service, e.g. a timer callback or a detached goroutine) or dropped (no context at all).",
		"reason")
	descChainEvictions = prometheus.NewDesc("propwatch_chain_evictions_total",
		"Received trace ids forgotten to propwatch's memory caps before their window ended: each may have made a continued request count as a new root. While this grows, raise the caps or shorten --chain-window.",
		nil, nil)
	descLost = prometheus.NewDesc("propwatch_events_lost_total",
		"Capture events dropped before propwatch could read them, by reason. While this grows, every other count is a lower bound.",
		[]string{"reason"}, nil)
	descKernelErrors = prometheus.NewDesc("propwatch_kernel_errors_total",
		"Times the kernel side could not keep state, by site (a map update or a user read that failed): a head or Kafka frame split across calls, a Kafka response or a loopback sender that then goes unrecognised. While this grows, counts may be low.",
		[]string{"site"}, nil)
	descFailures = prometheus.NewDesc("propwatch_parse_failures_total",
		"Captured data propwatch could not read as a request, by reason (not HTTP, cut before the head ended, connection evicted, ...).",
		[]string{"reason"}, nil)
	descFolded = prometheus.NewDesc("propwatch_pairs_folded_total",
		"Distinct service pairs counted under source=\"(overflow)\" because the pair limit was reached; approximate beyond 1024.",
		nil, nil)
)

var allDescs = []*prometheus.Desc{
	descRequests, descMissing, descInvalid, descDefects, descOversized, descAtRisk, descBaggage,
	descPII, descSuspect, descFormats, descTruncated, descGaps, descGapRecords,
	descChainContinued, descChainBroken, descChainEvictions, descLost, descKernelErrors,
	descFailures, descFolded,
}

// collector builds const metrics from a Snapshot at each scrape, so that
// recording a request costs nothing for Prometheus.
type collector struct {
	a *Aggregator
	k KernelCounters
}

// KernelCounters reads, at scrape time, what the kernel side of the capture
// could not do. Either function may be nil.
type KernelCounters struct {
	// Lost returns the events dropped, by reason (loader.Loader.Lost).
	Lost func() map[string]uint64
	// Errors returns the failed state updates, by site
	// (loader.Loader.KernelErrors).
	Errors func() map[string]uint64
}

// NewCollector exposes a to Prometheus, and the kernel's counters k.
//
// Every pair gets its request, context, baggage, suspect-key, truncation
// and continuity counters and one PII counter per kind, zero or not, so that an alert on
// the first PII finding of a pair fires (increase() ignores a series' first
// sample). Codes, formats, coverage gaps and the baggage histogram appear
// once they have something to count: their label sets are larger and
// mostly empty.
func NewCollector(a *Aggregator, k KernelCounters) prometheus.Collector {
	return &collector{a: a, k: k}
}

// Describe sends every metric family's descriptor.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect sends the metrics of a fresh snapshot.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.a.Snapshot()
	// The non-panicking constructors: a label that slipped past
	// sanitizing costs its series, never the process.
	send := func(m prometheus.Metric, err error) {
		if err == nil {
			ch <- m
		}
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		send(prometheus.NewConstMetric(d, prometheus.CounterValue, float64(v), labels...))
	}
	var upper [len(BaggageBuckets)]float64
	for i, b := range BaggageBuckets {
		upper[i] = float64(b)
	}
	for i := range s.Pairs {
		p := &s.Pairs[i]
		pl := []string{p.Source, p.Destination, p.Protocol, p.SourceNamespace, p.DestinationNamespace, tlsLabel(p.TLS)}
		// with is the pair's labels and one more.
		with := func(extra string) []string { return append(pl[:len(pl):len(pl)], extra) }
		counter(descRequests, p.Requests, pl...)
		counter(descMissing, p.MissingContext, pl...)
		for code, n := range p.InvalidReasons {
			counter(descInvalid, n, with(code)...)
		}
		for code, n := range p.Defects {
			counter(descDefects, n, with(code)...)
		}
		counter(descOversized, p.OversizedBaggage, pl...)
		counter(descAtRisk, p.AtRiskBaggage, pl...)
		if h := &p.BaggageBytes; h.Count > 0 {
			cum := h.Cumulative()
			buckets := make(map[float64]uint64, len(upper))
			for j, b := range upper {
				buckets[b] = cum[j]
			}
			send(prometheus.NewConstHistogram(descBaggage, h.Count, float64(h.Sum), buckets, pl...))
		}
		for kind, n := range p.PIIByKind {
			counter(descPII, n, with(kind)...)
		}
		counter(descSuspect, p.SuspectKeys, pl...)
		for f, n := range p.Formats {
			counter(descFormats, n, with(f)...)
		}
		counter(descTruncated, p.Truncated, pl...)
		for code, n := range p.CoverageGaps {
			counter(descGaps, n, with(code)...)
		}
		if len(p.CoverageGaps) > 0 {
			counter(descGapRecords, p.GapRecords, pl...)
		}
		counter(descChainContinued, p.Continued, pl...)
		counter(descChainBroken, p.NewRoot, with(ChainNewRoot)...)
		counter(descChainBroken, p.Dropped, with(ChainDropped)...)
	}
	counter(descChainEvictions, s.ChainEvictions)
	if c.k.Lost != nil {
		for r, n := range sanitizeCounts(c.k.Lost()) {
			counter(descLost, n, r)
		}
	}
	if c.k.Errors != nil {
		for site, n := range sanitizeCounts(c.k.Errors()) {
			counter(descKernelErrors, n, site)
		}
	}
	for r, n := range s.ParseFailures {
		counter(descFailures, n, r)
	}
	counter(descFolded, s.FoldedPairs)
}

// Handler serves /metrics from a private registry holding cs (the pairs'
// collector, and others such as the OTLP exporter's) and the Go and process
// collectors (a private one, so that nothing else registered in the
// program leaks into propwatch's endpoint), and /healthz, which answers
// "ok" while the process serves. It serves no /report; see
// HandlerWithReport.
func Handler(cs ...prometheus.Collector) http.Handler {
	return HandlerWithReport(nil, cs...)
}

// HandlerWithReport is Handler plus GET /report: the report that live
// returns at the time of the request (the live report, in the schema of
// the final one: Ended is the request's time), as WriteJSON writes it.
// It is what `propwatch audit` collects from each node. live may be nil:
// then /report is not served.
func HandlerWithReport(live func() Report, cs ...prometheus.Collector) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(cs...)
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A scrape that failed for one metric still serves the others.
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	if live != nil {
		mux.HandleFunc("GET /report", func(w http.ResponseWriter, _ *http.Request) {
			var buf bytes.Buffer
			if err := live().WriteJSON(&buf); err != nil {
				http.Error(w, "report: "+err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write(buf.Bytes())
		})
	}
	return mux
}

// sanitizeCounts returns m with its keys sanitized, counts of keys that
// sanitize alike summed, so that no two series share a label set.
func sanitizeCounts(m map[string]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(m))
	for k, n := range m {
		out[sanitizeLabel(k)] += n
	}
	return out
}
