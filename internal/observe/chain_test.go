package observe

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/propwatch/propwatch/internal/identity"
	"github.com/propwatch/propwatch/internal/loader"
	"github.com/propwatch/propwatch/internal/parse/kafka"
	"github.com/propwatch/propwatch/internal/parse/kafka/kafkatest"
	"github.com/propwatch/propwatch/internal/report"
)

// Continuity tests: web (webPID) calls checkout (clientPID), which calls
// inventory (serverPID), all over loopback, the kernel's default: each
// request seen once, at its receiving end, naming its sender.
const webPID = 400

var (
	webAddr      = netip.MustParseAddrPort("127.0.0.1:41000")
	checkoutAddr = netip.MustParseAddrPort("127.0.0.1:8000")
	checkoutOut  = netip.MustParseAddrPort("127.0.0.1:42000")
)

func chainFixture(t *testing.T) *fixture {
	t.Helper()
	root := procRoot(t)
	dir := filepath.Join(root, fmt.Sprint(webPID))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "environ"), []byte("OTEL_SERVICE_NAME=web\x00"), 0o600); err != nil {
		t.Fatal(err)
	}
	return newFixtureIn(t, root, func(c *Config) {
		c.LoopbackBothEnds = false
		c.Resolver = identity.NewResolver(identity.Config{ProcRoot: root})
	})
}

// traceparent of trace n.
func tpOf(n int) string {
	return fmt.Sprintf("traceparent: 00-%032x-00f067aa0ba902b7-01\r\n", n)
}

// intoCheckout delivers a request web sent checkout; fromCheckout one
// checkout sent inventory.
func (f *fixture) intoCheckout(sock uint64, headers ...string) {
	f.received(clientPID, webPID, sock, checkoutAddr, webAddr, get("/in", headers...))
}

func (f *fixture) fromCheckout(sock uint64, headers ...string) {
	f.received(serverPID, clientPID, sock, serverAddr, checkoutOut, get("/out", headers...))
}

// received delivers a whole request head as process tgid received it from
// process peer over loopback.
func (f *fixture) received(tgid, peer uint32, sock uint64, local, remote netip.AddrPort, head string) {
	f.event(&loader.Event{TGID: tgid, PeerTGID: peer, Sock: sock, Local: local, Remote: remote,
		Direction: loader.Ingress, Start: true, Len: len(head), Data: []byte(head)})
}

func TestChainHTTP(t *testing.T) {
	f := chainFixture(t)
	n := 0
	for range 4 { // (a) onward with the same trace
		n++
		f.intoCheckout(1, tpOf(n))
		f.fromCheckout(2, tpOf(n))
	}
	for range 3 { // (b) a detached job: a fresh trace
		n++
		f.intoCheckout(1, tpOf(n))
		f.fromCheckout(2, tpOf(1000+n))
	}
	for range 2 { // (c) no context
		n++
		f.intoCheckout(1, tpOf(n))
		f.fromCheckout(2)
	}
	// The onward call's event may come first (another CPU): the receipt,
	// a moment later, still continues it.
	f.fromCheckout(2, tpOf(77))
	f.now = f.now.Add(time.Millisecond)
	f.intoCheckout(1, tpOf(77))
	// Trace ids of other formats count, a 64-bit B3 id continuing the
	// 128-bit trace it is the low half of.
	f.intoCheckout(1, tpOf(78))
	f.fromCheckout(2, "x-b3-traceid: 000000000000004e\r\n", "x-b3-spanid: 00f067aa0ba902b7\r\n")
	// Invalid context is no evidence either way.
	f.fromCheckout(2, "traceparent: 00-zz\r\n")
	// A request checkout sends itself is neither a receipt nor a send.
	f.received(clientPID, clientPID, 3, checkoutAddr, checkoutOut, get("/self", tpOf(5000)))

	s := f.settle()
	in, out := f.pair(s, "web", "checkout"), f.pair(s, "checkout", "inventory")
	// web received nothing: an entry point, never broken.
	if in.Requests != 11 || in.Continued != 0 || in.BrokenChain() != 0 {
		t.Errorf("web -> checkout %+v", in)
	}
	if out.Requests != 12 || out.Continued != 6 || out.NewRoot != 3 || out.Dropped != 2 {
		t.Errorf("checkout -> inventory: %d requests, %d continued, %d new roots, %d dropped; want 12, 6, 3, 2",
			out.Requests, out.Continued, out.NewRoot, out.Dropped)
	}
	self := f.pair(s, "checkout", "checkout")
	if self.Requests != 1 || self.Continued+self.BrokenChain() != 0 {
		t.Errorf("checkout -> checkout %+v", self)
	}
	want := map[string]report.ServiceStats{
		"checkout":  {Service: "checkout", TracedReceived: 11, Continued: 6, NewRoot: 3, Dropped: 2},
		"inventory": {Service: "inventory", TracedReceived: 9},
	}
	if len(s.Services) != len(want) {
		t.Fatalf("services %+v", s.Services)
	}
	for _, sv := range s.Services {
		w := want[sv.Service]
		if sv.TracedReceived != w.TracedReceived || sv.Continued != w.Continued || sv.NewRoot != w.NewRoot || sv.Dropped != w.Dropped {
			t.Errorf("service %+v, want %+v", sv, w)
		}
	}
	if bp := s.Services[0].BrokenPairs; len(bp) != 1 || bp[0] != (report.PairKey{Source: "checkout", Destination: "inventory", Protocol: "http"}) {
		t.Errorf("checkout broke %v", bp)
	}
}

// TestChainWindow: past --chain-window a service is an entry point again.
func TestChainWindow(t *testing.T) {
	f := chainFixture(t)
	f.intoCheckout(1, tpOf(1))
	f.settle()
	f.now = f.now.Add(6 * time.Minute)
	f.fromCheckout(2)
	s := f.settle()
	if p := f.pair(s, "checkout", "inventory"); p.BrokenChain() != 0 {
		t.Errorf("dropped counted after the window: %+v", p)
	}
}

// TestChainKafka: a consumer that fetched records with context produces
// onward with the record's context, a fresh one, and none; it is
// classified after NameDelay, even when the fetch is judged after the
// produce.
func TestChainKafka(t *testing.T) {
	f := kfixture(t, nil)
	recs := func(tp func(i int) string, n int) []kafkatest.Record {
		out := make([]kafkatest.Record, n)
		for i := range out {
			out[i].Value = []byte("v")
			if h := tp(i); h != "" {
				out[i].Headers = []kafkatest.Header{kafkatest.H("traceparent", h)}
			}
		}
		return out
	}
	val := func(base int) func(int) string {
		return func(i int) string { return fmt.Sprintf("00-%032x-00f067aa0ba902b7-01", base+i) }
	}
	none := func(int) string { return "" }
	// inventory (serverPID) relays: it produces, seen by the broker.
	relay := kend{tgid: brokerPID, peer: serverPID, sock: 9, local: brokerAddr, remote: kclient, dir: loader.Ingress, key: -1, version: -1}
	// The first produce comes before the fetch it continues.
	f.kafka(relay, produceFrame(9, 1, topic("out", kafkatest.Batch(kafkatest.Codecs[0], 0, recs(val(1), 5)))))
	f.now = f.now.Add(time.Millisecond)
	f.kafka(consumer(2, kafka.APIFetch, 12), fetchFrame(12, 5, topic("in", kafkatest.Batch(kafkatest.Codecs[1], 0, recs(val(1), 5)))))
	f.kafka(relay, produceFrame(9, 2, topic("out", kafkatest.Batch(kafkatest.Codecs[0], 0, recs(val(100), 4)))))
	f.kafka(relay, produceFrame(9, 3, topic("out", kafkatest.Batch(kafkatest.Codecs[0], 0, recs(none, 3)))))
	// checkout produced with context, having received nothing.
	f.kafka(brokerIn(1), produceFrame(9, 4, topic("in", kafkatest.Batch(kafkatest.Codecs[0], 0, recs(val(1), 5)))))
	if p := f.pair(f.agg.Snapshot(), "inventory", "out"); p.Requests != 12 || p.Continued+p.BrokenChain() != 0 {
		t.Fatalf("classified before NameDelay: %+v", p)
	}
	s := f.settle()
	if p := f.pair(s, "inventory", "out"); p.Requests != 12 || p.Continued != 5 || p.NewRoot != 4 || p.Dropped != 3 {
		t.Errorf("inventory -> out %+v", p)
	}
	if p := f.pair(s, "checkout", "in"); p.Continued+p.BrokenChain() != 0 {
		t.Errorf("checkout -> in %+v", p)
	}
	for _, sv := range s.Services {
		if sv.Service == "inventory" && (sv.TracedReceived != 5 || sv.Continued != 5 || sv.NewRoot != 4 || sv.Dropped != 3) {
			t.Errorf("service %+v", sv)
		}
	}
}

// TestChainFlush: Flush classifies the Kafka sends still waiting.
func TestChainFlush(t *testing.T) {
	f := kfixture(t, nil)
	rec := []kafkatest.Record{{Value: []byte("v"), Headers: []kafkatest.Header{kafkatest.H("traceparent", ktp)}}}
	f.kafka(consumer(2, kafka.APIFetch, 12), fetchFrame(12, 5, topic("in", kafkatest.Batch(kafkatest.Codecs[0], 0, rec))))
	f.kafka(kend{tgid: brokerPID, peer: serverPID, sock: 9, local: brokerAddr, remote: kclient, dir: loader.Ingress, key: -1, version: -1},
		produceFrame(9, 1, topic("out", kafkatest.Batch(kafkatest.Codecs[0], 0, []kafkatest.Record{{Value: []byte("v")}}))))
	f.obs.Flush()
	if p := f.pair(f.agg.Snapshot(), "inventory", "out"); p.Dropped != 1 {
		t.Errorf("after Flush %+v", p)
	}
}

// TestChainEvictionsReported: evictions reach the report at Tick.
func TestChainEvictionsReported(t *testing.T) {
	f := newFixtureIn(t, procRoot(t), func(c *Config) {
		c.LoopbackBothEnds = false
		c.Chain.MaxPerProcess = 2
	})
	for i := range 5 {
		f.received(serverPID, clientPID, 1, serverAddr, clientAddr, get("/", tpOf(i+1)))
	}
	if s := f.settle(); s.ChainEvictions != 3 {
		t.Errorf("evictions %d, want 3", s.ChainEvictions)
	}
}

// BenchmarkChainRequest is the observer's share of one hop of a chain
// seen over loopback: web calls checkout with a trace of its own, and
// checkout calls inventory with the same trace. Each iteration is the two
// requests: checkout's receipt is remembered, its send classified as
// continued, and both counted per pair and per service. Compare with
// BenchmarkLoopbackRequest/receiver-only, one request whose sender
// received nothing, times two.
func BenchmarkChainRequest(b *testing.B) {
	const distinct = 4096 // trace ids cycled through: a live memory of that many
	in, out := make([][]byte, distinct), make([][]byte, distinct)
	for i := range distinct {
		tp := tpOf(i + 1)
		in[i] = []byte(get("/in", tp))
		out[i] = []byte(get("/out", tp))
	}
	f := chainFixture(&testing.T{})
	ev := func(tgid, peer uint32, sock uint64, local, remote netip.AddrPort, data []byte) *loader.Event {
		return &loader.Event{TGID: tgid, PeerTGID: peer, Sock: sock, Local: local, Remote: remote,
			Direction: loader.Ingress, Start: true, Len: len(data), Data: data}
	}
	evIn := ev(clientPID, webPID, 1, checkoutAddr, webAddr, nil)
	evOut := ev(serverPID, clientPID, 2, serverAddr, checkoutOut, nil)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		evIn.Data, evIn.Len = in[i%distinct], len(in[i%distinct])
		evOut.Data, evOut.Len = out[i%distinct], len(out[i%distinct])
		f.obs.Handle(evIn, f.now)
		f.obs.Handle(evOut, f.now)
		i++
		if i%1024 == 0 {
			f.now = f.now.Add(time.Second)
			f.obs.Tick(f.now)
		}
	}
	p := f.pair(f.settle(), "checkout", "inventory")
	if p.Requests != uint64(i) || p.Continued != uint64(i) {
		b.Fatalf("%d requests, %d continued; want %d", p.Requests, p.Continued, i)
	}
}
