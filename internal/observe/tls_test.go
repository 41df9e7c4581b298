package observe

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/propwatch/propwatch/internal/loader"
	"github.com/propwatch/propwatch/internal/parse/kafka/kafkatest"
	"github.com/propwatch/propwatch/internal/report"
)

// TLS plaintext: events read at a TLS library (Event.TLS) name pairs of
// their own, and over loopback the kernel emits them at both ends whatever
// Config.LoopbackBothEnds says, so they are matched and counted once.

// tlsFixture is a fixture with the kernel's loopback default: only the
// receiving end of a socket's bytes is emitted, so that whatever is
// matched across ends is matched because the events were TLS.
func tlsFixture(t *testing.T) *fixture {
	return newFixture(t, func(c *Config) { c.LoopbackBothEnds = false })
}

// tlsSend and tlsRecv are send and recv read at the TLS library: the
// kernel names no peer on them.
func (f *fixture) tlsSend(sock uint64, start bool, data string) {
	f.event(&loader.Event{TGID: clientPID, FD: uint32(sock), Sock: sock, Local: clientAddr, Remote: serverAddr,
		Direction: loader.Egress, Start: start, Len: len(data), Data: []byte(data), TLS: true, Syscall: "tls_write"})
}

func (f *fixture) tlsRecv(sock uint64, start bool, data string) {
	f.event(&loader.Event{TGID: serverPID, FD: uint32(sock), Sock: sock, Local: serverAddr, Remote: clientAddr,
		Direction: loader.Ingress, Start: start, Len: len(data), Data: []byte(data), TLS: true, Syscall: "tls_read"})
}

// pairTLS is the pair src → dst read at a TLS library (tls) or from
// socket bytes.
func (f *fixture) pairTLS(s report.Snapshot, src, dst string, tls bool) report.PairStats {
	f.t.Helper()
	for _, p := range s.Pairs {
		if p.Source == src && p.Destination == dst && p.TLS == tls {
			return p
		}
	}
	f.t.Fatalf("no pair %s -> %s tls=%v in %+v", src, dst, tls, s.Pairs)
	return report.PairStats{}
}

// totals sums the requests of every pair, apart by tls.
func totals(s report.Snapshot) (plain, tls uint64) {
	for _, p := range s.Pairs {
		if p.TLS {
			tls += p.Requests
		} else {
			plain += p.Requests
		}
	}
	return plain, tls
}

// TestTLSPairApart: the same client calling the same server, once through
// its TLS library and once in plain bytes on one socket, makes two pairs
// of one request each; the two streams of the socket are reassembled apart
// (a TLS head between a socket head's chunks neither cuts nor joins it),
// and HeadDone names the stream whose head ended.
func TestTLSPairApart(t *testing.T) {
	f := tlsFixture(t)
	sendTo := func(data string, start, tls bool) {
		f.event(&loader.Event{TGID: clientPID, FD: 7, Sock: 1, Local: clientAddr, Remote: remoteAddr,
			Direction: loader.Egress, Start: start, Len: len(data), Data: []byte(data), TLS: tls})
	}
	head := get("/a", tp)
	sendTo(head[:20], true, false)
	sendTo(get("/b")+"body", true, true)
	sendTo(head[20:], false, false)
	s := f.settle()
	if len(s.Pairs) != 2 || len(s.ParseFailures) != 0 {
		t.Fatalf("pairs %+v failures %v", s.Pairs, s.ParseFailures)
	}
	if p := f.pairTLS(s, "checkout", "inventory", false); p.Requests != 1 || p.MissingContext != 0 {
		t.Errorf("socket pair %+v", p)
	}
	if p := f.pairTLS(s, "checkout", "inventory", true); p.Requests != 1 || p.MissingContext != 1 {
		t.Errorf("tls pair %+v", p)
	}
	if len(f.done) != 1 || f.done[0] != (doneCall{clientPID, 7, loader.Egress, true}) {
		t.Errorf("HeadDone calls %v", f.done)
	}
}

// TestTLSLoopbackBothEnds: a loopback request read at both ends' TLS
// libraries counts once, whichever end comes first, on the pair named by
// both processes (the receiver's event names no peer: the sender's own
// event taught whose end it is); keep-alive repeats count each time; a
// request seen at one end only counts once. Socket bytes at both ends,
// which this kernel setting does not emit, would count twice.
func TestTLSLoopbackBothEnds(t *testing.T) {
	for _, order := range []string{"client first", "server first", "client only", "server only"} {
		t.Run(order, func(t *testing.T) {
			f := tlsFixture(t)
			for i := range 3 {
				req := get(fmt.Sprintf("/r%d", i%2), tp)
				switch order {
				case "client first":
					f.tlsSend(1, true, req)
					f.tlsRecv(2, true, req)
				case "server first":
					f.tlsRecv(2, true, req)
					f.tlsSend(1, true, req)
				case "client only":
					f.tlsSend(1, true, req)
				case "server only":
					f.tlsRecv(2, true, req)
				}
			}
			s := f.settle()
			plain, tls := totals(s)
			if plain != 0 || tls != 3 {
				t.Fatalf("%d socket and %d tls requests, want 0 and 3: %+v", plain, tls, s.Pairs)
			}
			src := "checkout"
			if order == "server only" {
				src = "127.0.0.1" // no event of the client's end: its address
			}
			if p := f.pairTLS(s, src, "inventory", true); p.Requests != 3 {
				t.Fatalf("pair %+v", p)
			}
			if n := f.obs.dedupe.len(); order != "client only" && order != "server only" && n != 0 {
				t.Errorf("%d unmatched observations", n)
			}
		})
	}

	// The same request in socket bytes at both ends is not matched: by
	// default the kernel emits only the receiving end of those.
	f := tlsFixture(t)
	f.send(1, true, get("/a"))
	f.recv(2, true, get("/a"))
	if plain, tls := totals(f.settle()); plain != 2 || tls != 0 {
		t.Errorf("socket bytes at both ends: %d socket and %d tls requests", plain, tls)
	}
	// With both ends of socket bytes emitted too (loader tests), one end's
	// TLS plaintext and the other's socket bytes are two pairs' requests,
	// neither the other's match.
	f = newFixture(t, nil)
	f.tlsSend(1, true, get("/a"))
	f.recv(2, true, get("/a"))
	if plain, tls := totals(f.settle()); plain != 1 || tls != 1 {
		t.Errorf("tls at one end, socket bytes at the other: %d socket and %d tls requests", plain, tls)
	}
}

// TestTLSLoopbackHTTP2: gRPC read at both ends' TLS libraries, each end
// decoding its own copy of the client's frames, counts each call once.
func TestTLSLoopbackHTTP2(t *testing.T) {
	for _, order := range []string{"client first", "server first"} {
		t.Run(order, func(t *testing.T) {
			f := tlsFixture(t)
			c := newH2Client(true)
			ev := func(tgid uint32, sock uint64, local, remote netip.AddrPort, dir loader.Direction, start bool, data []byte) {
				f.event(&loader.Event{TGID: tgid, FD: uint32(sock), Sock: sock, Local: local, Remote: remote,
					Direction: dir, Start: start, Len: len(data), Data: data, Protocol: loader.HTTP2, TLS: true})
			}
			for i := range 10 {
				c.request(grpcFields(i, i%2 == 0)...)
				b := c.take()
				send := func() { ev(clientPID, 1, clientAddr, serverAddr, loader.Egress, i == 0, b) }
				recv := func() { ev(serverPID, 2, serverAddr, clientAddr, loader.Ingress, i == 0, b) }
				if order == "client first" {
					send()
					recv()
				} else {
					recv()
					send()
				}
			}
			s := f.settle()
			if plain, tls := totals(s); plain != 0 || tls != 10 {
				t.Fatalf("%d socket and %d tls requests, want 0 and 10: %+v", plain, tls, s.Pairs)
			}
			p := f.pairTLS(s, "checkout", "inventory", true)
			if p.Protocol != ProtocolGRPC || p.Requests != 10 || p.MissingContext != 5 || len(p.CoverageGaps) != 0 {
				t.Fatalf("pair %+v", p)
			}
		})
	}
}

// TestTLSLoopbackKafka: Produce frames read at both ends' TLS libraries
// (the broker's chunked unlike the producer's) count each record once;
// a producer seen alone counts its records once; and a TLS frame never
// consumes the match of a socket frame's.
func TestTLSLoopbackKafka(t *testing.T) {
	frames := func() [][]byte {
		return [][]byte{
			produceFrame(9, 1, topic("orders", kafkatest.Batch(kafkatest.Codecs[0], 0, krecords(12)))),
			produceFrame(9, 2, topic("orders", kafkatest.Batch(kafkatest.Codecs[0], 0, krecords(12)))),
		}
	}
	prod := producer(1)
	prod.tls = true
	broker := brokerIn(2)
	broker.peer, broker.tls = 0, true
	for _, order := range []string{"producer first", "broker first", "producer only"} {
		t.Run(order, func(t *testing.T) {
			f := kfixture(t, nil)
			for _, fr := range frames() {
				switch order {
				case "producer first":
					f.kafka(prod, fr)
					f.kafka(broker, fr, 4, 30, 100)
				case "broker first":
					f.kafka(broker, fr, 4, 30, 100)
					f.kafka(prod, fr)
				case "producer only":
					f.kafka(prod, fr)
				}
			}
			s := f.agg.Snapshot()
			if plain, tls := totals(s); plain != 0 || tls != 24 {
				t.Fatalf("%d socket and %d tls records, want 0 and 24: %+v", plain, tls, s.Pairs)
			}
			// As for socket frames, a broker's end seen before the
			// producer's own first event names the producer by its
			// address, once.
			want := uint64(24)
			if order == "broker first" {
				want = 12
				if p := f.pairTLS(s, "127.0.0.1", "orders", true); p.Requests != 12 {
					t.Fatalf("pair %+v", p)
				}
			}
			if p := f.pairTLS(s, "checkout", "orders", true); p.Requests != want || p.Protocol != ProtocolKafka {
				t.Fatalf("pair %+v", p)
			}
			if n := f.obs.dedupe.len(); order != "producer only" && n != 0 {
				t.Errorf("%d unmatched observations", n)
			}
		})
	}

	// With both ends of socket bytes emitted too (loader tests), a TLS
	// frame and a socket frame of the same bytes are two observations of
	// two pairs, neither the other's match.
	f := kfixture(t, func(c *Config) { c.LoopbackBothEnds = true })
	fr := frames()[0]
	f.kafka(prod, fr)
	sock := brokerIn(3)
	sock.peer = 0
	f.kafka(sock, fr)
	s := f.agg.Snapshot()
	if plain, tls := totals(s); plain != 12 || tls != 12 {
		t.Fatalf("%d socket and %d tls records, want 12 and 12: %+v", plain, tls, s.Pairs)
	}
}

// hello is a TLS ClientHello event at the client's end (egress) or the
// server's (ingress) of loopback connection sock.
func (f *fixture) hello(sock uint64, dir loader.Direction) {
	ev := &loader.Event{TGID: clientPID, FD: uint32(sock), Sock: sock, Local: clientAddr, Remote: serverAddr,
		Direction: dir, Start: true, Len: 517, Protocol: loader.TLSHello}
	if dir == loader.Ingress {
		ev.TGID, ev.Local, ev.Remote = serverPID, serverAddr, clientAddr
	}
	f.event(ev)
}

// TestTLSNotReadable: a TLS connection of a process whose TLS is not read
// is one tls.not_readable gap of its pair (protocol tls, tls true),
// counted at the client only when both ends are local; a readable
// process's connection, or any with TLS capture off, is no gap.
func TestTLSNotReadable(t *testing.T) {
	readable := map[uint32]bool{}
	f := newFixture(t, func(c *Config) { c.TLSReadable = func(tgid uint32) bool { return readable[tgid] } })
	for sock := uint64(1); sock <= 3; sock++ {
		f.hello(sock, loader.Egress)
		f.hello(sock, loader.Ingress) // local client: its own end counts
	}
	readable[clientPID] = true
	f.hello(4, loader.Egress) // read when it came: no gap
	readable[clientPID] = false
	s := f.settle()
	p := f.pairTLS(s, "checkout", "inventory", true)
	if p.Protocol != ProtocolTLS || p.CoverageGaps[string(GapTLSNotReadable)] != 3 || p.Requests != 0 || p.GapTotal() != 3 {
		t.Errorf("pair %+v, want 3 tls.not_readable gaps and no request", p)
	}
	if len(s.Pairs) != 1 {
		t.Errorf("pairs %+v, want only the gap's", s.Pairs)
	}

	off := newFixture(t, nil)
	off.hello(1, loader.Egress)
	if s := off.settle(); len(s.Pairs) != 0 {
		t.Errorf("TLS capture off: pairs %+v, want none", s.Pairs)
	}
}

// TestTLSNotReadableButRead: a connection whose plaintext was read at
// either end is no gap, even when the watcher does not (yet, or any more)
// know the process: a program that started a moment ago, or exited.
func TestTLSNotReadableButRead(t *testing.T) {
	for _, end := range []string{"client", "server"} {
		t.Run(end, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.TLSReadable = func(uint32) bool { return false } })
			f.hello(1, loader.Egress)
			if end == "client" {
				f.tlsSend(1, true, get("/a"))
			} else {
				f.tlsRecv(2, true, get("/a"))
			}
			s := f.settle()
			p := f.pairTLS(s, "checkout", "inventory", true)
			if p.Requests != 1 || p.GapTotal() != 0 || len(s.Pairs) != 1 {
				t.Errorf("pairs %+v, want the request and no gap", s.Pairs)
			}
		})
	}
}
