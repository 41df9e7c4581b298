package observe

import (
	"net/netip"
	"time"

	"github.com/propwatch/propwatch/internal/loader"
	"github.com/propwatch/propwatch/internal/parse"
	"github.com/propwatch/propwatch/internal/parse/reason"
)

// ProtocolTLS is the protocol of a pair whose traffic is TLS that could
// not be read: what it carries is unknown.
const ProtocolTLS = "tls"

// GapTLSNotReadable is the coverage gap of a TLS connection that stayed
// ciphertext: the process's TLS library is not one propwatch reads
// (BoringSSL in Envoy, OpenSSL linked in without symbols, a stripped or
// obfuscated Go binary whose crypto/tls cannot be located). Counted once
// per connection, at its client, or at its server when the client is not
// on this host.
const GapTLSNotReadable reason.Code = "tls.not_readable"

// tlsConn names a connection by its client and server ends, and for
// loopback its network namespace (whose addresses repeat in each).
type tlsConn struct {
	client, server netip.AddrPort
	netns          uint32
}

// connOf is the connection of an event.
func connOf(ev *loader.Event) tlsConn {
	c := tlsConn{client: ev.Local, server: ev.Remote}
	if ev.Direction == loader.Ingress {
		c.client, c.server = ev.Remote, ev.Local
	}
	if ev.Remote.Addr().IsLoopback() {
		c.netns = ev.NetNS
	}
	return c
}

// tlsRead remembers the connections whose TLS plaintext was read lately,
// at either end, in two generations: a ClientHello on one of them is no
// gap, whatever the watcher knows of its process (it may not have scanned
// a program that started a moment ago, or may have forgotten one that
// exited). Bounded by time and by max.
type tlsRead struct {
	cur, prev map[tlsConn]struct{}
	rotated   time.Time
	max       int
}

func (t *tlsRead) init(max int) {
	t.max = max
	t.cur = make(map[tlsConn]struct{})
	t.prev = make(map[tlsConn]struct{})
}

func (t *tlsRead) add(c tlsConn, now time.Time) {
	if len(t.cur) >= t.max {
		t.rotate(now)
	}
	t.cur[c] = struct{}{}
}

func (t *tlsRead) has(c tlsConn) bool {
	_, cur := t.cur[c]
	_, prev := t.prev[c]
	return cur || prev
}

// expire drops the older generation once per window.
func (t *tlsRead) expire(now time.Time, window time.Duration) {
	if now.Sub(t.rotated) >= window {
		t.rotate(now)
	}
}

func (t *tlsRead) rotate(now time.Time) {
	t.prev, t.cur = t.cur, t.prev
	clear(t.cur)
	t.rotated = now
}

// tlsReadWindow is how long a connection's plaintext is remembered: past
// the name delay, which a ClientHello waits before it is judged.
const tlsReadWindow = 10 * time.Second

// tlsGap decides, when the ClientHello of record r is named, whether its
// connection stayed ciphertext: no plaintext was read on it at either end
// and the watcher does not read its process's TLS.
func (o *Observer) tlsGap(r *record) bool {
	c := tlsConn{client: r.local.unpack(), server: r.remote.unpack()}
	if r.dir == loader.Ingress {
		c.client, c.server = c.server, c.client
	}
	if c.server.Addr().IsLoopback() {
		c.netns = r.netns
	}
	return !o.tlsRead.has(c) && !o.cfg.TLSReadable(r.tgid)
}

// tlsHello judges a TLS ClientHello event: a connection that starts
// encrypted. It is a gap of its pair when the process at this end does
// not have its TLS read. The client's end (egress) counts it; the
// server's end (ingress) only when the client is not local, whose own
// end would count it too.
func (o *Observer) tlsHello(ev *loader.Event, now time.Time) {
	if o.cfg.TLSReadable == nil {
		return
	}
	if ev.Direction == loader.Ingress && o.cfg.Local.Has(ev.Remote.Addr()) {
		return
	}
	if o.cfg.TLSReadable(ev.TGID) {
		return
	}
	tls := *ev
	tls.TLS = true // the pair is the TLS traffic's
	o.queueRequest(&tls, &parse.Verdict{}, nil, protoTLSGap, now)
}
