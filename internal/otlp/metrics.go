package otlp

import "github.com/prometheus/client_golang/prometheus"

var descSpans = prometheus.NewDesc("propwatch_otlp_spans_total",
	"Evidence spans offered for export over OTLP, by what became of them: exported, rate_limited (the pair's --otlp-spans-per-second was used up), not_sampled (the caller's traceparent was not sampled), dropped_queue_full (the collector was too slow or down), export_failed (the export failed or timed out).",
	[]string{"result"}, nil)

// Describe implements prometheus.Collector.
func (x *Exporter) Describe(ch chan<- *prometheus.Desc) { ch <- descSpans }

// Collect implements prometheus.Collector: propwatch_otlp_spans_total, one
// series per result, zeros included, so that a rate over it exists from
// the first scrape.
func (x *Exporter) Collect(ch chan<- prometheus.Metric) {
	for r := range numResults {
		ch <- prometheus.MustNewConstMetric(descSpans, prometheus.CounterValue, float64(x.counts[r].Load()), r.String())
	}
}
