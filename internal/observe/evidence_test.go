package observe

import (
	"testing"
	"time"

	"github.com/propwatch/propwatch/internal/parse"
	"github.com/propwatch/propwatch/internal/parse/kafka"
	"github.com/propwatch/propwatch/internal/parse/kafka/kafkatest"
	"github.com/propwatch/propwatch/internal/report"
)

// evidenceCall is one call of an EvidenceSink, with the verdict copied.
type evidenceCall struct {
	at    time.Time
	pair  report.PairKey
	trace parse.TraceIDs
	pii   int
	chain string
}

type sinkRecorder struct{ calls []evidenceCall }

func (s *sinkRecorder) Evidence(at time.Time, pair report.PairKey, v *parse.Verdict, chain string) {
	s.calls = append(s.calls, evidenceCall{at, pair, v.Trace, v.PIITotal(), chain})
}

// TestEvidenceHTTP: the sink sees each named request with a valid
// traceparent, with its pair, its capture time and the ids the queue kept;
// not those without context, nor those whose context is in another format.
func TestEvidenceHTTP(t *testing.T) {
	sink := &sinkRecorder{}
	f := newFixture(t, func(c *Config) { c.Evidence = sink })
	captured := f.now
	f.send(1, true, get("/a", tp, "baggage: user=jane%40example.com\r\n"))
	f.send(3, true, get("/b"))
	f.send(5, true, get("/c", "b3: 0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1\r\n"))
	if len(sink.calls) != 0 {
		t.Fatalf("called before the request was named: %+v", sink.calls)
	}
	f.settle()
	if len(sink.calls) != 1 {
		t.Fatalf("calls %+v", sink.calls)
	}
	c := sink.calls[0]
	want := report.PairKey{Source: "checkout", Destination: "inventory", Protocol: Protocol}
	if c.pair != want || !c.at.Equal(captured) || c.pii != 1 || c.chain != "" {
		t.Errorf("call %+v", c)
	}
	if c.trace.TraceID != [16]byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36} ||
		c.trace.ParentID != [8]byte{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7} || !c.trace.Sampled() {
		t.Errorf("trace %+v", c.trace)
	}
}

// TestEvidenceKafka: each record with a traceparent is shown, on its pair.
func TestEvidenceKafka(t *testing.T) {
	sink := &sinkRecorder{}
	f := kfixture(t, func(c *Config) { c.Evidence = sink })
	f.kafka(brokerIn(1), produceFrame(9, 1, topic("orders", kafkatest.Batch(kafkatest.Codecs[0], 0, krecords(6)))))
	f.kafka(consumer(2, kafka.APIFetch, 12), fetchFrame(12, 1, topic("orders", kafkatest.Batch(kafkatest.Codecs[0], 0, krecords(3)))))
	produce := report.PairKey{Source: "checkout", Destination: "orders", Protocol: ProtocolKafka}
	fetch := report.PairKey{Source: "orders", Destination: "inventory", Protocol: ProtocolKafka}
	n := map[report.PairKey]int{}
	for _, c := range sink.calls {
		n[c.pair]++
		if !c.trace.HasParent() || c.pii != 1 || !c.at.Equal(f.now) {
			t.Errorf("call %+v", c)
		}
	}
	// krecords: every third record has no headers.
	if len(n) != 2 || n[produce] != 4 || n[fetch] != 2 {
		t.Errorf("calls per pair %v", n)
	}
}
