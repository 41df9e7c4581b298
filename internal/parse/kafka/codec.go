package kafka

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Codec is a record batch's compression codec, attributes & 7.
type Codec uint8

// The codecs Kafka defines.
const (
	CodecNone   Codec = 0
	CodecGzip   Codec = 1
	CodecSnappy Codec = 2
	CodecLZ4    Codec = 3
	CodecZstd   Codec = 4
)

// String names the codec as Kafka's compression.type does.
func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecGzip:
		return "gzip"
	case CodecSnappy:
		return "snappy"
	case CodecLZ4:
		return "lz4"
	case CodecZstd:
		return "zstd"
	default:
		return "unknown"
	}
}

// inflated says how a decompression ended.
type inflated uint8

const (
	// inflatedAll: the whole input decompressed.
	inflatedAll inflated = iota
	// inflatedLimit: the output reached the limit; out holds its first
	// limit bytes.
	inflatedLimit
	// inflatedError: the input is corrupt, or ended early; out holds what
	// decompressed before that, which for a batch the capture cut is a
	// usable prefix.
	inflatedError
)

// xerialMagic starts the framing that snappy-java's SnappyOutputStream
// writes, which Java producers use: the magic, a version and a
// compatible-version int32, then int32-length-prefixed raw snappy blocks.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderLen = 16

// minGrow is the first size the output buffer grows to: most batches are
// small, and starting larger would waste memory on every idle Decoder.
const minGrow = 16 << 10

// inflater owns the decompressors and the output buffer. Each is created
// on first use, since a Decoder often never sees most codecs, and then
// reused: a gzip or zstd decoder costs tens of kilobytes to set up.
type inflater struct {
	limit int
	out   []byte
	probe [64]byte
	src   bytes.Reader
	gz    *gzip.Reader
	zs    *zstd.Decoder
	lz    *lz4.Reader
}

// inflate decompresses src with codec into i.out, writing at most i.limit
// bytes whatever the input claims.
func (i *inflater) inflate(codec Codec, src []byte) ([]byte, inflated) {
	i.src.Reset(src)
	// Drop the reference to src when done: the Decoder outlives the body.
	defer i.src.Reset(nil)
	switch codec {
	case CodecGzip:
		if i.gz == nil {
			i.gz = new(gzip.Reader)
		}
		if err := i.gz.Reset(&i.src); err != nil {
			return nil, inflatedError
		}
		// Kafka writes one gzip member per batch; reading further members
		// would only let trailing garbage pass as records.
		i.gz.Multistream(false)
		return i.readAll(i.gz)
	case CodecSnappy:
		if len(src) >= xerialHeaderLen && bytes.HasPrefix(src, xerialMagic) {
			return i.xerial(src[xerialHeaderLen:])
		}
		return i.snappyBlock(src, 0)
	case CodecLZ4:
		if i.lz == nil {
			i.lz = lz4.NewReader(nil)
		}
		i.lz.Reset(&i.src)
		out, st := i.readAll(i.lz)
		// Hand its block buffers (up to 2 x 4 MiB) back to lz4's pool
		// rather than keep them per Decoder.
		i.lz.Reset(nil)
		return out, st
	case CodecZstd:
		if i.zs == nil {
			zs, err := zstd.NewReader(nil,
				// Synchronous: no goroutines per Decoder, and no
				// read-ahead past what the limit lets through.
				zstd.WithDecoderConcurrency(1),
				// For streams this caps the window, so a frame cannot
				// make the decoder allocate more than the limit.
				zstd.WithDecoderMaxMemory(uint64(max(i.limit, zstd.MinWindowSize))),
				zstd.WithDecoderLowmem(true))
			if err != nil {
				return nil, inflatedError
			}
			i.zs = zs
		}
		if err := i.zs.Reset(&i.src); err != nil {
			return nil, inflatedError
		}
		out, st := i.readAll(i.zs)
		_ = i.zs.Reset(nil)
		return out, st
	default:
		return nil, inflatedError
	}
}

// readAll reads r into i.out until EOF or the limit. The buffer grows by
// doubling from minGrow up to the limit and no further: once it is full, a
// small probe read tells whether more output follows. A bomb therefore
// costs the doubling (about twice the limit in all, once) and nothing on
// later calls, which reuse the buffer.
func (i *inflater) readAll(r io.Reader) ([]byte, inflated) {
	buf := i.out[:0]
	defer func() { i.out = buf[:0] }()
	zeros := 0
	for {
		dst := buf[len(buf):cap(buf)]
		if len(dst) == 0 {
			if cap(buf) >= i.limit {
				dst = i.probe[:]
			} else {
				grown := make([]byte, len(buf), min(max(2*cap(buf), minGrow), i.limit))
				copy(grown, buf)
				buf = grown
				dst = buf[len(buf):cap(buf)]
			}
		}
		n, err := r.Read(dst)
		if n > 0 && &dst[0] == &i.probe[0] {
			return buf, inflatedLimit
		}
		buf = buf[:len(buf)+n]
		switch {
		case err == io.EOF:
			return buf, inflatedAll
		case errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded):
			return buf, inflatedLimit
		case err != nil:
			return buf, inflatedError
		}
		// A reader that makes no progress would spin forever.
		if n == 0 {
			if zeros++; zeros > 100 {
				return buf, inflatedError
			}
		} else {
			zeros = 0
		}
	}
}

// snappyBlock decodes one raw snappy block and appends it to i.out[:at].
// snappy states the decoded length up front, so the limit is checked before
// anything is allocated.
func (i *inflater) snappyBlock(src []byte, at int) ([]byte, inflated) {
	n, err := snappy.DecodedLen(src)
	if err != nil {
		return i.out[:at], inflatedError
	}
	if n > i.limit-at {
		return i.out[:at], inflatedLimit
	}
	if cap(i.out) < at+n {
		grown := make([]byte, at, max(at+n, min(2*cap(i.out), i.limit)))
		copy(grown, i.out[:at])
		i.out = grown
	}
	dst := i.out[at : at+n]
	got, err := snappy.Decode(dst, src)
	if err != nil || len(got) != n || (n > 0 && &got[0] != &dst[0]) {
		return i.out[:at], inflatedError
	}
	return i.out[:at+n], inflatedAll
}

// xerial decodes the blocks of snappy-java's stream framing (after its
// 16-byte header). A block the input cuts short ends the output with
// inflatedError, keeping the blocks before it.
func (i *inflater) xerial(src []byte) ([]byte, inflated) {
	at := 0
	for len(src) > 0 {
		if len(src) < 4 {
			return i.out[:at], inflatedError
		}
		n := int(int32(binary.BigEndian.Uint32(src)))
		src = src[4:]
		if n < 0 || n > len(src) {
			return i.out[:at], inflatedError
		}
		out, st := i.snappyBlock(src[:n], at)
		if st != inflatedAll {
			return out, st
		}
		at = len(out)
		src = src[n:]
	}
	return i.out[:at], inflatedAll
}
