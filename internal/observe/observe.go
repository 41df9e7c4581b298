// Package observe turns captured chunks into judged requests per service
// pair. It reassembles request heads split across syscalls, splits
// pipelined requests, judges each head with the parse engine, counts a
// request seen at both ends on this host once, names both ends, and
// records the verdict in a report.Aggregator. Kafka frames (kafka.go) take
// the same way: each record of a Produce request or Fetch response is one
// request of the pair producer → topic or topic → consumer.
//
// Data flows one way: loader events in, report records out. Nothing here
// keeps a header value beyond the head being reassembled.
package observe

import (
	"bytes"
	"hash/maphash"
	"math"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/propwatch/propwatch/internal/chain"
	"github.com/propwatch/propwatch/internal/hint"
	"github.com/propwatch/propwatch/internal/identity"
	"github.com/propwatch/propwatch/internal/loader"
	"github.com/propwatch/propwatch/internal/parse"
	"github.com/propwatch/propwatch/internal/parse/http1"
	"github.com/propwatch/propwatch/internal/parse/kafka"
	"github.com/propwatch/propwatch/internal/parse/pii"
	"github.com/propwatch/propwatch/internal/report"
)

// Parse failures the observer counts. They are not requests: no pair is
// charged with them.
const (
	// FailNotHTTP: a chunk that began like a request was not one.
	FailNotHTTP = "http.not_http"
	// FailIncomplete: a head never ended: the writer stopped or closed
	// half-way, or a new request started before it ended.
	FailIncomplete = "http.incomplete"
	// FailEvicted: a head in reassembly was dropped because too many
	// connections had one in flight.
	FailEvicted = "conn.evicted"
)

// Protocol is the pair protocol of HTTP requests (ProtocolKafka is
// Kafka's).
const Protocol = "http"

// Config tunes an Observer. Aggregator is required; the rest have defaults.
type Config struct {
	Aggregator *report.Aggregator
	// Analyzer configures the engine (baggage limits, fingerprints).
	Analyzer parse.Options
	// Resolver names local processes; Owners remembers which process owns
	// which connection end; Local tells local addresses.
	Resolver *identity.Resolver
	Owners   *identity.Owners
	Local    *identity.LocalAddrs
	// MaxHead is the largest head reassembled across chunks; a longer one
	// is judged as truncated. 16 KiB when zero, the capture's budget.
	MaxHead int
	// MaxStreams caps the heads in reassembly at once. 4096 when zero.
	MaxStreams int
	// StreamTTL is how long a head may wait for its next chunk. 5s when
	// zero.
	StreamTTL time.Duration
	// NameDelay is how long a judged request waits before its pair is
	// named, so that the event of the other end of a local connection has
	// arrived and told whose socket it is. It is also how long a send
	// waits before it is classified (chain.go), so that the receipt that
	// caused it has been seen. 250ms when zero.
	NameDelay time.Duration
	// MaxQueued caps the requests waiting for NameDelay; past it the
	// oldest is named at once. 65536 when zero.
	MaxQueued int
	// HeadDone, when set, is told that a head ended before the chunk did,
	// so the kernel can stop copying the chunks that follow (the body).
	// tls says which of the fd's streams: the kernel keeps the plaintext
	// read at a TLS library apart from the socket's bytes.
	HeadDone func(tgid, fd uint32, dir loader.Direction, tls bool)
	// Owner, when set, is asked for the process behind the sending end of
	// a loopback connection that an event did not name (Loader.Owner).
	Owner func(netns uint32, local, remote netip.AddrPort) (tgid uint32, comm [16]byte, ok bool)
	// TLSReadable, when set, says whether the TLS of process tgid is read
	// at its library (internal/tlswatch attached probes to a file it
	// maps). A TLS connection of a process it says no for is a
	// GapTLSNotReadable gap of its pair. Nil: TLS capture is off, and no
	// connection is judged.
	TLSReadable func(tgid uint32) bool
	// LoopbackBothEnds says that the kernel emits loopback requests at
	// both ends, so they must be matched and counted once here. By default
	// it emits only the receiving end, and nothing needs matching. Events
	// read at a TLS library (Event.TLS) are always emitted at both ends,
	// whatever this says: the receiver's library may not be readable, so
	// the sender's plaintext is not left to it (see bothEnds).
	LoopbackBothEnds bool

	// KafkaMaxFrame is the most bytes of one Kafka frame the capture ships
	// (loader.Config.KafkaCaptureBytes): a frame is whole once it has its
	// size plus 4 bytes or this many. A longer frame is judged up to it
	// and the rest is a kafka.frame_limit gap. loader.DefaultKafkaCaptureBytes
	// when zero.
	KafkaMaxFrame int
	// KafkaMaxFrames caps the Kafka frames in reassembly at once. 1024 when
	// zero.
	KafkaMaxFrames int
	// KafkaMemory caps the bytes the Kafka frames in reassembly may hold
	// (each reserves its expected length when it starts). A frame that
	// finds either cap reached is judged on its first chunk alone, and
	// the rest of it is a kafka.reassembly_full gap. 64 MiB when zero;
	// it is at least KafkaMaxFrame.
	KafkaMemory int
	// KafkaLimits bounds the decoder's decompression and records per
	// frame; its MaxFrame is KafkaMaxFrame.
	KafkaLimits kafka.Limits
	// MaxH2Conns caps the HTTP/2 connections whose header table is kept
	// (least recently used evicted, counted as http2.conn_evicted). 4096
	// when zero; each holds at most its encoder's table (4 KiB unless the
	// encoder says more, 64 KiB at most) and one header block (MaxHead).
	MaxH2Conns int

	// TopicIDs maps Kafka topic ids to names, learnt from Metadata
	// responses; the Observer makes its own when nil.
	TopicIDs *kafka.TopicIDs

	// Chain bounds the memory of the trace ids each local process
	// received, by which its sends are classified (see chain.go).
	Chain chain.Config

	// Evidence, when set, is shown every request and record that carries
	// a valid traceparent, once (see EvidenceSink).
	Evidence EvidenceSink
}

// EvidenceSink receives the judged requests that could join their own
// trace: those whose verdict has a valid traceparent (parse.TraceIDs
// HasParent). It decides itself which ones have a finding worth a span.
//
// Each request or record is shown once: an HTTP request when it is named,
// a Kafka Produce record of a local producer when it is classified (both
// NameDelay after capture, with the continuity finding), any other Kafka
// record when its frame is decoded.
//
// Evidence is called with the Observer's lock held, on the goroutine that
// handles capture events (or Tick's, or Flush's): it must return at once
// and never block. v is valid only during the call; at is when the request
// was captured. chain is the continuity finding for the request
// ("new_root"), or "" when there is none or continuity is not judged.
type EvidenceSink interface {
	Evidence(at time.Time, pair report.PairKey, v *parse.Verdict, chain string)
}

// Observer consumes events. Handle, Tick and Flush may be called from
// different goroutines.
type Observer struct {
	cfg Config

	mu         sync.Mutex
	head       http1.Head
	analyzer   *parse.Analyzer
	streams    *simplelru.LRU[streamKey, *stream]
	free       []*stream
	dedupe     dedupe
	tlsRead    tlsRead
	queue      queue
	codes      codeTable
	named      parse.Verdict // the verdict of the record being named
	intern     intern
	names      map[uint32]nameEntry
	recent     [2]nameEntry // the last names service gave, looked at first
	nextRecent int
	seed       maphash.Seed
	removing   bool

	kafka kafkaState
	h2    h2State

	chain     *chain.Memory
	evictions uint64    // chain evictions already told the Aggregator
	sends     sendQueue // Kafka records sent, waiting to be classified and shown as evidence
}

// streamKey names one direction of a connection's bytes as the kernel
// ships them: a socket's, or the plaintext read at its TLS library (tls),
// which are two streams of one socket and must never be joined.
type streamKey struct {
	sock uint64
	dir  loader.Direction
	tls  bool
}

// streamOf is the stream ev belongs to.
func streamOf(ev *loader.Event) streamKey { return streamKey{ev.Sock, ev.Direction, ev.TLS} }

// bothEnds reports whether the kernel emits ev's kind of event at both
// ends of a loopback connection: always for plaintext read at a TLS
// library, otherwise only when the loader was told to
// (Config.LoopbackBothEnds).
func (o *Observer) bothEnds(ev *loader.Event) bool { return o.cfg.LoopbackBothEnds || ev.TLS }

// stream is a head in reassembly: the chunks of it seen so far.
type stream struct {
	buf     []byte
	gap     bool // a chunk was captured only in part
	updated time.Time
}

// New returns an Observer configured by cfg.
func New(cfg Config) *Observer {
	if cfg.MaxHead <= 0 {
		cfg.MaxHead = loader.HeadBudget
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = 4096
	}
	if cfg.StreamTTL <= 0 {
		cfg.StreamTTL = 5 * time.Second
	}
	if cfg.NameDelay <= 0 {
		cfg.NameDelay = 250 * time.Millisecond
	}
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = 65536
	}
	if cfg.Resolver == nil {
		cfg.Resolver = identity.NewResolver(identity.Config{})
	}
	if cfg.Owners == nil {
		cfg.Owners = identity.NewOwners(0)
	}
	if cfg.Local == nil {
		cfg.Local = &identity.LocalAddrs{}
		_ = cfg.Local.Refresh() // loopback is local even without interfaces
	}
	o := &Observer{cfg: cfg, analyzer: parse.NewAnalyzer(cfg.Analyzer), seed: maphash.MakeSeed()}
	o.streams, _ = simplelru.NewLRU[streamKey, *stream](cfg.MaxStreams, o.onEvict)
	o.dedupe.init(cfg.MaxQueued)
	o.tlsRead.init(cfg.MaxQueued)
	o.queue.init(cfg.MaxQueued)
	o.initKafka()
	o.initHTTP2()
	o.chain = chain.New(cfg.Chain)
	o.sends.max = cfg.MaxQueued
	return o
}

// Handle consumes one event. ev is not kept.
func (o *Observer) Handle(ev *loader.Event, now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.bothEnds(ev) || ev.Protocol == loader.TLSHello || !ev.Remote.Addr().IsLoopback() {
		// Otherwise only the receiving end of a loopback connection
		// emits, so no event will ever ask who owns this end. A TLS
		// event's sending end is learnt: the receiver's event may not
		// name its peer. So are both ends of a ClientHello, the one
		// event of a process whose TLS is not read.
		o.cfg.Owners.Learn(ev.NetNS, ev.Local, ev.Remote, identity.Owner{TGID: ev.TGID, Comm: ev.Comm})
	}
	if ev.TLS {
		o.tlsRead.add(connOf(ev), now)
	}
	// Name the process now, while it surely runs: a short-lived client is
	// often gone by the time its requests are named.
	o.service(ev.TGID, ev.Comm[:], now)
	switch ev.Protocol {
	case loader.Kafka:
		o.kafkaEvent(ev, now)
		return
	case loader.HTTP2:
		o.http2Event(ev, now)
		return
	case loader.TLSHello:
		o.tlsHello(ev, now)
		return
	}

	key := streamOf(ev)
	st, pending := o.streams.Peek(key)
	gap := len(ev.Data) < ev.Len
	var data []byte
	switch {
	case ev.Start:
		if pending {
			// A new request began before the previous head ended.
			o.cfg.Aggregator.ParseFailure(FailIncomplete)
			o.dropStream(key)
			pending = false
		}
		data = ev.Data
	case pending:
		room := o.cfg.MaxHead - len(st.buf)
		chunk := ev.Data
		if len(chunk) > room {
			chunk, gap = chunk[:room], true
		}
		st.buf = append(st.buf, chunk...)
		data, gap = st.buf, gap || st.gap
	default:
		// The rest of a head already judged (its body), or of one whose
		// start came before propwatch did.
		return
	}
	o.consume(ev, key, data, gap, pending, now)
}

// consume parses the heads in data, which is a whole chunk or the
// reassembled head of a stream.
func (o *Observer) consume(ev *loader.Event, key streamKey, data []byte, gap, pending bool, now time.Time) {
	h := &o.head
	// Pipelined requests share a chunk; the bound keeps a hostile chunk of
	// tiny requests from holding the lock for long.
	for n := 0; n < 256 && len(data) > 0; n++ {
		switch h.Parse(data) {
		case http1.StatusComplete:
			o.request(ev, h, data[:h.Seen], now)
			rest := skipBody(h, data[h.Seen:])
			if len(rest) == 0 || !looksLikeRequest(rest) {
				if pending {
					o.dropStream(key)
				}
				if len(rest) > 0 || !bytes.HasSuffix(data, []byte("\r\n\r\n")) {
					o.headDone(ev)
				}
				return
			}
			data = rest
		case http1.StatusTruncated:
			if gap || len(data) >= o.cfg.MaxHead {
				// The capture saw only this much of a longer head: judge
				// what is there and say it was cut.
				o.request(ev, h, data, now)
				if pending {
					o.dropStream(key)
				}
				o.headDone(ev)
				return
			}
			o.keep(key, data, pending, now)
			return
		default:
			o.cfg.Aggregator.ParseFailure(FailNotHTTP)
			if pending {
				o.dropStream(key)
			}
			return
		}
	}
}

// keep stores the start of a head that continues in a later chunk.
func (o *Observer) keep(key streamKey, data []byte, pending bool, now time.Time) {
	if pending {
		st, _ := o.streams.Peek(key)
		if len(data) != len(st.buf) {
			// A pipelined request after a complete one: keep only it.
			st.buf = append(st.buf[:0], data...)
		}
		st.updated = now
		o.streams.Add(key, st) // most recently used
		return
	}
	st := o.newStream()
	st.buf = append(st.buf[:0], data...)
	st.updated = now
	o.streams.Add(key, st)
}

func (o *Observer) newStream() *stream {
	if n := len(o.free); n > 0 {
		st := o.free[n-1]
		o.free = o.free[:n-1]
		return st
	}
	return &stream{buf: make([]byte, 0, 1024)}
}

func (o *Observer) dropStream(key streamKey) {
	o.removing = true // a removal, not an eviction: no failure to count
	o.streams.Remove(key)
	o.removing = false
}

// onEvict recycles a stream's buffer and counts a head lost to the cap.
func (o *Observer) onEvict(_ streamKey, st *stream) {
	if !o.removing {
		o.cfg.Aggregator.ParseFailure(FailEvicted)
	}
	st.buf, st.gap = st.buf[:0], false
	if cap(st.buf) <= 4096 && len(o.free) < 256 {
		o.free = append(o.free, st)
	}
}

func (o *Observer) headDone(ev *loader.Event) {
	if o.cfg.HeadDone != nil {
		o.cfg.HeadDone(ev.TGID, ev.FD, ev.Direction, ev.TLS)
	}
}

// request counts one head unless the other end of a local connection
// already did, judges it, and queues it to be named.
func (o *Observer) request(ev *loader.Event, h *http1.Head, raw []byte, now time.Time) {
	if !o.firstEnd(ev, raw, now) {
		return
	}
	host, _ := h.Get("host")
	o.queueRequest(ev, o.analyzer.Head(h), host, protoHTTP, now)
}

// firstEnd reports whether this end is the first of a local connection
// to show the request raw (always, for a connection that is not local,
// or a loopback one whose other end the kernel does not emit). A request
// whose other end is never seen is counted once, by this end.
func (o *Observer) firstEnd(ev *loader.Event, raw []byte, now time.Time) bool {
	client, server := ev.Local, ev.Remote
	if ev.Direction == loader.Ingress {
		client, server = ev.Remote, ev.Local
	}
	loopback := ev.Remote.Addr().IsLoopback()
	if (!loopback || o.bothEnds(ev)) && o.cfg.Local.Has(ev.Remote.Addr()) {
		k := dedupeKey{client: client, server: server, tls: ev.TLS, sum: maphash.Bytes(o.seed, raw)}
		if loopback {
			k.netns = ev.NetNS
		}
		return o.dedupe.first(k, ev.Direction, now)
	}
	return true
}

// queueRequest remembers a traced receipt and queues the judged request
// to be named; host names its server when that is not a local process.
func (o *Observer) queueRequest(ev *loader.Event, v *parse.Verdict, host []byte, proto recordProto, now time.Time) {
	if ev.Direction == loader.Ingress && ev.PeerTGID != ev.TGID && traced(v) {
		// Remembered now, not when the request is named: the requests
		// its process sends onward are classified only after NameDelay,
		// so a receipt whose event comes a little after theirs (from
		// another CPU) still counts.
		o.chain.Receive(ev.TGID, v.Trace.TraceID, now.UnixNano())
	}
	r := o.queue.push(now)
	if r == nil {
		o.name(o.queue.pop())
		r = o.queue.push(now)
	}
	r.set(ev, v, &o.codes)
	r.proto = proto
	if host != nil {
		r.setHost(host)
	}
}

// Tick names the requests that have waited NameDelay and drops heads that
// waited StreamTTL for a chunk that never came.
func (o *Observer) Tick(now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for {
		r := o.queue.peek()
		if r == nil || now.Sub(r.queuedAt()) < o.cfg.NameDelay {
			break
		}
		o.name(o.queue.pop())
	}
	o.classifySends(now.UnixNano() - int64(o.cfg.NameDelay))
	o.chain.Expire(now.UnixNano())
	o.reportEvictions()
	for {
		_, st, ok := o.streams.GetOldest()
		if !ok || now.Sub(st.updated) < o.cfg.StreamTTL {
			break
		}
		o.cfg.Aggregator.ParseFailure(FailIncomplete)
		o.removing = true
		o.streams.RemoveOldest()
		o.removing = false
	}
	o.kafkaExpire(now)
	o.dedupe.expire(now)
	o.tlsRead.expire(now, tlsReadWindow)
}

// Flush names every queued request, counts every head still in
// reassembly as incomplete, and judges every Kafka frame still in
// reassembly as cut. Call it once capture has stopped.
func (o *Observer) Flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.kafkaFlush()
	for r := o.queue.pop(); r != nil; r = o.queue.pop() {
		o.name(r)
	}
	o.classifySends(math.MaxInt64)
	o.reportEvictions()
	for o.streams.Len() > 0 {
		o.cfg.Aggregator.ParseFailure(FailIncomplete)
		o.removing = true
		o.streams.RemoveOldest()
		o.removing = false
	}
}

// name finds the pair of a judged request and records it.
func (o *Observer) name(r *record) {
	if r == nil {
		return
	}
	queued := r.queuedAt()
	self := o.service(r.tgid, r.comm[:], queued)
	peer, peerPID := o.peer(r, queued)
	k := pairKey(self, peer, r.proto.String(), r.tls)
	if r.dir == loader.Ingress {
		k = pairKey(peer, self, r.proto.String(), r.tls)
	}
	switch r.proto {
	case protoHPACKGap:
		o.cfg.Aggregator.Gap(k, GapHPACKStateUnknown, 1)
		return
	case protoTLSGap:
		if o.tlsGap(r) {
			o.cfg.Aggregator.Gap(k, GapTLSNotReadable, 1)
		}
		return
	}
	v := r.judged.verdict(&o.named, &o.codes)
	client, server := r.tgid, peerPID
	if r.dir == loader.Ingress {
		client, server = peerPID, r.tgid
	}
	ce := o.chainHTTP(v, client, server, r.dir, r.queued)
	o.cfg.Aggregator.RecordChain(k, v, ce)
	if o.cfg.Evidence != nil && v.Trace.HasParent() {
		o.cfg.Evidence.Evidence(queued, k, v, evidenceChain(ce))
	}
}

// pairKey is the key of the pair from src to dst; tls says the requests
// were read at a TLS library.
func pairKey(src, dst identity.Name, protocol string, tls bool) report.PairKey {
	return report.PairKey{Source: src.Service, Destination: dst.Service, Protocol: protocol,
		SourceNamespace: src.Namespace, DestinationNamespace: dst.Namespace, TLS: tls}
}

// peer names the other end: the local process that owns it (and returns
// its pid), else the pod or Service its address belongs to in a cluster,
// else (for the server side of a request this process sent) the Host
// header's host, else the address. A client peer is named by its address
// without the port, which is ephemeral and would make every connection a
// pair of its own.
func (o *Observer) peer(r *record, queued time.Time) (identity.Name, uint32) {
	local, remote := r.local.unpack(), r.remote.unpack()
	if name, pid, ok := o.localPeer(r.netns, r.peerTGID, &r.peerComm, local, remote, queued); ok {
		return name, pid
	}
	if n, ok := o.cfg.Resolver.Address(remote.Addr()); ok {
		return n, 0
	}
	var buf [64]byte
	if r.dir == loader.Egress {
		// The Host header is a value a client chose: it names the pair
		// only when it does not look like PII, which must never become
		// a metric label.
		if host := hostOnly(r.host[:r.hostLen]); len(host) > 0 && pii.Scan(host, 0) == 0 {
			return identity.Name{Service: o.intern.get(host)}, 0
		}
		return identity.Name{Service: o.intern.get(remote.AppendTo(buf[:0]))}, 0
	}
	return identity.Name{Service: o.intern.get(remote.Addr().AppendTo(buf[:0]))}, 0
}

// localPeer names the local process at the other end of a connection, and
// returns its pid, if one is known: the one the event named (PeerTGID),
// else the owner of that end seen in an earlier event, else the one
// Config.Owner finds for a loopback sender.
func (o *Observer) localPeer(netns, peerTGID uint32, peerComm *[16]byte, local, remote netip.AddrPort, now time.Time) (identity.Name, uint32, bool) {
	if peerTGID != 0 {
		return o.service(peerTGID, peerComm[:], now), peerTGID, true
	}
	if owner, ok := o.cfg.Owners.Peer(netns, local, remote); ok {
		return o.service(owner.TGID, owner.Comm[:], now), owner.TGID, true
	}
	if o.cfg.Owner != nil && remote.Addr().IsLoopback() {
		// The sender's end as the kernel keys it: its local address is
		// this end's remote one.
		if tgid, comm, ok := o.cfg.Owner(netns, remote, local); ok {
			return o.service(tgid, comm[:], now), tgid, true
		}
	}
	return identity.Name{}, 0, false
}

// hostOnly strips the port from a Host header value.
func hostOnly(h []byte) []byte {
	if len(h) > 0 && h[0] == '[' {
		if i := bytes.IndexByte(h, ']'); i > 0 {
			return h[1:i]
		}
		return h
	}
	if i := bytes.LastIndexByte(h, ':'); i >= 0 && bytes.IndexByte(h[:i], ':') < 0 {
		return h[:i]
	}
	return h
}

// skipBody returns what follows a request's body in rest, or nil when the
// body runs past it or its length is not known up front (chunked).
func skipBody(h *http1.Head, rest []byte) []byte {
	if te, ok := h.Get("transfer-encoding"); ok && len(te) > 0 {
		return nil
	}
	cl, ok := h.Get("content-length")
	if !ok {
		return rest
	}
	n, err := strconv.ParseUint(string(cl), 10, 63)
	if err != nil || n >= uint64(len(rest)) {
		return nil
	}
	return rest[n:]
}

// looksLikeRequest reports whether b starts with a method and a space, as
// the kernel's filter does.
func looksLikeRequest(b []byte) bool {
	for i := 0; i < len(b) && i < 16; i++ {
		c := b[i]
		if c == ' ' {
			return i > 0
		}
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return false
}

// nameTTL is how long the observer trusts a service name before asking the
// Resolver again (which rereads /proc after its own TTL).
const nameTTL = time.Second

type nameEntry struct {
	tgid    uint32
	name    identity.Name
	runtime hint.Runtime
	until   time.Time // trusted until then
}

// service names a process through small caches in front of the Resolver:
// the Resolver's lock and clock cost more than the rest of a request's
// bookkeeping, and a busy process asks for its name on every request. The
// last two names go first, without a map lookup: a busy server's events
// come from a few processes at a time. A process named anew, or renamed,
// has its runtime told to the Aggregator.
func (o *Observer) service(tgid uint32, comm []byte, now time.Time) identity.Name {
	for i := range o.recent {
		if e := &o.recent[i]; e.tgid == tgid && now.Before(e.until) {
			return e.name
		}
	}
	e, ok := o.names[tgid]
	if !ok || !now.Before(e.until) {
		if o.names == nil || len(o.names) >= 4096 {
			o.names = make(map[uint32]nameEntry, 256)
		}
		prev := e
		e = nameEntry{tgid: tgid, until: now.Add(nameTTL)}
		e.name, e.runtime = o.cfg.Resolver.Process(tgid, comm)
		o.names[tgid] = e
		if e.runtime != hint.Unknown && (e.runtime != prev.runtime || e.name != prev.name) {
			// The report names the fix for a chain a service broke by its
			// processes' runtime (package hint): told once per process
			// and name, not per request.
			o.cfg.Aggregator.Runtime(e.name.Namespace, e.name.Service, e.runtime)
		}
	}
	o.recent[o.nextRecent] = e
	o.nextRecent = (o.nextRecent + 1) % len(o.recent)
	return e.name
}

// intern keeps one string per peer name so that naming a known peer does
// not allocate; it is bounded by starting afresh when full.
type intern struct{ m map[string]string }

func (in *intern) get(b []byte) string {
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	if in.m == nil || len(in.m) >= 4096 {
		in.m = make(map[string]string, 256)
	}
	s := string(b)
	in.m[s] = s
	return s
}
