package http2

// Preface is what a client sends first on an HTTP/2 connection (RFC 9113
// section 3.4), before its first SETTINGS frame.
const Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// prefaceSniff is how many bytes of the preface a chunk must begin with to
// be taken for it: the capture recognises it by its first 8 bytes.
const prefaceSniff = 8

// Frame header (RFC 9113 section 4.1), 9 bytes:
//
//	+-----------------------------------------------+
//	|                 Length (24)                   |
//	+---------------+---------------+---------------+
//	|   Type (8)    |   Flags (8)   |
//	+-+-------------+---------------+-------------------------------+
//	|R|                 Stream Identifier (31)                      |
//	+-+-------------------------------------------------------------+
const (
	FrameHeaderLen = 9
	frameTypeOff   = 3
	frameFlagsOff  = 4
	frameStreamOff = 5
	streamIDMask   = 1<<31 - 1
)

// Frame types (RFC 9113 section 6) the reader tells apart.
const (
	FrameData         = 0x0
	FrameHeaders      = 0x1
	FrameSettings     = 0x4
	FramePushPromise  = 0x5
	FrameContinuation = 0x9
)

// Frame flags.
const (
	flagAck        = 0x1 // SETTINGS
	flagEndHeaders = 0x4 // HEADERS, CONTINUATION
	flagPadded     = 0x8 // HEADERS
	flagPriority   = 0x20
)

// HEADERS payload: [Pad Length (8)] [E|Stream Dependency (32) Weight (8)]
// Field Block Fragment, then Padding.
const (
	padLenBytes   = 1
	priorityBytes = 5
)

// SETTINGS payload: a list of 6-byte (identifier 16, value 32) pairs.
const (
	settingLen             = 6
	settingHeaderTableSize = 0x1
)

// Failure codes of the client direction: frames or blocks that do not
// parse. They are parse failures, never requests.
const (
	// FailFrame: a frame that breaks the framing rules (HEADERS on stream
	// 0, padding past the frame, a CONTINUATION with no block open, another
	// frame inside a block, a SETTINGS frame of the wrong length).
	FailFrame = "http2.bad_frame"
	// FailHPACK: a header block that does not decode (index out of range
	// on a connection seen from its start, a table size update past the
	// limit, a Huffman error, a block that ends inside a field).
	FailHPACK = "http2.bad_hpack"
)

// DefaultMaxBlock is the largest header block reassembled unless Config
// says otherwise: the capture's head budget. A longer block is judged on
// its first DefaultMaxBlock bytes, as truncated.
const DefaultMaxBlock = 16 << 10

// Block is one request's header block, decoded. It aliases the Conn and is
// valid until its next Feed.
type Block struct {
	Stream uint32
	*Result
	// Truncated: the block was longer than the capture, or the capture
	// lost its end; Fields holds what was read.
	Truncated bool
	// Raw is the block's HPACK bytes as read (for matching the two ends
	// of a local connection).
	Raw []byte
}

// Handler receives what a Conn reads.
type Handler interface {
	// Block is called for each request header block (not trailers).
	Block(b *Block)
	// Failure is called with FailFrame or FailHPACK.
	Failure(code string)
}

// Config bounds a Conn.
type Config struct {
	// MaxBlock bounds a header block and a SETTINGS frame reassembled.
	MaxBlock int
	// MaxTable bounds the dynamic table an encoder may set
	// (DefaultMaxTable when zero).
	MaxTable int
}

// Conn reads the client direction of one HTTP/2 connection from the chunks
// the capture ships: each either continues the previous one, or starts at
// a frame header (after bytes the capture skipped: DATA frames, or a gap).
type Conn struct {
	cfg Config
	dec Decoder
	// synced: the place of the next byte in the frame stream is known.
	synced bool
	// started: the stream was synced at least once (the decoder is set).
	started bool
	// preface: bytes of the preface still to skip.
	preface int

	hdr  [FrameHeaderLen]byte
	hn   int // bytes of hdr read
	typ  byte
	flag byte
	sid  uint32
	flen int // the frame's payload length
	left int // payload bytes still to come
	keep bool

	payload []byte
	cutPay  bool

	block      []byte
	blockOpen  bool
	blockSID   uint32
	blockCut   bool
	lastStream uint32
	out        Block

	// PeerTableSize is the last SETTINGS_HEADER_TABLE_SIZE this client
	// announced (the bound of the server's encoder, the other direction),
	// or -1.
	PeerTableSize int64
}

// NewConn returns a Conn bounded by cfg.
func NewConn(cfg Config) *Conn {
	c := &Conn{}
	c.Reset(cfg)
	return c
}

// Reset makes c a fresh Conn, keeping its buffers.
func (c *Conn) Reset(cfg Config) {
	if cfg.MaxBlock <= 0 {
		cfg.MaxBlock = DefaultMaxBlock
	}
	*c = Conn{cfg: cfg, dec: c.dec, payload: c.payload[:0], block: c.block[:0], PeerTableSize: -1}
	c.dec.Reset(false, cfg.MaxTable)
}

// Exact reports whether the connection's header table is known.
func (c *Conn) Exact() bool { return c.dec.Exact() }

// Feed reads one chunk. start: p begins at a frame header (or at the
// preface). cut: the stream went on past p with bytes that were not
// captured (the capture's limit, or its place in the frames lost).
func (c *Conn) Feed(p []byte, start, cut bool, h Handler) {
	if start {
		if c.midFrame() {
			c.lose(h)
		}
		if n := min(len(p), len(Preface)); n >= prefaceSniff && string(p[:n]) == Preface[:n] {
			c.Reset(c.cfg)
			c.dec.Reset(true, c.cfg.MaxTable)
			c.preface = len(Preface)
		}
		c.synced, c.started = true, true
	}
	if !c.synced {
		return
	}
	if c.preface > 0 {
		// The preface, possibly read in pieces.
		n := min(len(p), c.preface)
		c.preface -= n
		p = p[n:]
	}
	for len(p) > 0 {
		if c.hn < FrameHeaderLen {
			n := copy(c.hdr[c.hn:], p)
			c.hn += n
			p = p[n:]
			if c.hn < FrameHeaderLen {
				break
			}
			c.begin()
			if c.left == 0 {
				c.end(h)
			}
			continue
		}
		n := min(c.left, len(p))
		if c.keep {
			room := c.cfg.MaxBlock - len(c.payload)
			take := min(n, room)
			c.payload = append(c.payload, p[:take]...)
			if take < n {
				c.cutPay = true
			}
		}
		c.left -= n
		p = p[n:]
		if c.left == 0 {
			c.end(h)
		}
	}
	if cut {
		// What the capture lost after p may hold header blocks: the table
		// is unknown from here, whether or not p ended inside a frame.
		if c.midFrame() {
			c.lose(h)
		}
		c.dec.Lose()
		c.synced = false
	}
}

// midFrame reports whether a frame header or payload is half read.
func (c *Conn) midFrame() bool { return c.hn > 0 || c.blockOpen }

// begin reads the frame header in c.hdr.
func (c *Conn) begin() {
	h := &c.hdr
	c.flen = int(h[0])<<16 | int(h[1])<<8 | int(h[2])
	c.left = c.flen
	c.typ = h[frameTypeOff]
	c.flag = h[frameFlagsOff]
	c.sid = (uint32(h[frameStreamOff])<<24 | uint32(h[frameStreamOff+1])<<16 |
		uint32(h[frameStreamOff+2])<<8 | uint32(h[frameStreamOff+3])) & streamIDMask
	c.keep = c.typ == FrameHeaders || c.typ == FrameContinuation || c.typ == FrameSettings
	c.payload = c.payload[:0]
	c.cutPay = false
}

// end handles a frame whose payload was read (or cut: c.cutPay).
func (c *Conn) end(h Handler) {
	c.hn = 0
	switch c.typ {
	case FrameHeaders:
		c.headers(h)
	case FrameContinuation:
		c.continuation(h)
	case FrameSettings:
		if c.blockOpen {
			c.protocolError(h)
			return
		}
		c.settings(h)
	default:
		if c.blockOpen {
			// Nothing may come between a HEADERS frame and its
			// CONTINUATIONs (RFC 9113 section 6.10).
			c.protocolError(h)
		}
	}
}

func (c *Conn) headers(h Handler) {
	if c.blockOpen || c.sid == 0 {
		c.protocolError(h)
		return
	}
	p, pad := c.payload, 0
	if c.flag&flagPadded != 0 {
		if len(p) < padLenBytes {
			c.protocolError(h)
			return
		}
		pad = int(p[0])
		p = p[padLenBytes:]
	}
	if c.flag&flagPriority != 0 {
		if len(p) < priorityBytes {
			c.protocolError(h)
			return
		}
		p = p[priorityBytes:]
	}
	// The fragment ends where the padding starts, counted from the frame's
	// own end, which a cut payload does not reach.
	fragLen := c.flen - (len(c.payload) - len(p)) - pad
	if fragLen < 0 {
		c.protocolError(h)
		return
	}
	p = p[:min(len(p), fragLen)]
	c.block = append(c.block[:0], p...)
	c.blockOpen, c.blockSID, c.blockCut = true, c.sid, c.cutPay
	if c.flag&flagEndHeaders != 0 {
		c.finish(h)
	}
}

func (c *Conn) continuation(h Handler) {
	if !c.blockOpen || c.sid != c.blockSID {
		c.protocolError(h)
		return
	}
	room := c.cfg.MaxBlock - len(c.block)
	p := c.payload
	if len(p) > room {
		p, c.blockCut = p[:room], true
	}
	c.block = append(c.block, p...)
	c.blockCut = c.blockCut || c.cutPay
	if c.flag&flagEndHeaders != 0 {
		c.finish(h)
	}
}

func (c *Conn) settings(h Handler) {
	if c.flag&flagAck != 0 {
		if c.flen != 0 {
			h.Failure(FailFrame)
		}
		return
	}
	if c.flen%settingLen != 0 || c.sid != 0 || c.cutPay {
		h.Failure(FailFrame)
		return
	}
	for p := c.payload; len(p) >= settingLen; p = p[settingLen:] {
		if id := uint16(p[0])<<8 | uint16(p[1]); id == settingHeaderTableSize {
			c.PeerTableSize = int64(uint32(p[2])<<24 | uint32(p[3])<<16 | uint32(p[4])<<8 | uint32(p[5]))
		}
	}
}

// finish decodes the open block and hands a request's to h.
func (c *Conn) finish(h Handler) {
	c.blockOpen = false
	r := c.dec.Decode(c.block, !c.blockCut)
	if r.Err != nil {
		h.Failure(FailHPACK)
		return
	}
	sid := c.blockSID
	if sid&1 == 0 || sid <= c.lastStream {
		// Trailers (or a client's misuse of even streams): decoded for
		// the table's sake, no request.
		return
	}
	c.lastStream = sid
	c.out = Block{Stream: sid, Result: r, Truncated: c.blockCut, Raw: c.block}
	h.Block(&c.out)
}

// protocolError counts a frame that breaks the framing rules and forgets
// the table: whatever the block held was not read.
func (c *Conn) protocolError(h Handler) {
	h.Failure(FailFrame)
	c.blockOpen = false
	c.dec.Lose()
}

// lose ends a frame or block the capture cut: a block is judged on what
// was read, as truncated; the table is lost either way.
func (c *Conn) lose(h Handler) {
	if c.hn == FrameHeaderLen && c.keep && (c.typ == FrameHeaders || c.typ == FrameContinuation) {
		c.cutPay = true
		c.left = 0
		c.end(h)
	}
	if c.blockOpen {
		c.blockCut = true
		c.finish(h)
	}
	c.hn, c.left = 0, 0
	c.dec.Lose()
}
