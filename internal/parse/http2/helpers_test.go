package http2

import (
	"bytes"
	"fmt"
	"math/rand/v2"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// got is what a collector saw of one block, copied out of the Conn.
type got struct {
	stream    uint32
	fields    []string // "name: value"
	hidden    int
	inferred  int
	exact     bool
	truncated bool
}

type collector struct {
	blocks   []got
	failures []string
}

func (c *collector) Block(b *Block) {
	g := got{stream: b.Stream, hidden: b.Hidden, inferred: b.Inferred, exact: b.Exact, truncated: b.Truncated}
	for _, f := range b.Fields {
		g.fields = append(g.fields, string(f.Name)+": "+string(f.Value))
	}
	c.blocks = append(c.blocks, g)
}

func (c *collector) Failure(code string) { c.failures = append(c.failures, code) }

// client writes what an HTTP/2 client writes: the preface, SETTINGS, then
// a request's HEADERS (split into CONTINUATION frames past maxFrag bytes)
// and DATA frames, with x/net's framer and HPACK encoder.
type client struct {
	buf     bytes.Buffer
	fr      *http2.Framer
	enc     *hpack.Encoder
	hb      bytes.Buffer
	stream  uint32
	maxFrag int
}

func newClient(maxFrag int) *client {
	c := &client{stream: 1, maxFrag: maxFrag}
	c.fr = http2.NewFramer(&c.buf, nil)
	c.enc = hpack.NewEncoder(&c.hb)
	return c
}

func (c *client) preface() {
	c.buf.WriteString(Preface)
	_ = c.fr.WriteSettings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 8192},
		http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100})
}

// request encodes fields ("name", "value", ...) and writes them with a
// DATA frame of body bytes. It returns the stream id used.
func (c *client) request(body int, fields ...string) uint32 {
	c.hb.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		_ = c.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	block := c.hb.Bytes()
	sid := c.stream
	c.stream += 2
	first := block
	if len(first) > c.maxFrag {
		first = block[:c.maxFrag]
	}
	rest := block[len(first):]
	_ = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: sid, BlockFragment: first,
		EndHeaders: len(rest) == 0, EndStream: body == 0})
	for len(rest) > 0 {
		n := min(len(rest), c.maxFrag)
		_ = c.fr.WriteContinuation(sid, n == len(rest), rest[:n])
		rest = rest[n:]
	}
	if body > 0 {
		_ = c.fr.WriteData(sid, true, bytes.Repeat([]byte{'x'}, body))
	}
	return sid
}

// feedSplit feeds p to c in chunks cut at random places, each marked as
// continuing the one before (the capture's view of a stream it ships
// whole).
func feedSplit(c *Conn, p []byte, r *rand.Rand, h Handler) {
	first := true
	for len(p) > 0 {
		n := 1 + r.IntN(min(len(p), 200))
		if first {
			// The capture holds a start back until it has 8 bytes.
			n = max(n, min(len(p), prefaceSniff))
		}
		c.Feed(p[:n], first, false, h)
		first = false
		p = p[n:]
	}
}

func traceparent(i int) string {
	return fmt.Sprintf("00-%032x-%016x-01", 0xabc000+i, 0x1000+i)
}
