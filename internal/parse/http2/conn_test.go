package http2

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestConnExactFromPreface(t *testing.T) {
	cl := newClient(16)
	cl.preface()
	for i := range 20 {
		cl.request(i%3*10, ":method", "POST", ":scheme", "http", ":path", "/svc/Method",
			":authority", "server:50051", "content-type", "application/grpc",
			"traceparent", traceparent(i), "baggage", "k=v")
	}
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 1))
		c := NewConn(Config{})
		var h collector
		feedSplit(c, cl.buf.Bytes(), r, &h)
		if len(h.failures) > 0 {
			t.Fatalf("seed %d: failures %v", seed, h.failures)
		}
		if len(h.blocks) != 20 {
			t.Fatalf("seed %d: %d blocks, want 20", seed, len(h.blocks))
		}
		for i, b := range h.blocks {
			want := []string{":method: POST", ":scheme: http", ":path: /svc/Method",
				":authority: server:50051", "content-type: application/grpc",
				"traceparent: " + traceparent(i), "baggage: k=v"}
			if !slices.Equal(b.fields, want) || !b.exact || b.hidden != 0 || b.stream != uint32(2*i+1) {
				t.Fatalf("seed %d block %d: %+v", seed, i, b)
			}
		}
		if c.PeerTableSize != 8192 {
			t.Fatalf("PeerTableSize = %d", c.PeerTableSize)
		}
	}
}

// A connection joined mid-way: references to entries inserted before are
// hidden, a traceparent is recognised by its shape, and the table is
// learnt from the inserts that follow until the decoder is exact again.
func TestConnTolerant(t *testing.T) {
	cl := newClient(1 << 14)
	cl.preface()
	fields := func(i int) []string {
		return []string{":method", "POST", ":scheme", "http", ":path", "/svc/Method",
			":authority", "server:50051", "content-type", "application/grpc", "te", "trailers",
			"traceparent", traceparent(i)}
	}
	var offsets []int
	for i := range 200 {
		offsets = append(offsets, cl.buf.Len())
		cl.request(5, fields(i)...)
	}
	for _, join := range []int{1, 7, 50} {
		c := NewConn(Config{})
		var h collector
		c.Feed(cl.buf.Bytes()[offsets[join]:], true, false, &h)
		if len(h.failures) > 0 {
			t.Fatalf("join %d: failures %v", join, h.failures)
		}
		exactAt := -1
		for k, b := range h.blocks {
			i := join + k
			want := fields(i)
			// Every field decoded must be the one sent, in order.
			j := 0
			for _, f := range b.fields {
				for j+1 < len(want) && want[j]+": "+want[j+1] != f {
					j += 2
				}
				if j+1 >= len(want) {
					t.Fatalf("join %d block %d: field %q not sent (%v)", join, i, f, b.fields)
				}
			}
			if !slices.Contains(b.fields, "traceparent: "+traceparent(i)) {
				t.Fatalf("join %d block %d: no traceparent in %v", join, i, b.fields)
			}
			if b.exact && exactAt < 0 {
				exactAt = k
			}
			if exactAt >= 0 && (b.hidden != 0 || !b.exact) {
				t.Fatalf("join %d block %d: hidden %d exact %v after exact at %d", join, i, b.hidden, b.exact, exactAt)
			}
		}
		if exactAt < 0 || exactAt > 60 {
			t.Fatalf("join %d: exact from block %d", join, exactAt)
		}
		t.Logf("join %d: exact again after %d blocks", join, exactAt)
	}
}

func TestConnHostile(t *testing.T) {
	hdr := func(length int, typ, flags byte, sid uint32) []byte {
		return []byte{byte(length >> 16), byte(length >> 8), byte(length), typ, flags,
			byte(sid >> 24), byte(sid >> 16), byte(sid >> 8), byte(sid)}
	}
	cases := map[string][]byte{
		"continuation without headers": append(hdr(1, FrameContinuation, flagEndHeaders, 1), 0x82),
		"headers on stream 0":          append(hdr(1, FrameHeaders, flagEndHeaders, 0), 0x82),
		"padding past the frame":       append(hdr(2, FrameHeaders, flagEndHeaders|flagPadded, 1), 9, 0x82),
		"index 0":                      append(hdr(1, FrameHeaders, flagEndHeaders, 1), 0x80),
		"size update past the limit":   append(hdr(5, FrameHeaders, flagEndHeaders, 1), 0x3f, 0xe1, 0xff, 0x7f, 0x82),
		"size update after a field":    append(hdr(2, FrameHeaders, flagEndHeaders, 1), 0x82, 0x20),
		"huffman error":                append(hdr(4, FrameHeaders, flagEndHeaders, 1), 0x00, 0x81, 0xff, 0x00),
		"string past the block":        append(hdr(3, FrameHeaders, flagEndHeaders, 1), 0x00, 0x05, 'a'),
		"integer overflow":             append(hdr(7, FrameHeaders, flagEndHeaders, 1), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f),
		"data inside a block":          append(append(hdr(1, FrameHeaders, 0, 1), 0x82), hdr(0, FrameData, 0, 1)...),
		"settings of odd length":       append(hdr(5, FrameSettings, 0, 0), 0, 1, 0, 0, 0),
	}
	for name, frames := range cases {
		for _, seen := range []bool{true, false} {
			c := NewConn(Config{})
			var h collector
			in := frames
			if seen {
				in = append([]byte(Preface), frames...)
			}
			c.Feed(in, true, false, &h)
			if len(h.failures) == 0 || len(h.blocks) != 0 {
				t.Errorf("%s (seen %v): failures %v blocks %v", name, seen, h.failures, h.blocks)
			}
		}
	}
}

// An index past the table is an error on a connection seen from its
// start, and a hidden field on one joined mid-way.
func TestConnIndexPastTable(t *testing.T) {
	frame := []byte{0, 0, 1, FrameHeaders, flagEndHeaders, 0, 0, 0, 1, 0xbe} // index 62
	c := NewConn(Config{})
	var h collector
	c.Feed(append([]byte(Preface), frame...), true, false, &h)
	if !slices.Equal(h.failures, []string{FailHPACK}) {
		t.Fatalf("seen: %v", h.failures)
	}
	c = NewConn(Config{})
	h = collector{}
	c.Feed(frame, true, false, &h)
	if len(h.failures) != 0 || len(h.blocks) != 1 || h.blocks[0].hidden != 1 {
		t.Fatalf("joined: %+v", h)
	}
}

// A block longer than MaxBlock is judged as truncated on what it held, and
// the table is lost after it.
func TestConnBlockLimit(t *testing.T) {
	cl := newClient(100)
	cl.preface()
	big := make([]byte, 3000)
	for i := range big {
		big[i] = 'a' + byte(i%26)
	}
	cl.request(0, "traceparent", traceparent(1), "baggage", "k="+string(big))
	cl.request(0, "traceparent", traceparent(2))
	c := NewConn(Config{MaxBlock: 1024})
	var h collector
	c.Feed(cl.buf.Bytes(), true, false, &h)
	if len(h.failures) != 0 || len(h.blocks) != 2 {
		t.Fatalf("%+v", h)
	}
	if b := h.blocks[0]; !b.truncated || !slices.Equal(b.fields, []string{"traceparent: " + traceparent(1)}) {
		t.Fatalf("first: %+v", b)
	}
	if b := h.blocks[1]; b.exact || !slices.Contains(b.fields, "traceparent: "+traceparent(2)) {
		t.Fatalf("second: %+v", b)
	}
}

// A chunk cut by the capture (cut) truncates the block it was in; the
// next chunk that starts at a frame resyncs.
func TestConnCutAndResync(t *testing.T) {
	cl := newClient(1 << 14)
	cl.preface()
	cl.request(0, "traceparent", traceparent(1), "x", "1")
	mid := cl.buf.Len()
	cl.request(0, "traceparent", traceparent(2))
	all := cl.buf.Bytes()
	c := NewConn(Config{})
	var h collector
	c.Feed(all[:mid-3], true, true, &h)
	c.Feed(all[mid:], true, false, &h)
	if len(h.failures) != 0 || len(h.blocks) != 2 || !h.blocks[0].truncated || h.blocks[1].exact {
		t.Fatalf("%+v", h)
	}
}

// A chunk cut exactly at a frame's end still loses the table: the bytes
// the capture did not copy may have held header blocks.
func TestConnCutAtFrameEnd(t *testing.T) {
	cl := newClient(1 << 14)
	cl.preface()
	cl.request(0, "traceparent", traceparent(1))
	mid := cl.buf.Len()
	cl.request(0, "traceparent", traceparent(2))
	all := cl.buf.Bytes()
	c := NewConn(Config{})
	var h collector
	c.Feed(all[:mid], true, true, &h)
	c.Feed(all[mid:], true, false, &h)
	if len(h.blocks) != 2 || !h.blocks[0].exact || h.blocks[1].exact {
		t.Fatalf("%+v", h)
	}
}
