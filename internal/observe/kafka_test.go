package observe

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/propwatch/propwatch/internal/loader"
	"github.com/propwatch/propwatch/internal/parse/kafka"
	"github.com/propwatch/propwatch/internal/parse/kafka/kafkatest"
	"github.com/propwatch/propwatch/internal/report"
)

// Kafka tests: checkout (clientPID) produces, inventory (serverPID)
// consumes, and the broker (brokerPID) has no service name: its comm.
const brokerPID = 300

const (
	ktp  = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	kbag = "userId=alice,email=alice%40example.com"
)

var (
	brokerAddr = netip.MustParseAddrPort("127.0.0.1:9092")
	kclient    = netip.MustParseAddrPort("127.0.0.1:45000")
	remoteBrk  = netip.MustParseAddrPort("192.0.2.30:9092")
	ordersID   = [16]byte{0x4a, 0x1b, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
)

// kheaders returns n records: every third without headers, the others
// with traceparent and a baggage that carries an email.
func krecords(n int) []kafkatest.Record {
	recs := make([]kafkatest.Record, n)
	for i := range recs {
		recs[i].Value = []byte(fmt.Sprintf("payload-%d", i))
		if i%3 == 2 {
			continue
		}
		recs[i].Headers = []kafkatest.Header{kafkatest.H("traceparent", ktp), kafkatest.H("baggage", kbag)}
	}
	return recs
}

func produceFrame(version int16, corr int32, topics ...kafkatest.Topic) []byte {
	return kafkatest.RequestFrame(kafka.APIProduce, version, corr, "producer-1", kafkatest.ProduceBody(version, topics...))
}

func fetchFrame(version int16, corr int32, topics ...kafkatest.Topic) []byte {
	return kafkatest.ResponseFrame(kafka.APIFetch, version, corr, kafkatest.FetchBody(version, topics...))
}

func topic(name string, parts ...[]byte) kafkatest.Topic {
	t := kafkatest.Topic{Name: name}
	for i, p := range parts {
		t.Partitions = append(t.Partitions, kafkatest.Partition{Partition: int32(i), Records: p})
	}
	return t
}

// kend is one end of a Kafka connection as events describe it.
type kend struct {
	tgid, peer    uint32
	sock          uint64
	local, remote netip.AddrPort
	dir           loader.Direction
	key, version  int16 // of the request a response answers
	tls           bool  // read at a TLS library
}

// producer is checkout writing requests to the broker over loopback.
func producer(sock uint64) kend {
	return kend{tgid: clientPID, sock: sock, local: kclient, remote: brokerAddr, dir: loader.Egress, key: -1, version: -1}
}

// brokerIn is the broker reading the requests checkout writes (the
// kernel's loopback default: the receiving end, naming the sender).
func brokerIn(sock uint64) kend {
	return kend{tgid: brokerPID, peer: clientPID, sock: sock, local: brokerAddr, remote: kclient, dir: loader.Ingress, key: -1, version: -1}
}

// consumer is inventory reading responses of key/version from the broker.
func consumer(sock uint64, key, version int16) kend {
	return kend{tgid: serverPID, sock: sock, local: kclient, remote: brokerAddr, dir: loader.Ingress, key: key, version: version}
}

// kafkaFrame delivers frame as events of the given sizes (the last one
// takes the rest); a negative size is a chunk captured only in half.
func (f *fixture) kafka(e kend, frame []byte, sizes ...int) {
	f.t.Helper()
	start := true
	for len(frame) > 0 {
		n := len(frame)
		half := false
		if len(sizes) > 0 {
			n, sizes = sizes[0], sizes[1:]
			if n < 0 {
				n, half = -n, true
			}
			n = min(n, len(frame))
		}
		ev := &loader.Event{TGID: e.tgid, PeerTGID: e.peer, Sock: e.sock, FD: uint32(e.sock), Local: e.local, Remote: e.remote,
			Direction: e.dir, Protocol: loader.Kafka, Start: start, KafkaAPIKey: -1, KafkaAPIVersion: -1,
			TLS: e.tls, Len: n, Data: frame[:n]}
		if half {
			ev.Data = frame[:n/2]
		}
		if start {
			ev.KafkaAPIKey, ev.KafkaAPIVersion = e.key, e.version
		}
		if e.peer != 0 {
			copy(ev.PeerComm[:], "peer")
		}
		if e.tgid == brokerPID {
			copy(ev.Comm[:], "kafka")
			f.obs.Handle(ev, f.now)
		} else {
			f.event(ev)
		}
		start = false
		frame = frame[n:]
	}
}

// kafkaCont delivers data as a continuation.
func (f *fixture) kafkaCont(e kend, data []byte) {
	f.event(&loader.Event{TGID: e.tgid, PeerTGID: e.peer, Sock: e.sock, Local: e.local, Remote: e.remote,
		Direction: e.dir, Protocol: loader.Kafka, KafkaAPIKey: -1, KafkaAPIVersion: -1, Len: len(data), Data: data})
}

func kfixture(t *testing.T, mod func(*Config)) *fixture {
	return newFixture(t, func(c *Config) {
		c.LoopbackBothEnds = false
		if mod != nil {
			mod(c)
		}
	})
}

func TestKafkaProduceReassembled(t *testing.T) {
	for _, c := range kafkatest.Codecs {
		t.Run(c.Name, func(t *testing.T) {
			f := kfixture(t, nil)
			frame := produceFrame(9, 1, topic("orders", kafkatest.Batch(c, 0, krecords(30)), kafkatest.Batch(c, 0, krecords(6))))
			// Seen by the broker, read the way Java does: the size, then the rest in pieces.
			f.kafka(brokerIn(1), frame, 4, 100, 37, 200)
			s := f.agg.Snapshot() // named at once, no delay
			p := f.pair(s, "checkout", "orders")
			if p.Requests != 36 || p.MissingContext != 12 || p.PIIByKind["email"] != 24 || p.Protocol != "kafka" ||
				p.Formats["w3c"] != 24 || p.CoverageGaps != nil {
				t.Fatalf("pair %+v", p)
			}
			if len(s.Pairs) != 1 || len(s.ParseFailures) != 0 {
				t.Fatalf("pairs %+v failures %v", s.Pairs, s.ParseFailures)
			}
			if f.obs.kafka.frames.Len() != 0 || f.obs.kafka.reserved != 0 {
				t.Fatalf("%d frames, %d bytes reserved", f.obs.kafka.frames.Len(), f.obs.kafka.reserved)
			}
		})
	}
}

func TestKafkaFetchVersions(t *testing.T) {
	for _, v := range []int16{4, 7, 11, 12, 13, 16} {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			f := kfixture(t, nil)
			tp := topic("orders", kafkatest.Batch(kafkatest.Codecs[1], 100, krecords(9)))
			tp.ID = ordersID
			if v >= 13 {
				// The topic id is learnt from a Metadata response on
				// another connection.
				md := kafkatest.ResponseFrame(kafka.APIMetadata, 12, 1, kafkatest.MetadataBody(12, kafkatest.Topic{Name: "orders", ID: ordersID}))
				f.kafka(consumer(7, kafka.APIMetadata, 12), md, 50)
			}
			f.kafka(consumer(2, kafka.APIFetch, v), fetchFrame(v, 5, tp), 8, 8, 1000)
			s := f.agg.Snapshot()
			p := f.pair(s, "orders", "inventory")
			if p.Requests != 9 || p.MissingContext != 3 || p.CoverageGaps != nil || len(s.ParseFailures) != 0 {
				t.Fatalf("pair %+v failures %v", p, s.ParseFailures)
			}
		})
	}
}

func TestKafkaUnknownTopicID(t *testing.T) {
	f := kfixture(t, nil)
	tp := topic("", kafkatest.Batch(kafkatest.Codecs[0], 0, krecords(5)))
	tp.ID = ordersID
	f.kafka(producer(1), produceFrame(13, 1, tp))
	s := f.agg.Snapshot()
	name := TopicIDPrefix + base64.RawURLEncoding.EncodeToString(ordersID[:])
	p := f.pair(s, "checkout", name)
	if p.Requests != 0 || p.CoverageGaps[string(kafka.UnknownTopicID)] != 1 || p.GapRecords != 5 {
		t.Fatalf("pair %+v", p)
	}
	// Once a Metadata response maps the id, the topic is named.
	md := kafkatest.ResponseFrame(kafka.APIMetadata, 12, 1, kafkatest.MetadataBody(12, kafkatest.Topic{Name: "orders", ID: ordersID}))
	f.kafka(consumer(3, kafka.APIMetadata, 12), md)
	f.kafka(producer(1), produceFrame(13, 2, tp))
	if p := f.pair(f.agg.Snapshot(), "checkout", "orders"); p.Requests != 5 {
		t.Fatalf("pair %+v", p)
	}
}

func TestKafkaCutChunk(t *testing.T) {
	f := kfixture(t, nil)
	batch := kafkatest.Batch(kafkatest.Codecs[0], 0, krecords(40))
	frame := fetchFrame(12, 9, topic("orders", batch))
	// The third chunk was captured only in half: the frame ends there.
	f.kafka(consumer(2, kafka.APIFetch, 12), frame, 100, 400, -600, 10000)
	s := f.agg.Snapshot()
	p := f.pair(s, "orders", "inventory")
	if p.Requests == 0 || p.Requests >= 40 || p.CoverageGaps[string(kafka.BatchTruncated)] != 1 || p.GapRecords != 40-p.Requests {
		t.Fatalf("pair %+v", p)
	}
	if f.obs.kafka.frames.Len() != 0 {
		t.Fatal("a cut frame is still in reassembly")
	}
}

func TestKafkaNewStartCutsFrame(t *testing.T) {
	f := kfixture(t, nil)
	frame := produceFrame(9, 1, topic("orders", kafkatest.Batch(kafkatest.Codecs[2], 0, krecords(20))))
	f.kafka(producer(1), frame[:len(frame)-10], 50)
	f.kafka(producer(1), frame, 50)
	p := f.pair(f.agg.Snapshot(), "checkout", "orders")
	if p.Requests != 20 || p.GapTotal() != 1 {
		t.Fatalf("pair %+v", p)
	}
}

func TestKafkaTTLAndFlush(t *testing.T) {
	f := kfixture(t, nil)
	frame := produceFrame(9, 1, topic("orders", kafkatest.Batch(kafkatest.Codecs[0], 0, krecords(20))))
	f.kafka(producer(1), frame[:len(frame)/2], 50)
	f.kafka(producer(2), frame[:len(frame)/2], 50)
	f.now = f.now.Add(2 * time.Second)
	f.kafka(producer(2), frame[:10], 10) // a new frame: frame 2 is cut
	f.now = f.now.Add(4 * time.Second)
	f.obs.Tick(f.now) // frame 1 waited 6s
	s := f.agg.Snapshot()
	p := f.pair(s, "checkout", "orders")
	if p.GapTotal() != 2 || p.Requests == 0 {
		t.Fatalf("pair %+v", p)
	}
	if f.obs.kafka.frames.Len() != 1 {
		t.Fatalf("%d frames in reassembly", f.obs.kafka.frames.Len())
	}
	f.obs.Flush()
	if f.obs.kafka.frames.Len() != 0 || f.obs.kafka.reserved != 0 {
		t.Fatalf("%d frames, %d bytes after Flush", f.obs.kafka.frames.Len(), f.obs.kafka.reserved)
	}
	// The third frame (10 bytes: inside its header) is a gap of no topic.
	if p := f.pair(f.agg.Snapshot(), "checkout", UnknownTopic); p.CoverageGaps[string(kafka.FrameTruncated)] != 1 {
		t.Fatalf("pair %+v", p)
	}
}

func TestKafkaFrameLimit(t *testing.T) {
	f := kfixture(t, func(c *Config) { c.KafkaMaxFrame = 4096 })
	frame := fetchFrame(12, 1, topic("orders", kafkatest.Batch(kafkatest.Codecs[0], 0, krecords(200))))
	if len(frame) < 8192 {
		t.Fatalf("frame of %d bytes", len(frame))
	}
	// The kernel ships the first 4096 bytes only.
	f.kafka(consumer(2, kafka.APIFetch, 12), frame[:4096], 1000)
	p := f.pair(f.agg.Snapshot(), "orders", "inventory")
	if p.Requests == 0 || p.CoverageGaps[string(kafka.FrameLimit)] != 1 || p.GapTotal() != 1 || p.GapRecords != 200-p.Requests {
		t.Fatalf("pair %+v", p)
	}
}

func TestKafkaBudget(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
	}{
		{"frames", func(c *Config) { c.KafkaMaxFrames = 2 }},
		{"memory", func(c *Config) { c.KafkaMaxFrame = 2000; c.KafkaMemory = 3500 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := kfixture(t, tc.mod)
			frame := produceFrame(9, 1, topic("orders", kafkatest.Batch(kafkatest.Codecs[0], 0, krecords(15))))
			if len(frame) > 2000 || len(frame) < 1000 {
				t.Fatalf("frame of %d bytes", len(frame))
			}
			for sock := uint64(1); sock <= 3; sock++ {
				f.kafka(producer(sock), frame[:500], 500)
			}
			if n := f.obs.kafka.frames.Len(); n != 2 {
				t.Fatalf("%d frames in reassembly", n)
			}
			if f.obs.kafka.reserved > f.obs.kafka.memory {
				t.Fatalf("%d bytes reserved", f.obs.kafka.reserved)
			}
			// The third frame was judged on its first chunk.
			p := f.pair(f.agg.Snapshot(), "checkout", "orders")
			if p.CoverageGaps[string(GapReassemblyFull)] != 1 || p.GapTotal() != 1 || p.Requests == 0 {
				t.Fatalf("pair %+v", p)
			}
			// The two in reassembly end whole; the third's rest is ignored.
			for sock := uint64(1); sock <= 3; sock++ {
				f.kafkaCont(producer(sock), frame[500:])
			}
			first := p.Requests
			p = f.pair(f.agg.Snapshot(), "checkout", "orders")
			if p.Requests != first+30 || first >= 15 || p.GapTotal() != 1 || f.obs.kafka.reserved != 0 {
				t.Fatalf("pair %+v, %d bytes reserved", p, f.obs.kafka.reserved)
			}
		})
	}
}

func TestKafkaBothEndsCountOnce(t *testing.T) {
	for _, order := range []string{"producer first", "broker first"} {
		t.Run(order, func(t *testing.T) {
			f := kfixture(t, func(c *Config) { c.LoopbackBothEnds = true })
			frames := [][]byte{
				produceFrame(9, 1, topic("orders", kafkatest.Batch(kafkatest.Codecs[0], 0, krecords(12)))),
				produceFrame(9, 2, topic("orders", kafkatest.Batch(kafkatest.Codecs[0], 0, krecords(12)))),
			}
			send := func(fr []byte) { f.kafka(producer(1), fr) }
			recv := func(fr []byte) {
				e := brokerIn(2)
				e.peer = 0
				f.kafka(e, fr, 4, 30, 100) // chunked unlike the writer
			}
			for _, fr := range frames {
				if order == "producer first" {
					send(fr)
					recv(fr)
				} else {
					recv(fr)
					send(fr)
				}
			}
			s := f.agg.Snapshot()
			var total uint64
			for _, p := range s.Pairs {
				total += p.Requests
			}
			if total != 24 {
				t.Fatalf("pairs %+v", s.Pairs)
			}
			// Named at once: when the broker's end of a new connection is
			// seen before the producer's, the producer is named by its
			// address; from the next frame on, by its service.
			want := uint64(24)
			if order == "broker first" {
				want = 12
				if p := f.pair(s, "127.0.0.1", "orders"); p.Requests != 12 {
					t.Fatalf("pair %+v", p)
				}
			}
			if p := f.pair(s, "checkout", "orders"); p.Requests != want {
				t.Fatalf("pair %+v", p)
			}
			if n := f.obs.dedupe.len(); n != 0 {
				t.Fatalf("%d unmatched observations", n)
			}
		})
	}
}

func TestKafkaPeerNames(t *testing.T) {
	var asked int
	f := kfixture(t, func(c *Config) {
		c.Owner = func(netns uint32, local, remote netip.AddrPort) (uint32, [16]byte, bool) {
			asked++
			return clientPID, [16]byte{'c'}, true
		}
	})
	frame := produceFrame(9, 1, topic("orders", kafkatest.Batch(kafkatest.Codecs[0], 0, krecords(3))))
	// Named by the event.
	f.kafka(brokerIn(1), frame)
	// Not named by the event: Config.Owner.
	e := brokerIn(2)
	e.peer = 0
	f.kafka(e, frame)
	// A remote producer: its address, without the ephemeral port.
	f.kafka(kend{tgid: brokerPID, sock: 3, local: netip.MustParseAddrPort("10.0.0.1:9092"), remote: remoteCli,
		dir: loader.Ingress, key: -1, version: -1}, frame)
	// A remote broker sends this host's consumer a Fetch response.
	f.kafka(kend{tgid: serverPID, sock: 4, local: netip.MustParseAddrPort("10.0.0.1:50000"), remote: remoteBrk,
		dir: loader.Ingress, key: kafka.APIFetch, version: 12},
		fetchFrame(12, 1, topic("orders", kafkatest.Batch(kafkatest.Codecs[0], 0, krecords(3)))))
	s := f.agg.Snapshot()
	if p := f.pair(s, "checkout", "orders"); p.Requests != 6 {
		t.Errorf("checkout -> orders %+v", p)
	}
	if p := f.pair(s, "192.0.2.20", "orders"); p.Requests != 3 {
		t.Errorf("remote producer %+v", p)
	}
	if p := f.pair(s, "orders", "inventory"); p.Requests != 3 {
		t.Errorf("orders -> inventory %+v", p)
	}
	if asked != 1 {
		t.Errorf("Owner asked %d times, want 1", asked)
	}
}

func TestKafkaTopicThatLooksLikePII(t *testing.T) {
	f := kfixture(t, nil)
	f.kafka(producer(1), produceFrame(9, 1, topic("jane.doe@example.com", kafkatest.Batch(kafkatest.Codecs[0], 0, krecords(2)))))
	s := f.agg.Snapshot()
	if p := f.pair(s, "checkout", RedactedTopic); p.Requests != 2 {
		t.Fatalf("pair %+v", p)
	}
	if len(s.Pairs) != 1 {
		t.Fatalf("pairs %+v", s.Pairs)
	}
}

// TestKafkaContinuity: a consumer that fetched records with context and
// produces onward is judged on what it produces, like an HTTP service on
// what it calls.
func TestKafkaContinuity(t *testing.T) {
	f := kfixture(t, nil)
	f.kafka(consumer(2, kafka.APIFetch, 12), fetchFrame(12, 1, topic("orders", kafkatest.Batch(kafkatest.Codecs[4], 0, krecords(3)))))
	// inventory produces to payments without headers, and calls an HTTP
	// service with context.
	out := kend{tgid: serverPID, sock: 5, local: kclient, remote: brokerAddr, dir: loader.Egress, key: -1, version: -1}
	f.kafka(out, produceFrame(9, 1, topic("payments", kafkatest.Batch(kafkatest.Codecs[0], 0, make([]kafkatest.Record, 3)))))
	f.event(&loader.Event{TGID: serverPID, Sock: 6, Local: netip.MustParseAddrPort("10.0.0.1:5000"), Remote: remoteAddr,
		Direction: loader.Egress, Start: true, Len: len(get("/pay", tp)), Data: []byte(get("/pay", tp))})
	s := f.settle()
	if p := f.pair(s, "orders", "inventory"); p.Requests != 3 || p.MissingContext != 1 {
		t.Errorf("fetch pair %+v", p)
	}
	if p := f.pair(s, "inventory", "payments"); p.Requests != 3 || p.MissingContext != 3 {
		t.Errorf("produce pair %+v", p)
	}
	if p := f.pair(s, "inventory", "inventory"); p.Requests != 1 || p.MissingContext != 0 || p.Protocol != "http" {
		t.Errorf("http pair %+v", p)
	}
}

func TestKafkaNotKafka(t *testing.T) {
	f := kfixture(t, nil)
	// Text shipped as a Kafka request (on a stream of its own: its stream
	// is not offered again, TestKafkaStreamRefused).
	f.kafka(producer(7), []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	// A Metadata request: Kafka, but not what propwatch decodes.
	f.kafka(producer(1), kafkatest.RequestFrame(kafka.APIMetadata, 12, 1, "c", []byte{0, 0, 0}))
	// A response to a Produce request.
	f.kafka(consumer(2, kafka.APIProduce, 9), kafkatest.ResponseFrame(kafka.APIProduce, 9, 1, []byte{1, 0, 0}))
	// A Fetch response whose body is garbage: a bad frame of no topic.
	f.kafka(consumer(2, kafka.APIFetch, 12), kafkatest.ResponseFrame(kafka.APIFetch, 12, 1, []byte{0xff, 0xff, 0xff}))
	// A Metadata response whose body is garbage.
	f.kafka(consumer(2, kafka.APIMetadata, 12), kafkatest.ResponseFrame(kafka.APIMetadata, 12, 1, []byte{0xff, 0xff, 0xff}))
	s := f.agg.Snapshot()
	if s.ParseFailures[FailNotKafka] != 1 || s.ParseFailures[FailKafkaAPI] != 2 || s.ParseFailures[FailKafkaMetadata] != 1 {
		t.Errorf("failures %v", s.ParseFailures)
	}
	if len(s.Pairs) != 1 {
		t.Fatalf("pairs %+v", s.Pairs)
	}
	if p := f.pair(s, UnknownTopic, "inventory"); p.Requests != 0 || p.CoverageGaps[string(kafka.BadFrame)] != 1 {
		t.Errorf("pair %+v", p)
	}
}

// TestKafkaStreamRefused: a stream whose chunks the kernel shipped as
// Kafka but that never read as Kafka is not offered to the decoder again
// (an HTTP/2 connection joined mid-way sends control frames that begin
// like Produce requests, again and again); a stream read as Kafka once is
// offered every time, and a refused stream's verdict is per direction.
func TestKafkaStreamRefused(t *testing.T) {
	f := kfixture(t, nil)
	ping := []byte{0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}
	for range 5 {
		f.kafka(producer(7), ping)
	}
	meta := kafkatest.RequestFrame(kafka.APIMetadata, 12, 1, "c", []byte{0, 0, 0})
	f.kafka(producer(7), meta) // Kafka-shaped, but on a refused stream: not read
	f.kafka(producer(8), meta) // read: the wrong API, counted as such
	f.kafka(producer(8), []byte("GET / HTTP/1.1\r\n\r\n"))
	f.kafka(producer(8), meta) // refused once, but read before: still offered
	s := f.agg.Snapshot()
	if s.ParseFailures[FailNotKafka] != 2 || s.ParseFailures[FailKafkaAPI] != 2 {
		t.Errorf("failures %v, want 2 kafka.not_kafka (one a stream) and 2 kafka.unexpected_api", s.ParseFailures)
	}
}

// TestKafkaChurnIsBounded starts frames on a hundred thousand connections
// that never finish them, some larger than the cap, and checks that the
// frames in reassembly, their bytes and the free buffers stay within the
// caps while every frame is counted.
func TestKafkaChurnIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	const memory = 1 << 20
	f := kfixture(t, func(c *Config) { c.KafkaMaxFrames = 64; c.KafkaMemory = memory; c.KafkaMaxFrame = 64 << 10 })
	small := produceFrame(9, 1, topic("orders", kafkatest.Batch(kafkatest.Codecs[0], 0, krecords(50))))
	big := fetchFrame(12, 1, topic("orders", kafkatest.Batch(kafkatest.Codecs[0], 0, krecords(3000))))
	if len(big) < 128<<10 {
		t.Fatalf("big frame of %d bytes", len(big))
	}
	var ms runtime.MemStats
	var heap [2]uint64
	const conns = 100_000
	for i := range conns {
		port := uint16(1024 + i%60000)
		if i%2 == 0 {
			e := producer(uint64(i))
			e.local = netip.AddrPortFrom(kclient.Addr(), port)
			f.kafka(e, small[:len(small)/2], 300) // never finished
		} else {
			e := consumer(uint64(i), kafka.APIFetch, 12)
			f.kafka(e, big[:20000], 4096)
		}
		if i%1000 == 0 {
			f.now = f.now.Add(500 * time.Millisecond)
			f.obs.Tick(f.now)
		}
		k := &f.obs.kafka
		if k.frames.Len() > 64 || k.reserved > memory || k.freeSize > memory/4 || len(k.free) > maxFreeBuffers {
			t.Fatalf("conn %d: %d frames, %d reserved, %d free bytes in %d buffers", i, k.frames.Len(), k.reserved, k.freeSize, len(k.free))
		}
		if i == conns/10 || i == conns-1 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			heap[min(i/(conns/2), 1)] = ms.HeapInuse
		}
	}
	f.obs.Flush()
	if heap[1] > heap[0]+8<<20 {
		t.Errorf("heap grew from %d to %d bytes", heap[0], heap[1])
	}
	s := f.agg.Snapshot()
	var gaps uint64
	for _, p := range s.Pairs {
		gaps += p.GapTotal()
	}
	// Every frame is cut: each is one gap.
	if gaps != conns {
		t.Errorf("%d gaps, want %d", gaps, conns)
	}
}

// TestKafkaSteadyStateAllocs: a Fetch response reassembled from several
// events costs only kmsg's per-frame slices (topics, partitions) once
// buffers are warm.
func TestKafkaSteadyStateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	f := kfixture(t, nil)
	frame := fetchFrame(12, 1, topic("orders", kafkatest.Batch(kafkatest.Codecs[0], 0, krecords(100))))
	evs := kafkaEvents(consumer(2, kafka.APIFetch, 12), frame, 4096)
	run := func() {
		for _, ev := range evs {
			f.obs.Handle(ev, f.now)
		}
	}
	run()
	if n := testing.AllocsPerRun(100, run); n > 2 {
		t.Errorf("%v allocations per frame", n)
	}
	if p := f.pair(f.agg.Snapshot(), "orders", "inventory"); p.Requests != 102*100 {
		t.Errorf("pair %+v", p)
	}
}

// kafkaEvents splits frame into events of at most chunk bytes.
func kafkaEvents(e kend, frame []byte, chunk int) []*loader.Event {
	var evs []*loader.Event
	for off := 0; off < len(frame); off += chunk {
		data := frame[off:min(off+chunk, len(frame))]
		ev := &loader.Event{TGID: e.tgid, PeerTGID: e.peer, Sock: e.sock, Local: e.local, Remote: e.remote,
			Direction: e.dir, Protocol: loader.Kafka, Start: off == 0, KafkaAPIKey: -1, KafkaAPIVersion: -1,
			Len: len(data), Data: data}
		if off == 0 {
			ev.KafkaAPIKey, ev.KafkaAPIVersion = e.key, e.version
		}
		copy(ev.Comm[:], "comm")
		evs = append(evs, ev)
	}
	return evs
}

// BenchmarkKafkaFetch is the observer's share of one Fetch response of one
// batch of 100 records, each with traceparent and baggage, read by a
// consumer in 16 KiB chunks: reassembly, decoding, judging every record.
func BenchmarkKafkaFetch(b *testing.B) {
	for _, c := range []kafkatest.Codec{kafkatest.Codecs[0], kafkatest.Codecs[4], kafkatest.Codecs[5]} {
		b.Run(c.Name, func(b *testing.B) {
			recs := make([]kafkatest.Record, 100)
			for i := range recs {
				recs[i] = kafkatest.Record{
					Headers: []kafkatest.Header{kafkatest.H("traceparent", ktp), kafkatest.H("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
						kafkatest.H("baggage", "tenant.id=acme-corp,session.region=eu-west-1,request.priority=high")},
					Value: []byte(fmt.Sprintf(`{"order":%d,"sku":"A-1","qty":2,"note":"%0200d"}`, i, i)),
				}
			}
			frame := fetchFrame(12, 1, topic("orders", kafkatest.Batch(c, 0, recs)))
			evs := kafkaEvents(consumer(2, kafka.APIFetch, 12), frame, loader.DefaultCaptureBytes)
			f := kfixture(&testing.T{}, nil)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			frames := 0
			for b.Loop() {
				for _, ev := range evs {
					f.obs.Handle(ev, f.now)
				}
				frames++
			}
			b.ReportMetric(float64(frames*100)/b.Elapsed().Seconds(), "records/s")
			var p report.PairStats
			for _, q := range f.agg.Snapshot().Pairs {
				p = q
			}
			if p.Requests != uint64(frames*100) || p.MissingContext != 0 || p.GapTotal() != 0 {
				b.Fatalf("pair %+v after %d frames", p, frames)
			}
		})
	}
}
