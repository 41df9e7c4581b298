package observe

import (
	"bytes"
	"fmt"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/propwatch/propwatch/internal/loader"
	h2parse "github.com/propwatch/propwatch/internal/parse/http2"
)

// h2client encodes requests as an HTTP/2 client writes them.
type h2client struct {
	buf bytes.Buffer
	fr  *http2.Framer
	hb  bytes.Buffer
	enc *hpack.Encoder
	sid uint32
}

func newH2Client(preface bool) *h2client {
	c := &h2client{sid: 1}
	c.fr = http2.NewFramer(&c.buf, nil)
	c.enc = hpack.NewEncoder(&c.hb)
	if preface {
		c.buf.WriteString(h2parse.Preface)
		_ = c.fr.WriteSettings()
	}
	return c
}

func (c *h2client) request(fields ...string) {
	c.hb.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		_ = c.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	_ = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: c.sid, BlockFragment: c.hb.Bytes(), EndHeaders: true})
	c.sid += 2
}

// take returns what was written since the last take.
func (c *h2client) take() []byte {
	b := bytes.Clone(c.buf.Bytes())
	c.buf.Reset()
	return b
}

func (f *fixture) h2recv(sock uint64, start bool, data []byte) {
	f.event(&loader.Event{TGID: serverPID, FD: uint32(sock), Sock: sock, Local: serverAddr, Remote: clientAddr,
		Direction: loader.Ingress, Start: start, Len: len(data), Data: data, Protocol: loader.HTTP2})
}

func grpcFields(i int, withContext bool) []string {
	f := []string{":method", "POST", ":scheme", "http", ":path", "/pkg.Svc/Call", ":authority", "inventory:50051",
		"content-type", "application/grpc", "te", "trailers"}
	if withContext {
		f = append(f, "traceparent", fmt.Sprintf("00-%032x-%016x-01", i+1, i+1))
	}
	return f
}

func TestHTTP2GRPCPair(t *testing.T) {
	f := newFixture(t, nil)
	c := newH2Client(true)
	for i := range 10 {
		c.request(grpcFields(i, i%2 == 0)...)
	}
	f.h2recv(1, true, c.take())
	p := f.pair(f.settle(), "127.0.0.1", "inventory")
	if p.Protocol != ProtocolGRPC || p.Requests != 10 || p.MissingContext != 5 || len(p.CoverageGaps) != 0 {
		t.Fatalf("%+v", p)
	}
}

// A connection joined mid-way: requests with a traceparent are judged,
// those without are gaps until the table is learnt, then missing.
func TestHTTP2JoinedMidway(t *testing.T) {
	f := newFixture(t, nil)
	c := newH2Client(true)
	c.request(grpcFields(0, true)...)
	c.take() // before propwatch
	for i := 1; i <= 100; i++ {
		c.request(grpcFields(i, i%10 != 0)...)
		f.h2recv(1, i == 1, c.take())
	}
	s := f.settle()
	var requests, missing, gaps uint64
	for _, p := range s.Pairs {
		requests += p.Requests
		missing += p.MissingContext
		gaps += p.CoverageGaps[string(GapHPACKStateUnknown)]
	}
	// 90 carry context, all judged; of the 10 without, those before the
	// table was learnt (about 40 requests of 98-byte traceparents) are gaps.
	if requests+gaps != 100 || requests-missing != 90 || gaps == 0 || gaps == 10 {
		t.Fatalf("requests %d missing %d gaps %d: %+v", requests, missing, gaps, s.Pairs)
	}
}

func TestHTTP2ConnCap(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxH2Conns = 2 })
	for sock := uint64(1); sock <= 3; sock++ {
		c := newH2Client(true)
		c.request(grpcFields(0, true)...)
		f.h2recv(sock, true, c.take())
	}
	if n := f.settle().ParseFailures[FailH2Evicted]; n != 1 {
		t.Fatalf("evictions %d", n)
	}
}

// A server's response headers, on a direction the kernel took for a
// client's (it saw a HEADERS frame first), are never requests.
func TestHTTP2ResponsesAreNotRequests(t *testing.T) {
	f := newFixture(t, nil)
	c := newH2Client(false)
	c.request(":status", "200", "content-type", "application/grpc")
	c.request("grpc-status", "0")
	f.h2recv(1, true, c.take())
	if s := f.settle(); len(s.Pairs) != 0 {
		t.Fatalf("%+v", s.Pairs)
	}
}
