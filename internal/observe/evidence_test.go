package observe

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"github.com/propwatch/propwatch/internal/loader"
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

// TestEvidenceKafka: each record with a traceparent is shown once, on its
// pair: a fetched one, and one a remote producer sent, when its frame is
// decoded; one a local producer sent once it is classified, NameDelay
// later.
func TestEvidenceKafka(t *testing.T) {
	sink := &sinkRecorder{}
	f := kfixture(t, func(c *Config) { c.Evidence = sink })
	captured := f.now
	f.kafka(brokerIn(1), produceFrame(9, 1, topic("orders", kafkatest.Batch(kafkatest.Codecs[0], 0, krecords(6)))))
	f.kafka(consumer(2, kafka.APIFetch, 12), fetchFrame(12, 1, topic("orders", kafkatest.Batch(kafkatest.Codecs[0], 0, krecords(3)))))
	f.kafka(kend{tgid: brokerPID, sock: 3, local: netip.MustParseAddrPort("10.0.0.1:9092"), remote: remoteCli,
		dir: loader.Ingress, key: -1, version: -1}, produceFrame(9, 2, topic("orders", kafkatest.Batch(kafkatest.Codecs[0], 0, krecords(3)))))
	produce := report.PairKey{Source: "checkout", Destination: "orders", Protocol: ProtocolKafka}
	remote := report.PairKey{Source: "192.0.2.20", Destination: "orders", Protocol: ProtocolKafka}
	fetch := report.PairKey{Source: "orders", Destination: "inventory", Protocol: ProtocolKafka}
	perPair := func() map[report.PairKey]int {
		n := map[report.PairKey]int{}
		for _, c := range sink.calls {
			n[c.pair]++
			if !c.trace.HasParent() || c.pii != 1 || !c.at.Equal(captured) || c.chain != "" {
				t.Errorf("call %+v", c)
			}
		}
		return n
	}
	// krecords: every third record has no headers.
	if n := perPair(); len(n) != 2 || n[fetch] != 2 || n[remote] != 2 {
		t.Errorf("calls per pair before NameDelay %v", n)
	}
	f.settle()
	if n := perPair(); len(n) != 3 || n[produce] != 4 || n[fetch] != 2 || n[remote] != 2 {
		t.Errorf("calls per pair %v", n)
	}
}

// TestEvidenceKafkaNewRoot: a relay that fetched traced records produces
// onward. Each Produce record with a traceparent is shown exactly once,
// when it is classified: with chain new_root when it starts a trace the
// relay did not receive, with none when it continues one (a finding of
// its own still shows it), and a record without context is not shown.
// The queue's overflow and Flush show what they classify too.
func TestEvidenceKafkaNewRoot(t *testing.T) {
	sink := &sinkRecorder{}
	f := kfixture(t, func(c *Config) {
		c.Evidence = sink
		c.MaxQueued = 8
	})
	const received = 5
	recs := func(first, n int, pii bool) []kafkatest.Record {
		out := make([]kafkatest.Record, n)
		for i := range out {
			out[i].Value = []byte("v")
			if first < 0 {
				continue
			}
			out[i].Headers = []kafkatest.Header{kafkatest.H("traceparent", fmt.Sprintf("00-%032x-00f067aa0ba902b7-01", first+i))}
			if pii {
				out[i].Headers = append(out[i].Headers, kafkatest.H("baggage", kbag))
			}
		}
		return out
	}
	relay := kend{tgid: brokerPID, peer: serverPID, sock: 9, local: brokerAddr, remote: kclient, dir: loader.Ingress, key: -1, version: -1}
	f.kafka(consumer(2, kafka.APIFetch, 12), fetchFrame(12, 1, topic("in", kafkatest.Batch(kafkatest.Codecs[0], 0, recs(1, received, false)))))
	produce := func(corr int32, batch []kafkatest.Record) {
		f.kafka(relay, produceFrame(9, corr, topic("out", kafkatest.Batch(kafkatest.Codecs[0], 0, batch))))
	}
	produce(1, recs(1, 3, true))    // continued, with PII: shown without chain
	produce(2, recs(100, 2, false)) // new roots: shown with chain
	produce(3, recs(200, 2, true))  // new roots with PII: shown with chain
	produce(4, recs(-1, 2, false))  // dropped: no context, not shown
	out := report.PairKey{Source: "inventory", Destination: "out", Protocol: ProtocolKafka}
	shown := func() (n int) {
		for _, c := range sink.calls {
			if c.pair == out {
				n++
			}
		}
		return n
	}
	// 9 sends through a queue of 8: the first was classified at once.
	if n := shown(); n != 1 {
		t.Fatalf("%d sends shown before NameDelay, want 1 (the overflow): %+v", n, sink.calls)
	}
	f.now = f.now.Add(time.Millisecond)
	produce(5, recs(250, 1, false)) // a new root, classified by Flush
	f.obs.Flush()

	type want struct {
		pii   int
		chain string
	}
	wants := map[byte]want{}
	for i := range 3 {
		wants[byte(1+i)] = want{1, ""}
	}
	for i := range 2 {
		wants[byte(100+i)] = want{0, "new_root"}
		wants[byte(200+i)] = want{1, "new_root"}
	}
	wants[250] = want{0, "new_root"}
	got := map[byte]want{}
	for _, c := range sink.calls {
		if c.pair != out {
			continue // the fetched records, shown (the sink judges findings)
		}
		id := c.trace.TraceID[15]
		if _, dup := got[id]; dup {
			t.Errorf("trace %x shown twice", c.trace.TraceID)
		}
		got[id] = want{c.pii, c.chain}
	}
	if fmt.Sprint(got) != fmt.Sprint(wants) {
		t.Errorf("shown (last id byte: pii chain)\n got %v\nwant %v", got, wants)
	}
	if n := len(sink.calls) - len(got); n != received {
		t.Errorf("%d fetched records shown, want %d", n, received)
	}
	if p := f.pair(f.agg.Snapshot(), "inventory", "out"); p.Continued != 3 || p.NewRoot != 5 || p.Dropped != 2 {
		t.Errorf("inventory -> out %+v", p)
	}
}

// TestKafkaSendSize: a queued Produce record keeps its whole verdict; the
// memory the README and chain.go state for the queue holds.
func TestKafkaSendSize(t *testing.T) {
	if n := unsafe.Sizeof(kafkaSend{}); n > 296 {
		t.Errorf("a kafkaSend is %d bytes, more than the 296 stated", n)
	}
}

// countingSink counts what it is shown, without allocating.
type countingSink struct{ shown, newRoots int }

func (s *countingSink) Evidence(_ time.Time, _ report.PairKey, _ *parse.Verdict, chain string) {
	s.shown++
	if chain == "new_root" {
		s.newRoots++
	}
}

// BenchmarkKafkaProduceNewRoot is the observer's share of one Produce
// request of 100 records, each with a traceparent of a trace its producer
// did not receive (it did receive traced records): decoding and judging
// every record, queueing it with its verdict, classifying it NameDelay
// later and showing it to the EvidenceSink with chain new_root.
func BenchmarkKafkaProduceNewRoot(b *testing.B) {
	sink := &countingSink{}
	f := kfixture(&testing.T{}, func(c *Config) { c.Evidence = sink })
	in := []kafkatest.Record{{Value: []byte("v"), Headers: []kafkatest.Header{kafkatest.H("traceparent", ktp)}}}
	fetch := fetchFrame(12, 1, topic("in", kafkatest.Batch(kafkatest.Codecs[0], 0, in)))
	f.kafka(consumer(2, kafka.APIFetch, 12), fetch)
	fetches := 1
	recs := make([]kafkatest.Record, 100)
	for i := range recs {
		recs[i] = kafkatest.Record{
			Headers: []kafkatest.Header{kafkatest.H("traceparent", fmt.Sprintf("00-%032x-00f067aa0ba902b7-01", i+1))},
			Value:   []byte(fmt.Sprintf(`{"order":%d}`, i)),
		}
	}
	frame := produceFrame(9, 1, topic("out", kafkatest.Batch(kafkatest.Codecs[0], 0, recs)))
	relay := kend{tgid: brokerPID, peer: serverPID, sock: 9, local: brokerAddr, remote: kclient, dir: loader.Ingress, key: -1, version: -1}
	evs := kafkaEvents(relay, frame, loader.DefaultCaptureBytes)
	b.ReportAllocs()
	frames := 0
	for b.Loop() {
		for _, ev := range evs {
			f.obs.Handle(ev, f.now)
		}
		frames++
		if frames%64 == 0 {
			// Each Tick classifies the sends of the last 64 frames; a
			// fetch keeps the relay's receipts within the window.
			f.now = f.now.Add(time.Second)
			f.obs.Tick(f.now)
			f.kafka(consumer(2, kafka.APIFetch, 12), fetch)
			fetches++
		}
	}
	f.settle()
	if want := frames * 100; sink.shown != want+fetches || sink.newRoots != want {
		b.Fatalf("%d shown, %d new roots; want %d new roots and %d fetched", sink.shown, sink.newRoots, want, fetches)
	}
}
