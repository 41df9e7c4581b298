package kafka

import (
	"testing"

	"github.com/propwatch/propwatch/internal/parse/kafka/kafkatest"
)

// TestSteadyStateAllocs checks that once a Decoder has seen a batch of a
// codec, decoding another costs only kmsg's per-frame slices (topics and
// partitions), nothing per record or per header.
func TestSteadyStateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	for _, c := range kafkatest.Codecs {
		t.Run(c.Name, func(t *testing.T) {
			body := kafkatest.ProduceBody(9, kafkatest.Topic{Name: "orders", Partitions: []kafkatest.Partition{{Partition: 0, Records: kafkatest.Batch(c, 0, threeHeaders(100))}}})
			d := NewDecoder(Limits{}, nil)
			headers := 0
			visit := func(r *Record) { headers += len(r.Headers) }
			d.Produce(body, 9, true, visit)
			allocs := testing.AllocsPerRun(50, func() { d.Produce(body, 9, true, visit) })
			// AllocsPerRun calls once more to warm up.
			if headers != 300*52 {
				t.Fatalf("saw %d headers", headers)
			}
			if allocs > 2 {
				t.Fatalf("%v allocations per frame", allocs)
			}
			cut := body[:len(body)-40]
			allocs = testing.AllocsPerRun(50, func() { d.Produce(cut, 9, false, visit) })
			// lz4's reader builds an error value for the cut stream.
			if allocs > 2 {
				t.Fatalf("%v allocations per cut frame", allocs)
			}
		})
	}
}

func TestSniffAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	frame := kafkatest.RequestFrame(APIProduce, 9, 1, "producer-1", []byte("body"))
	if n := testing.AllocsPerRun(100, func() { SniffRequest(frame) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// BenchmarkDecodeBatch decodes a Produce request holding one batch of 100
// records with three headers each (traceparent, tracestate, baggage).
func BenchmarkDecodeBatch(b *testing.B) {
	for _, c := range kafkatest.Codecs {
		b.Run(c.Name, func(b *testing.B) {
			body := kafkatest.ProduceBody(9, kafkatest.Topic{Name: "orders", Partitions: []kafkatest.Partition{{Partition: 0, Records: kafkatest.Batch(c, 0, threeHeaders(100))}}})
			d := NewDecoder(Limits{}, nil)
			records := 0
			visit := func(r *Record) { records++ }
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				d.Produce(body, 9, true, visit)
			}
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

func BenchmarkSniffRequest(b *testing.B) {
	frame := kafkatest.RequestFrame(APIProduce, 9, 1, "producer-1", []byte("body"))
	b.ReportAllocs()
	for b.Loop() {
		SniffRequest(frame)
	}
}
