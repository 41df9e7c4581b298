package observe

import (
	"bytes"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/propwatch/propwatch/internal/loader"
	"github.com/propwatch/propwatch/internal/parse"
	"github.com/propwatch/propwatch/internal/parse/http1"
	"github.com/propwatch/propwatch/internal/parse/http2"
	"github.com/propwatch/propwatch/internal/parse/reason"
)

// Pair protocols of HTTP/2 requests: gRPC when the request's content type
// says so (or an earlier request on the connection did), plain HTTP/2
// otherwise.
const (
	ProtocolHTTP2 = "http2"
	ProtocolGRPC  = "grpc"
)

// GapHPACKStateUnknown is the coverage gap of an HTTP/2 request whose
// header block referred to header-table entries inserted before propwatch
// saw the connection (or before a frame it lost), and that showed no trace
// context among the fields it could read: it may carry context, so it is
// not judged, and counted here rather than as missing.
const GapHPACKStateUnknown reason.Code = "http2.hpack_state_unknown"

// FailH2Evicted: an HTTP/2 connection's decoder was dropped because
// MaxH2Conns were tracked; its next requests are decoded against a table
// learnt anew.
const FailH2Evicted = "http2.conn_evicted"

// FailH2NotRequest: a header block on a direction not yet known to carry
// requests (the connection's start was missed) that showed no request
// pseudo-header it could read. It may be a server's trailers, whose fields
// all refer to entries of the unknown table: never a request of a pair,
// nor a gap of one.
const FailH2NotRequest = "http2.not_request"

// defaultMaxH2Conns caps the HTTP/2 connections whose decoder is kept.
const defaultMaxH2Conns = 4096

// recordProto is the protocol a queued record names its pair with, or
// the mark of a coverage gap.
type recordProto uint8

const (
	protoHTTP recordProto = iota
	protoHTTP2
	protoGRPC
	// protoHPACKGap: not a request but a GapHPACKStateUnknown gap, named
	// like one (its pair's protocol is http2: what it was, gRPC or not,
	// was in the fields that could not be read).
	protoHPACKGap
	// protoTLSGap: not a request but a GapTLSNotReadable gap, a TLS
	// connection whose plaintext could not be read, named like a request
	// (its pair's protocol is ProtocolTLS: what it carries is unknown).
	protoTLSGap
)

func (p recordProto) String() string {
	switch p {
	case protoHTTP2, protoHPACKGap:
		return ProtocolHTTP2
	case protoGRPC:
		return ProtocolGRPC
	case protoTLSGap:
		return ProtocolTLS
	}
	return Protocol
}

// h2Conn is one direction of an HTTP/2 connection: its decoder, and what
// earlier requests told about it.
type h2Conn struct {
	conn *http2.Conn
	grpc bool
	// responses: the direction carries a server's responses. The kernel
	// takes a HEADERS frame on a stream it knows nothing of for a client's
	// (the preface was missed), and a server's frames look the same.
	responses bool
	// requests: a block of the direction showed a :method, so it is a
	// client's. A connection seen from its preface is one from the start.
	requests bool
}

// h2State is the Observer's HTTP/2 connections, least recently used first
// out past the cap.
type h2State struct {
	conns *simplelru.LRU[streamKey, *h2Conn]
	free  []*h2Conn
	// The event being read, for the handler's callbacks.
	ev  *loader.Event
	now time.Time
	c   *h2Conn
}

func (o *Observer) initHTTP2() {
	n := o.cfg.MaxH2Conns
	if n <= 0 {
		n = defaultMaxH2Conns
	}
	o.h2.conns, _ = simplelru.NewLRU[streamKey, *h2Conn](n, func(_ streamKey, c *h2Conn) {
		o.cfg.Aggregator.ParseFailure(FailH2Evicted)
		if len(o.h2.free) < 64 {
			o.h2.free = append(o.h2.free, c)
		}
	})
}

// http2Event reads one HTTP/2 event of the client direction.
func (o *Observer) http2Event(ev *loader.Event, now time.Time) {
	key := streamOf(ev)
	c, ok := o.h2.conns.Get(key)
	if !ok {
		if !ev.Start {
			return // the rest of a frame whose start came before propwatch did
		}
		if n := len(o.h2.free); n > 0 {
			c = o.h2.free[n-1]
			o.h2.free = o.h2.free[:n-1]
			c.conn.Reset(http2.Config{MaxBlock: o.cfg.MaxHead})
			c.grpc, c.responses, c.requests = false, false, false
		} else {
			c = &h2Conn{conn: http2.NewConn(http2.Config{MaxBlock: o.cfg.MaxHead})}
		}
		o.h2.conns.Add(key, c)
	}
	o.h2.ev, o.h2.now, o.h2.c = ev, now, c
	c.conn.Feed(ev.Data, ev.Start, len(ev.Data) < ev.Len, (*h2Handler)(o))
	o.h2.ev, o.h2.c = nil, nil
}

// h2Handler is the Observer as the http2.Handler of the event being read.
type h2Handler Observer

// Failure counts a frame or block that did not parse.
func (h *h2Handler) Failure(code string) {
	h.cfg.Aggregator.ParseFailure(code)
}

// Block judges one request's header block.
func (h *h2Handler) Block(b *http2.Block) {
	o := (*Observer)(h)
	ev, c := o.h2.ev, o.h2.c
	for i := range b.Fields {
		switch name := b.Fields[i].Name; {
		case bytes.Equal(name, []byte(":status")):
			c.responses = true
		case bytes.Equal(name, []byte(":method")):
			c.requests = true
		}
	}
	if c.responses {
		return
	}
	if !c.requests {
		// Joined mid-way and nothing readable says this is a request:
		// GET and POST are static-table entries, readable in any state,
		// so this is most likely a server's trailers.
		o.cfg.Aggregator.ParseFailure(FailH2NotRequest)
		return
	}
	if !o.firstEnd(ev, b.Raw, o.h2.now) {
		return
	}
	v := o.analyzer.Fields(b.Fields)
	if b.Truncated {
		v.Truncated = true
		v.Reasons = v.Reasons.Add(http1.Truncated)
	}
	var authority []byte
	for i := range b.Fields {
		f := &b.Fields[i]
		switch {
		case bytes.Equal(f.Name, []byte(":authority")):
			authority = f.Value
		case bytes.Equal(f.Name, []byte("content-type")):
			c.grpc = bytes.HasPrefix(f.Value, []byte("application/grpc"))
		}
	}
	proto := protoHTTP2
	if c.grpc {
		proto = protoGRPC
	}
	if b.Hidden > 0 && v.Context == parse.Missing {
		// Context may hide in what could not be read: not judged.
		proto = protoHPACKGap
	}
	o.queueRequest(ev, v, authority, proto, o.h2.now)
}
