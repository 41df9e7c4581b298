package report

import (
	"fmt"
	"testing"

	"github.com/propwatch/propwatch/internal/parse"
	"github.com/propwatch/propwatch/internal/parse/formats"
	"github.com/propwatch/propwatch/internal/parse/reason"
	"github.com/propwatch/propwatch/internal/parse/w3c"
)

// BenchmarkRecord is the per-request cost on a known pair: a valid W3C
// context with a little baggage, the common case on instrumented traffic.
func BenchmarkRecord(b *testing.B) {
	a := NewAggregator(AggregatorConfig{})
	k := PairKey{Source: "frontend-web", Destination: "checkout-service", Protocol: "http"}
	v := parse.Verdict{Context: parse.Valid, Formats: formats.W3C,
		Baggage: w3c.BaggageStats{Headers: 1, Members: 3, Bytes: 90}}
	record(a, k, &v, "")
	b.ReportAllocs()
	for b.Loop() {
		record(a, k, &v, "")
	}
}

// BenchmarkRecordDefects is a known pair whose requests carry defects it
// has seen before.
func BenchmarkRecordDefects(b *testing.B) {
	a := NewAggregator(AggregatorConfig{})
	k := PairKey{Source: "frontend-web", Destination: "checkout-service", Protocol: "http"}
	v := parse.Verdict{Context: parse.Invalid, Formats: formats.W3C | formats.B3,
		Reasons: reason.List{"traceparent.bad_hex", "b3.invalid", "tracestate.invalid_member"}}
	record(a, k, &v, "traceparent.bad_hex")
	b.ReportAllocs()
	for b.Loop() {
		record(a, k, &v, "traceparent.bad_hex")
	}
}

// BenchmarkRecordParallel measures the mutex under contention.
func BenchmarkRecordParallel(b *testing.B) {
	a := NewAggregator(AggregatorConfig{})
	v := parse.Verdict{Context: parse.Valid, Formats: formats.W3C}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		k := PairKey{Source: "frontend-web", Destination: "checkout-service", Protocol: "http"}
		for pb.Next() {
			record(a, k, &v, "")
		}
	})
}

func fullAggregator() *Aggregator {
	a := NewAggregator(AggregatorConfig{})
	v := parse.Verdict{Context: parse.Invalid, Formats: formats.W3C,
		Reasons: reason.List{"traceparent.bad_hex", "baggage.invalid_key"},
		Baggage: w3c.BaggageStats{Headers: 1, Members: 3, Bytes: 900}}
	for i := range defaultMaxPairs {
		record(a, PairKey{Source: fmt.Sprint("service-", i), Destination: fmt.Sprint("backend-", i%37), Protocol: "http"}, &v, "traceparent.bad_hex")
	}
	return a
}

func BenchmarkSnapshot(b *testing.B) {
	a := fullAggregator()
	b.ReportAllocs()
	for b.Loop() {
		a.Snapshot()
	}
}

func BenchmarkCollect(b *testing.B) {
	c := NewCollector(fullAggregator(), KernelCounters{Lost: func() map[string]uint64 { return map[string]uint64{"ringbuf_full": 1} }})
	b.ReportAllocs()
	for b.Loop() {
		drain(c)
	}
}
