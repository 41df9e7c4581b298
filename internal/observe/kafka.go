package observe

import (
	"encoding/base64"
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/propwatch/propwatch/internal/identity"
	"github.com/propwatch/propwatch/internal/loader"
	"github.com/propwatch/propwatch/internal/parse/http1"
	"github.com/propwatch/propwatch/internal/parse/kafka"
	"github.com/propwatch/propwatch/internal/parse/pii"
	"github.com/propwatch/propwatch/internal/parse/reason"
	"github.com/propwatch/propwatch/internal/report"
)

// The Kafka path.
//
// The kernel ships Produce requests (client → broker) and Fetch and
// Metadata responses (broker → client) as a Start event and continuations
// per (socket, direction), up to Config.KafkaMaxFrame bytes of each frame.
// Frames are reassembled here, decoded by internal/parse/kafka, and every
// record of them is judged by the engine and counted as one request of the
// pair producer → topic (Produce) or topic → consumer (Fetch). What the
// decoder could not read is a coverage gap of the pair, never a request.
//
// Kafka pairs are named when the frame is decoded, not through the naming
// queue that HTTP requests wait in: a frame is up to thousands of records,
// and the queue would have to keep a verdict per record (or the frame's
// bytes, up to KafkaMaxFrame) for NameDelay. The queue exists so that the
// other end's event can say who owns a local connection; for Kafka that is
// rarely needed: over loopback the kernel emits the receiving end only and
// names the sender in the event (PeerTGID), and Kafka connections are
// long-lived, so the Owners table knows both ends of a connection between
// two addresses of this host from its earlier frames (the client's
// Metadata responses among them). Only the first frame of such a
// connection, seen at the broker before the client's own event, may name
// the client by its address. (The Produce records of a local producer do
// wait NameDelay, with their verdicts, but already named: they wait to be
// classified and shown as evidence, in chain.go's sendQueue.)

// Parse failures of the Kafka path: input that is not a frame propwatch
// decodes. No pair is charged with them.
const (
	// FailNotKafka: a chunk the kernel shipped as the start of a Kafka
	// frame does not parse as one.
	FailNotKafka = "kafka.not_kafka"
	// FailKafkaAPI: a Kafka frame of an API propwatch does not decode
	// (anything but a Produce request and a Fetch or Metadata response).
	FailKafkaAPI = "kafka.unexpected_api"
	// FailKafkaMetadata: a Metadata response that did not parse; the
	// topic ids it held were not learnt.
	FailKafkaMetadata = "kafka.bad_metadata"
)

// GapReassemblyFull is the coverage gap of a Kafka frame that found the
// reassembly caps (Config.KafkaMaxFrames, Config.KafkaMemory) reached: it
// was judged on its first chunk, and the records past it were not read.
const GapReassemblyFull reason.Code = "kafka.reassembly_full"

// ProtocolKafka is the pair protocol of Kafka records.
const ProtocolKafka = "kafka"

// Names that stand for a topic in a pair when its own name cannot.
const (
	// UnknownTopic: a gap before any topic of the frame was read.
	UnknownTopic = "(unknown-topic)"
	// RedactedTopic: a topic name that looks like PII.
	RedactedTopic = "(redacted-topic)"
	// TopicIDPrefix starts the name of a topic known only by its id (a
	// kafka.unknown_topic_id gap): the id follows as Kafka prints it
	// (kafka-topics.sh --describe), URL-safe base64 without padding.
	TopicIDPrefix = "topic-id:"
)

// apiRequest is Event.KafkaAPIKey of a request: its key is in it. A
// response's is its request's key (kafka.APIFetch, kafka.APIMetadata).
const apiRequest = -1

// DefaultKafkaMemory is Config.KafkaMemory when it is zero.
const DefaultKafkaMemory = 64 << 20

// Defaults of the Kafka caps.
const (
	defaultKafkaMaxFrames = 1024
	// kafkaDedupePrefix is how many bytes of a frame its both-ends key
	// hashes: the size, the header and the correlation id that makes
	// frames of one connection differ, whatever the syscalls' chunking.
	kafkaDedupePrefix = 64
	// kafkaDedupeSalt keeps a frame's key apart from an HTTP head's.
	kafkaDedupeSalt = 0x6b61666b61 // "kafka"
	// maxFreeBuffers bounds the frame buffers kept for reuse; their bytes
	// are bounded by a quarter of KafkaMemory.
	maxFreeBuffers = 64
	// minFrameBuffer is the first size a frame buffer grows to.
	minFrameBuffer = 4096
	// maxTopicNames bounds the cache of topic pair names.
	maxTopicNames = 4096
)

// gapCause says why a frame was judged before its end.
type gapCause uint8

const (
	// causeNone: the frame is whole.
	causeNone gapCause = iota
	// causeCut: bytes of it were not captured (a chunk captured in part,
	// a new frame before its end, StreamTTL, Flush): the decoder's codes.
	causeCut
	// causeLimit: the frame is longer than KafkaMaxFrame.
	causeLimit
	// causeBudget: the reassembly caps were reached.
	causeBudget
)

// kafkaConn is what a frame's pair is named from: the event's end of the
// connection and what the kernel said about the frame.
type kafkaConn struct {
	dir            loader.Direction
	tgid, netns    uint32
	comm           [16]byte
	peerTGID       uint32
	peerComm       [16]byte
	local, remote  netip.AddrPort
	apiKey, apiVer int16
	// both: both ends are on this host and may both be seen, so the
	// frame must be counted once.
	both bool
	// tls: the frame was read at a TLS library (Event.TLS).
	tls bool
}

// kframe is a Kafka frame in reassembly.
type kframe struct {
	conn kafkaConn
	buf  []byte
	// want is the frame's length up to KafkaMaxFrame, 0 until its size
	// field has been seen; reserved is what it holds of KafkaMemory.
	want, reserved int
	// cut: a chunk of it was captured in part.
	cut bool
	// checked: its both-ends key has been looked up.
	checked bool
	updated time.Time

	// key and the links of frameTable's recency list.
	key        streamKey
	prev, next *kframe
}

// frameTable holds the frames in reassembly by (socket, direction), and in
// the order they last moved, for StreamTTL. It is a map and an intrusive
// list rather than an LRU package's, whose list entries would cost an
// allocation per frame.
type frameTable struct {
	m map[streamKey]*kframe
	// list is the sentinel of a ring: list.next is the most recently
	// moved frame, list.prev the oldest.
	list kframe
}

func (t *frameTable) init() {
	t.m = make(map[streamKey]*kframe)
	t.list.prev, t.list.next = &t.list, &t.list
}

// Len returns the number of frames held.
func (t *frameTable) Len() int { return len(t.m) }

// Peek returns the frame of key.
func (t *frameTable) Peek(key streamKey) (*kframe, bool) {
	f, ok := t.m[key]
	return f, ok
}

// Add holds f under key as the most recently moved frame.
func (t *frameTable) Add(key streamKey, f *kframe) {
	f.key = key
	t.m[key] = f
	t.pushFront(f)
}

// Touch makes f the most recently moved frame.
func (t *frameTable) Touch(f *kframe) {
	t.unlink(f)
	t.pushFront(f)
}

// Remove drops f.
func (t *frameTable) Remove(f *kframe) {
	delete(t.m, f.key)
	t.unlink(f)
}

// Oldest returns the frame that moved least recently.
func (t *frameTable) Oldest() (*kframe, bool) {
	if t.list.prev == &t.list {
		return nil, false
	}
	return t.list.prev, true
}

func (t *frameTable) pushFront(f *kframe) {
	f.prev, f.next = &t.list, t.list.next
	t.list.next.prev = f
	t.list.next = f
}

func (t *frameTable) unlink(f *kframe) {
	f.prev.next = f.next
	f.next.prev = f.prev
	f.prev, f.next = nil, nil
}

// kafkaState is the Kafka part of an Observer.
type kafkaState struct {
	maxFrame, maxFrames, memory int

	dec    *kafka.Decoder
	frames frameTable
	// reserved is the sum of the frames' reservations.
	reserved int
	free     [][]byte
	freeSize int
	pool     []*kframe

	// The frame being decoded, for the decoder's callbacks; lastPair is
	// the pair of its last record, whose topic was lastTopic.
	produce   bool
	tls       bool // the frame was read at a TLS library
	client    identity.Name
	clientPID uint32 // the client's pid when it is a local process, else 0
	now       int64  // UnixNano of the frame's judgement
	cause     gapCause
	lastTopic string
	lastPair  report.PairKey

	// streams remembers, per stream, whether it was ever read as Kafka
	// (true) or only refused (false): the kernel offers what begins like
	// a Kafka frame, and an HTTP/2 connection joined mid-way sends control
	// frames that do, again and again. A stream refused and never read
	// is not offered to the decoder again. Least recently used out past
	// maxKafkaStreams.
	streams *simplelru.LRU[streamKey, bool]

	visit      func(*kafka.Record)
	topicNames map[string]string
	idNames    map[[16]byte]string
}

// maxKafkaStreams caps the streams whose Kafka verdict is remembered.
const maxKafkaStreams = 4096

// notKafka counts a chunk the kernel shipped as Kafka that is not, and
// remembers its stream as not Kafka unless it was read as Kafka before.
func (o *Observer) notKafka(key streamKey) {
	o.cfg.Aggregator.ParseFailure(FailNotKafka)
	if _, seen := o.kafka.streams.Get(key); !seen {
		o.kafka.streams.Add(key, false)
	}
}

func (o *Observer) initKafka() {
	k := &o.kafka
	k.streams, _ = simplelru.NewLRU[streamKey, bool](maxKafkaStreams, nil) // errors only on size <= 0
	k.maxFrame = o.cfg.KafkaMaxFrame
	if k.maxFrame <= 0 {
		k.maxFrame = loader.DefaultKafkaCaptureBytes
	}
	k.maxFrames = o.cfg.KafkaMaxFrames
	if k.maxFrames <= 0 {
		k.maxFrames = defaultKafkaMaxFrames
	}
	k.memory = o.cfg.KafkaMemory
	if k.memory <= 0 {
		k.memory = DefaultKafkaMemory
	}
	k.memory = max(k.memory, k.maxFrame)
	limits := o.cfg.KafkaLimits
	limits.MaxFrame = k.maxFrame
	if o.cfg.TopicIDs == nil {
		o.cfg.TopicIDs = kafka.NewTopicIDs(0)
	}
	k.dec = kafka.NewDecoder(limits, o.cfg.TopicIDs)
	k.dec.OnGap = o.kafkaGap
	k.visit = o.kafkaRecord
	k.frames.init()
}

// kafkaEvent consumes one Kafka event.
func (o *Observer) kafkaEvent(ev *loader.Event, now time.Time) {
	k := &o.kafka
	key := streamOf(ev)
	f, pending := k.frames.Peek(key)
	if ev.Start {
		if pending {
			// A new frame before the last one ended: its bytes were
			// lost.
			f.cut = true
			o.kafkaFinish(f, f.updated)
		}
		o.kafkaStart(ev, key, now)
		return
	}
	if !pending {
		// The rest of a frame judged already, refused, counted at the
		// other end, or begun before propwatch was.
		return
	}
	k.frames.Touch(f)
	f.updated = now
	data := ev.Data
	if f.want > 0 && len(f.buf)+len(data) > f.want {
		data = data[:f.want-len(f.buf)]
	}
	o.kafkaAppend(f, data)
	if len(ev.Data) < ev.Len {
		f.cut = true
	}
	if f.want == 0 && len(f.buf) >= 4 {
		o.kafkaSized(f)
		if len(f.buf) > f.want {
			f.buf = f.buf[:f.want]
		}
	}
	if f.cut || (f.want > 0 && len(f.buf) >= f.want) {
		o.kafkaFinish(f, now)
		return
	}
	if !f.checked && len(f.buf) >= kafkaDedupePrefix {
		f.checked = true
		if !o.kafkaFirst(&f.conn, f.buf, now) {
			o.kafkaDrop(f)
		}
	}
}

// kafkaStart begins a frame: it judges it at once when the event holds
// all of it (or all the capture will ship), else starts reassembling it.
func (o *Observer) kafkaStart(ev *loader.Event, key streamKey, now time.Time) {
	k := &o.kafka
	if isKafka, seen := k.streams.Get(key); seen && !isKafka {
		return // refused before and never read as Kafka since
	}
	// What is not a frame propwatch decodes is refused before a byte of
	// it is buffered.
	switch ev.KafkaAPIKey {
	case apiRequest:
		h, st := kafka.SniffRequest(ev.Data)
		if st == kafka.NotKafka {
			o.notKafka(key)
			return
		}
		if st == kafka.Request && h.APIKey != kafka.APIProduce {
			// Kafka, if not what propwatch decodes (HTTP/2 frames that
			// pass for a request always read as Produce).
			k.streams.Add(key, true)
			o.cfg.Aggregator.ParseFailure(FailKafkaAPI)
			return
		}
	case kafka.APIFetch, kafka.APIMetadata:
		switch _, st := kafka.ParseResponseHeader(ev.Data, ev.KafkaAPIKey, ev.KafkaAPIVersion); st {
		case kafka.NotKafka:
			o.notKafka(key)
			return
		case kafka.Response:
			k.streams.Add(key, true)
		}
	default:
		o.cfg.Aggregator.ParseFailure(FailKafkaAPI)
		return
	}
	c := kafkaConn{
		dir: ev.Direction, tgid: ev.TGID, netns: ev.NetNS, comm: ev.Comm,
		peerTGID: ev.PeerTGID, peerComm: ev.PeerComm, local: ev.Local, remote: ev.Remote,
		apiKey: ev.KafkaAPIKey, apiVer: ev.KafkaAPIVersion, tls: ev.TLS,
	}
	loopback := ev.Remote.Addr().IsLoopback()
	c.both = (!loopback || o.bothEnds(ev)) && o.cfg.Local.Has(ev.Remote.Addr())
	cut := len(ev.Data) < ev.Len
	want := 0
	if len(ev.Data) >= 4 {
		want = k.frameWant(ev.Data)
	}
	if want > 0 && len(ev.Data) >= want {
		// The usual case for small frames: nothing to copy.
		o.kafkaJudge(key, &c, ev.Data[:want], causeNone, false, now)
		return
	}
	if cut {
		o.kafkaJudge(key, &c, ev.Data, causeCut, false, now)
		return
	}
	// A frame whose size is not known yet reserves the most a frame may
	// take, and gives back the rest once its size is seen.
	reserve := want
	if want == 0 {
		reserve = k.maxFrame
	}
	buf := o.kafkaTakeBuffer(reserve)
	reserve = max(reserve, cap(buf))
	if k.frames.Len() >= k.maxFrames || k.reserved+reserve > k.memory {
		o.kafkaPutBuffer(buf)
		o.kafkaJudge(key, &c, ev.Data, causeBudget, false, now)
		return
	}
	f := o.kafkaNewFrame()
	f.conn, f.buf, f.want, f.reserved, f.updated = c, buf[:0], want, reserve, now
	k.reserved += reserve
	o.kafkaAppend(f, ev.Data)
	k.frames.Add(key, f)
	if len(f.buf) >= kafkaDedupePrefix {
		f.checked = true
		if !o.kafkaFirst(&f.conn, f.buf, now) {
			o.kafkaDrop(f)
		}
	}
}

// frameWant is how many bytes of the frame starting with b the capture
// ships: its length or KafkaMaxFrame, whichever is less.
func (k *kafkaState) frameWant(b []byte) int {
	size := int64(int32(binary.BigEndian.Uint32(b))) + 4
	if size < 4 {
		size = 4
	}
	return int(min(size, int64(k.maxFrame)))
}

// kafkaSized records the size of a frame whose Start event held less than
// its size field, and gives back the reservation it no longer needs.
func (o *Observer) kafkaSized(f *kframe) {
	k := &o.kafka
	f.want = k.frameWant(f.buf)
	if r := max(f.want, cap(f.buf)); r < f.reserved {
		k.reserved -= f.reserved - r
		f.reserved = r
	}
}

// kafkaAppend appends data to f's buffer, growing it by doubling but never
// past what the frame reserved.
func (o *Observer) kafkaAppend(f *kframe, data []byte) {
	need := len(f.buf) + len(data)
	if need > cap(f.buf) {
		n := min(max(need, 2*cap(f.buf), minFrameBuffer), f.reserved)
		n = max(n, need)
		grown := make([]byte, len(f.buf), n)
		copy(grown, f.buf)
		f.buf = grown
	}
	f.buf = append(f.buf, data...)
}

// kafkaFinish judges a frame in reassembly and frees its slot.
func (o *Observer) kafkaFinish(f *kframe, now time.Time) {
	o.kafka.frames.Remove(f)
	cause := causeNone
	if f.cut {
		cause = causeCut
	}
	o.kafkaJudge(f.key, &f.conn, f.buf, cause, f.checked, now)
	o.kafkaRelease(f)
}

// kafkaDrop frees a frame without judging it: the other end counted it.
func (o *Observer) kafkaDrop(f *kframe) {
	o.kafka.frames.Remove(f)
	o.kafkaRelease(f)
}

func (o *Observer) kafkaRelease(f *kframe) {
	k := &o.kafka
	k.reserved -= f.reserved
	o.kafkaPutBuffer(f.buf)
	*f = kframe{}
	if len(k.pool) < maxFreeBuffers {
		k.pool = append(k.pool, f)
	}
}

func (o *Observer) kafkaNewFrame() *kframe {
	k := &o.kafka
	if n := len(k.pool); n > 0 {
		f := k.pool[n-1]
		k.pool = k.pool[:n-1]
		return f
	}
	return &kframe{}
}

// kafkaTakeBuffer returns the smallest free buffer that holds want bytes,
// or nil.
func (o *Observer) kafkaTakeBuffer(want int) []byte {
	k := &o.kafka
	best := -1
	for i, b := range k.free {
		if cap(b) >= want && (best < 0 || cap(b) < cap(k.free[best])) {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	b := k.free[best]
	last := len(k.free) - 1
	k.free[best], k.free[last] = k.free[last], nil
	k.free = k.free[:last]
	k.freeSize -= cap(b)
	return b
}

// kafkaPutBuffer keeps a buffer for reuse while the free buffers hold
// less than a quarter of KafkaMemory, replacing a smaller one when full.
func (o *Observer) kafkaPutBuffer(b []byte) {
	k := &o.kafka
	if cap(b) == 0 {
		return
	}
	limit := k.memory / 4
	if len(k.free) >= maxFreeBuffers || k.freeSize+cap(b) > limit {
		small := -1
		for i, have := range k.free {
			if cap(have) < cap(b) && (small < 0 || cap(have) < cap(k.free[small])) {
				small = i
			}
		}
		if small < 0 || k.freeSize-cap(k.free[small])+cap(b) > limit {
			return
		}
		k.freeSize -= cap(k.free[small])
		k.free[small] = b[:0]
		k.freeSize += cap(b)
		return
	}
	k.free = append(k.free, b[:0])
	k.freeSize += cap(b)
}

// kafkaFirst reports whether this observation of a frame is the first of
// it, for frames whose both ends are on this host; it keys the frame by
// its first bytes and the connection's ends, as request heads are keyed.
func (o *Observer) kafkaFirst(c *kafkaConn, data []byte, now time.Time) bool {
	if !c.both {
		return true
	}
	sender, receiver := c.local, c.remote
	if c.dir == loader.Ingress {
		sender, receiver = c.remote, c.local
	}
	k := dedupeKey{client: sender, server: receiver, tls: c.tls,
		sum: maphash.Bytes(o.seed, data[:min(len(data), kafkaDedupePrefix)]) ^ kafkaDedupeSalt}
	if c.remote.Addr().IsLoopback() {
		k.netns = c.netns
	}
	return o.dedupe.first(k, c.dir, now)
}

// kafkaJudge decodes one frame, data being its first bytes: all of them,
// or fewer when cause says why not. It judges every record and counts
// every gap. checked says whether the frame's both-ends key was looked up.
func (o *Observer) kafkaJudge(key streamKey, c *kafkaConn, data []byte, cause gapCause, checked bool, now time.Time) {
	if !checked && !o.kafkaFirst(c, data, now) {
		return
	}
	k := &o.kafka
	if cause == causeNone && len(data) >= 4 && int64(int32(binary.BigEndian.Uint32(data)))+4 > int64(len(data)) {
		cause = causeLimit
	}
	complete := cause == causeNone
	k.cause, k.lastTopic, k.lastPair = cause, "", report.PairKey{}
	k.produce, k.tls = c.apiKey == apiRequest, c.tls
	// The client is this event's process when it sent the request or
	// received the response; otherwise the event is the broker's, and the
	// client is its peer.
	if k.produce == (c.dir == loader.Egress) {
		k.client, k.clientPID = o.service(c.tgid, c.comm[:], now), c.tgid
	} else {
		k.client, k.clientPID = o.kafkaPeer(c, now)
	}
	k.now = now.UnixNano()

	var st kafka.Stats
	switch c.apiKey {
	case apiRequest:
		h, s := kafka.SniffRequest(data)
		switch {
		case s == kafka.Request && h.APIKey != kafka.APIProduce:
			o.cfg.Aggregator.ParseFailure(FailKafkaAPI)
			return
		case s == kafka.Request:
			k.streams.Add(key, true)
			body := data[h.HeaderLen:min(len(data), h.FrameLen())]
			st = k.dec.Produce(body, h.APIVersion, complete, k.visit)
		case s == kafka.NeedMore && !complete:
			// Cut inside its header: not one record was readable.
			o.kafkaGap(kafka.Gap{Code: kafka.FrameTruncated, Partition: -1, Records: -1})
			return
		default:
			o.notKafka(key)
			return
		}
	case kafka.APIFetch, kafka.APIMetadata:
		h, s := kafka.ParseResponseHeader(data, c.apiKey, c.apiVer)
		switch {
		case s == kafka.Response:
			k.streams.Add(key, true)
			body := data[h.HeaderLen:min(len(data), h.FrameLen())]
			if c.apiKey == kafka.APIMetadata {
				if _, ok := k.dec.MetadataResponse(body, c.apiVer, complete); !ok {
					o.cfg.Aggregator.ParseFailure(FailKafkaMetadata)
				}
				return
			}
			st = k.dec.FetchResponse(body, c.apiVer, complete, k.visit)
		case s == kafka.NeedMore && !complete:
			if c.apiKey == kafka.APIFetch {
				o.kafkaGap(kafka.Gap{Code: kafka.FrameTruncated, Partition: -1, Records: -1})
			}
			return
		default:
			o.notKafka(key)
			return
		}
	default:
		o.cfg.Aggregator.ParseFailure(FailKafkaAPI)
		return
	}
	if !complete && st.GapTotal() == 0 {
		// The decoder read everything before the cut and found nothing
		// missing there; what the cut hid is still a hole.
		o.kafkaGap(kafka.Gap{Code: kafka.FrameTruncated, Topic: k.lastTopic, Partition: -1, Records: -1})
	}
}

// kafkaPeer names the client at the other end of a broker's connection:
// a local process when one is known (and returns its pid), else its
// address without the port, which is ephemeral.
func (o *Observer) kafkaPeer(c *kafkaConn, now time.Time) (identity.Name, uint32) {
	if name, pid, ok := o.localPeer(c.netns, c.peerTGID, &c.peerComm, c.local, c.remote, now); ok {
		return name, pid
	}
	if n, ok := o.cfg.Resolver.Address(c.remote.Addr()); ok {
		return n, 0
	}
	var buf [64]byte
	return identity.Name{Service: o.intern.get(c.remote.Addr().AppendTo(buf[:0]))}, 0
}

// kafkaRecord judges one record's headers and counts it on its pair.
func (o *Observer) kafkaRecord(r *kafka.Record) {
	k := &o.kafka
	v := o.analyzer.Fields(r.Headers)
	if r.DroppedHeaders > 0 {
		v.Reasons = v.Reasons.Add(http1.TooManyFields)
	}
	if k.lastPair.Protocol == "" || r.Topic != k.lastTopic {
		k.lastTopic, k.lastPair = r.Topic, k.pair(o.topicName(r.Topic))
	}
	e, queued := o.chainKafka(v)
	o.cfg.Aggregator.RecordChain(k.lastPair, v, e)
	// A queued send is shown to the EvidenceSink once it is classified
	// (classifySend), with its continuity finding; offering it now too
	// would give a record with findings two spans.
	if !queued && o.cfg.Evidence != nil && v.Trace.HasParent() {
		o.cfg.Evidence.Evidence(time.Unix(0, k.now), k.lastPair, v, "")
	}
}

// kafkaGap counts one gap the decoder (or the observer) found on the pair
// of its topic. A cut the decoder reports as the capture's is the frame
// limit's or the reassembly caps' when they made it.
func (o *Observer) kafkaGap(g kafka.Gap) {
	k := &o.kafka
	code := g.Code
	if code == kafka.BatchTruncated || code == kafka.FrameTruncated {
		switch k.cause {
		case causeLimit:
			code = kafka.FrameLimit
		case causeBudget:
			code = GapReassemblyFull
		}
	}
	var topic string
	switch {
	case g.Topic != "":
		topic = o.topicName(g.Topic)
	case g.TopicID != [16]byte{}:
		topic = o.topicIDName(g.TopicID)
	default:
		topic = UnknownTopic
	}
	o.cfg.Aggregator.Gap(k.pair(topic), code, g.Records)
}

// pair is the pair of a record of the frame being decoded.
func (k *kafkaState) pair(topic string) report.PairKey {
	if k.produce {
		return pairKey(k.client, identity.Name{Service: topic}, ProtocolKafka, k.tls)
	}
	return pairKey(identity.Name{Service: topic}, k.client, ProtocolKafka, k.tls)
}

// topicName is the name a topic stands under in a pair. Topic names are
// application data chosen by whoever creates topics; they name pairs (the
// issue's rule for destinations), but like a Host header never when they
// look like PII, which must not become a metric label.
func (o *Observer) topicName(topic string) string {
	k := &o.kafka
	if name, ok := k.topicNames[topic]; ok {
		return name
	}
	name := topic
	switch {
	case topic == "":
		name = UnknownTopic
	case pii.Scan([]byte(topic), 0) != 0:
		name = RedactedTopic
	}
	if k.topicNames == nil || len(k.topicNames) >= maxTopicNames {
		k.topicNames = make(map[string]string, 64)
	}
	k.topicNames[topic] = name
	return name
}

// topicIDName names a topic known only by its id.
func (o *Observer) topicIDName(id [16]byte) string {
	k := &o.kafka
	if name, ok := k.idNames[id]; ok {
		return name
	}
	name := TopicIDPrefix + base64.RawURLEncoding.EncodeToString(id[:])
	if k.idNames == nil || len(k.idNames) >= maxTopicNames {
		k.idNames = make(map[[16]byte]string, 16)
	}
	k.idNames[id] = name
	return name
}

// kafkaExpire judges the frames that waited StreamTTL for their next
// chunk as cut.
func (o *Observer) kafkaExpire(now time.Time) {
	k := &o.kafka
	for {
		f, ok := k.frames.Oldest()
		if !ok || now.Sub(f.updated) < o.cfg.StreamTTL {
			return
		}
		f.cut = true
		o.kafkaFinish(f, now)
	}
}

// kafkaFlush judges every frame in reassembly as cut.
func (o *Observer) kafkaFlush() {
	k := &o.kafka
	for {
		f, ok := k.frames.Oldest()
		if !ok {
			return
		}
		f.cut = true
		o.kafkaFinish(f, f.updated)
	}
}
