package http2

import (
	"errors"

	"golang.org/x/net/http2/hpack"

	"github.com/propwatch/propwatch/internal/parse/http1"
)

// HPACK representations (RFC 7541, section 6): the first bits of a field's
// first byte say which it is; the rest of the byte is the prefix of an
// integer (section 5.1), the index or the size.
const (
	reprIndexed     = 0x80 // 1xxxxxxx: indexed field, 7-bit index
	reprIncremental = 0x40 // 01xxxxxx: literal inserted into the table, 6-bit name index
	reprSizeUpdate  = 0x20 // 001xxxxx: dynamic table size update, 5-bit size
	// 0000xxxx and 0001xxxx: literal not inserted (never indexed), 4-bit name index.

	prefixIndexed     = 7
	prefixIncremental = 6
	prefixSizeUpdate  = 5
	prefixLiteral     = 4
	prefixString      = 7    // a string's length (section 5.2)
	stringHuffman     = 0x80 // H: the string is Huffman-coded

	// entryOverhead is what an entry costs beyond its name and value
	// (section 4.1).
	entryOverhead = 32
	// maxInt bounds every integer read: no size or index of a sane block
	// comes near, and it keeps the arithmetic far from overflow.
	maxInt = 1 << 24
)

// DefaultTableSize is the dynamic table size an encoder starts with
// (SETTINGS_HEADER_TABLE_SIZE's initial value, RFC 9113 section 6.5.2). It
// is also what the Decoder assumes for a connection whose start it did
// not see: Go's x/net encoder (net/http, grpc-go) and nghttp2 never use
// more unless told, and a change is announced in-band, where the Decoder
// reads it.
const DefaultTableSize = 4096

// DefaultMaxTable is the largest dynamic table size the Decoder accepts
// from an encoder unless Limits says otherwise: 16 times the default, and
// what a table of that size can hold bounds a connection's memory.
const DefaultMaxTable = 64 << 10

// Decoding errors. Each makes the table unknown from then on: the rest of
// the block, and what it inserted, was not read.
var (
	ErrIndex       = errors.New("hpack: index out of range")
	ErrSizeUpdate  = errors.New("hpack: table size update past the limit or not at the start of a block")
	ErrInteger     = errors.New("hpack: integer too large")
	ErrHuffman     = errors.New("hpack: invalid Huffman code")
	ErrTruncated   = errors.New("hpack: block ended inside a field")
	ErrEmptyString = errors.New("hpack: empty header name")
)

// entry is one dynamic-table entry. Its name is nil when it came from an
// entry the decoder could not know; its size is then known only within
// [lo, hi].
type entry struct {
	name, value []byte
	lo, hi      int
}

// Result is the decoding of one header block. Its slices alias the
// Decoder and are valid until its next call.
type Result struct {
	// Fields are the decoded fields in order, pseudo-headers included.
	Fields []http1.Field
	// Hidden counts fields that could not be decoded: references to
	// dynamic-table entries inserted before the decoder knew the table.
	Hidden int
	// Inferred counts fields whose name was hidden but whose value has the
	// exact shape of a traceparent: they are in Fields as "traceparent".
	Inferred int
	// Exact: the table was known when the block started.
	Exact bool
	// Cut: the block ended inside a field (the capture ended, complete was
	// false); the fields before it are in Fields.
	Cut bool
	// Err is set when the block is malformed; Fields holds what preceded.
	Err error
}

// Decoder decodes the header blocks of one direction of one connection.
// Its table is bounded by the encoder's size (at most the limit given to
// Reset), plus 56 bytes of bookkeeping an entry.
type Decoder struct {
	limit int
	max   int     // the table's maximum size, as the encoder set it or assumed
	ents  []entry // oldest first: dynamic index 1 is the last
	// fog: entries the decoder does not know may sit in the table, older
	// than every entry in ents.
	fog bool
	// seen: the decoder saw the connection start, so an index past the
	// known table is an error, not an entry it missed.
	seen bool

	res  Result
	strs []byte // decoded strings of the current block
	out  appender
}

// Reset starts the decoder afresh, for a connection seen from its start
// (seen) or one whose table is unknown. limit bounds the table size an
// encoder may set (DefaultMaxTable when not positive).
func (d *Decoder) Reset(seen bool, limit int) {
	if limit <= 0 {
		limit = DefaultMaxTable
	}
	clear(d.ents)
	*d = Decoder{limit: limit, max: DefaultTableSize, ents: d.ents[:0], fog: !seen, seen: seen,
		res: Result{Fields: d.res.Fields[:0]}, strs: d.strs[:0]}
	if d.max > limit {
		d.max = limit
	}
}

// Exact reports whether the decoder knows the whole table.
func (d *Decoder) Exact() bool { return !d.fog }

// Lose forgets what the table held: some of the encoder's inserts were not
// seen. Entries inserted from now on are learnt again.
func (d *Decoder) Lose() {
	clear(d.ents)
	d.ents = d.ents[:0]
	d.fog = true
	d.seen = false
}

// TableBytes returns the size of the known entries (lower bound), for tests
// and memory accounting.
func (d *Decoder) TableBytes() int {
	n := 0
	for i := range d.ents {
		n += d.ents[i].lo
	}
	return n
}

// Decode decodes one header block. complete says the block is whole; when
// it is not, a field cut at its end is no error, but what the rest of the
// block inserted is unknown, so the table is lost after it.
func (d *Decoder) Decode(block []byte, complete bool) *Result {
	r := &d.res
	*r = Result{Fields: r.Fields[:0], Exact: !d.fog}
	d.strs = d.strs[:0]
	p := block
	atStart := true
	for len(p) > 0 {
		b := p[0]
		var n int
		var err error
		switch {
		case b&reprIndexed != 0:
			n, err = d.indexed(p)
		case b&0xc0 == reprIncremental:
			n, err = d.literal(p, prefixIncremental, true)
		case b&0xe0 == reprSizeUpdate:
			if !atStart {
				err = ErrSizeUpdate
				break
			}
			n, err = d.sizeUpdate(p)
		default:
			n, err = d.literal(p, prefixLiteral, false)
		}
		if err == errShort {
			if complete {
				err = ErrTruncated
			} else {
				r.Cut = true
				d.Lose()
				return r
			}
		}
		if err != nil {
			r.Err = err
			d.Lose()
			return r
		}
		if b&0xe0 != reprSizeUpdate {
			atStart = false
		}
		p = p[n:]
	}
	if !complete {
		d.Lose()
	}
	return r
}

// errShort: the input ended inside a representation.
var errShort = errors.New("short")

// readInt reads an integer with an n-bit prefix (RFC 7541 section 5.1) and
// returns it and the bytes it took.
func readInt(p []byte, n uint) (int, int, error) {
	if len(p) == 0 {
		return 0, 0, errShort
	}
	mask := byte(1)<<n - 1
	v := int(p[0] & mask)
	if v < int(mask) {
		return v, 1, nil
	}
	var shift uint
	for i := 1; i < len(p); i++ {
		b := p[i]
		v += int(b&0x7f) << shift
		if v > maxInt {
			return 0, 0, ErrInteger
		}
		if b&0x80 == 0 {
			return v, i + 1, nil
		}
		shift += 7
	}
	return 0, 0, errShort
}

// readString reads a string literal (section 5.2), Huffman-decoded into
// d.strs when coded.
func (d *Decoder) readString(p []byte) ([]byte, int, error) {
	if len(p) == 0 {
		return nil, 0, errShort
	}
	huff := p[0]&stringHuffman != 0
	l, n, err := readInt(p, prefixString)
	if err != nil {
		return nil, 0, err
	}
	if l > len(p)-n {
		return nil, 0, errShort
	}
	raw := p[n : n+l]
	if !huff {
		return raw, n + l, nil
	}
	start := len(d.strs)
	d.out.b = &d.strs
	if _, err := hpack.HuffmanDecode(&d.out, raw); err != nil {
		d.strs = d.strs[:start]
		return nil, 0, ErrHuffman
	}
	return d.strs[start:len(d.strs):len(d.strs)], n + l, nil
}

// appender is the io.Writer HuffmanDecode writes to: it appends to a slice
// the Decoder owns, so decoding allocates only when the block outgrows it.
type appender struct{ b *[]byte }

func (a *appender) Write(p []byte) (int, error) {
	*a.b = append(*a.b, p...)
	return len(p), nil
}

// lookup finds index i (1-based, static then dynamic). known is false when
// the entry lies in the fog; name is nil when only the value is known.
func (d *Decoder) lookup(i int) (name, value []byte, known bool, err error) {
	if i == 0 {
		return nil, nil, false, ErrIndex
	}
	if i <= staticLen {
		e := &staticBytes[i-1]
		return e[0], e[1], true, nil
	}
	j := i - staticLen
	if j <= len(d.ents) {
		e := &d.ents[len(d.ents)-j]
		return e.name, e.value, true, nil
	}
	if d.fog {
		return nil, nil, false, nil
	}
	if d.seen {
		return nil, nil, false, ErrIndex
	}
	// The table size assumed for a connection whose start was missed was
	// too small: the entry is one the decoder never saw.
	d.fog = true
	return nil, nil, false, nil
}

func (d *Decoder) indexed(p []byte) (int, error) {
	i, n, err := readInt(p, prefixIndexed)
	if err != nil {
		return 0, err
	}
	name, value, known, err := d.lookup(i)
	if err != nil {
		return 0, err
	}
	d.emit(name, value, known)
	return n, nil
}

func (d *Decoder) literal(p []byte, prefix uint, insert bool) (int, error) {
	i, n, err := readInt(p, prefix)
	if err != nil {
		return 0, err
	}
	var name []byte
	known := true
	if i == 0 {
		var m int
		name, m, err = d.readString(p[n:])
		if err != nil {
			return 0, err
		}
		if len(name) == 0 {
			return 0, ErrEmptyString
		}
		n += m
	} else {
		name, _, known, err = d.lookup(i)
		if err != nil {
			return 0, err
		}
	}
	value, m, err := d.readString(p[n:])
	if err != nil {
		return 0, err
	}
	n += m
	name = d.emit(name, value, known && name != nil)
	if insert {
		d.insert(name, value)
	}
	return n, nil
}

// emit adds a decoded field, or counts a hidden one, and returns the name
// it was given (nil when hidden).
func (d *Decoder) emit(name, value []byte, known bool) []byte {
	r := &d.res
	if known && name != nil {
		r.Fields = append(r.Fields, http1.Field{Name: name, Value: value})
		return name
	}
	if value != nil && traceparentShape(value) {
		r.Inferred++
		name = traceparentName
		r.Fields = append(r.Fields, http1.Field{Name: name, Value: value})
		return name
	}
	r.Hidden++
	return nil
}

var traceparentName = []byte("traceparent")

// traceparentShape reports whether v is laid out exactly like a version-00
// traceparent: 2, 32, 16 and 2 lowercase hex digits joined by dashes.
func traceparentShape(v []byte) bool {
	if len(v) != 55 || v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return false
	}
	for i, c := range v {
		if i == 2 || i == 35 || i == 52 {
			continue
		}
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (d *Decoder) sizeUpdate(p []byte) (int, error) {
	size, n, err := readInt(p, prefixSizeUpdate)
	if err != nil {
		return 0, err
	}
	if size > d.limit {
		return 0, ErrSizeUpdate
	}
	d.max = size
	d.evict()
	return n, nil
}

// insert adds an entry (name nil: unknown) and evicts what no longer fits
// (RFC 7541 section 4.4). Entries are copied: the block's bytes are not
// kept.
func (d *Decoder) insert(name, value []byte) {
	e := entry{lo: len(name) + len(value) + entryOverhead}
	e.hi = e.lo
	if name == nil {
		// At least a byte of name; at most what the table holds.
		e.lo = len(value) + 1 + entryOverhead
		e.hi = max(e.lo, d.max)
	}
	if e.lo > d.max {
		// An entry larger than the table empties it and is not added.
		d.dropFrom(len(d.ents), false)
		return
	}
	buf := make([]byte, len(name)+len(value))
	copy(buf, name)
	copy(buf[len(name):], value)
	if name != nil {
		e.name = buf[:len(name):len(name)]
	}
	e.value = buf[len(name):]
	d.ents = append(d.ents, e)
	d.evict()
}

// evict drops, newest to oldest, the entries that surely no longer fit,
// and forgets those that may not (their size was uncertain): what follows
// them is fog. With no room left for an entry the decoder does not know,
// the fog lifts and the table is exact.
func (d *Decoder) evict() {
	lo, hi := 0, 0
	for k := len(d.ents) - 1; k >= 0; k-- {
		e := &d.ents[k]
		lo += e.lo
		hi += e.hi
		if hi > d.max {
			// Kept only the entries newer than k. Past lo, k and everything
			// older is surely gone, fog included; otherwise k may remain.
			d.dropFrom(len(d.ents)-1-k, lo <= d.max)
			return
		}
	}
	if d.fog && lo+entryOverhead > d.max {
		d.fog = false
	}
}

// dropFrom keeps the n newest entries; fog says what lies beyond them may
// still be in the table.
func (d *Decoder) dropFrom(n int, fog bool) {
	k := len(d.ents) - n
	m := copy(d.ents, d.ents[k:])
	clear(d.ents[m:])
	d.ents = d.ents[:m]
	d.fog = fog
}
