package observe

import (
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
