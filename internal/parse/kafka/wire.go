package kafka

import "encoding/binary"

// reader walks a body that may end early. kmsg's generated readers need
// the whole body; this one is for the cut frames they cannot read, and
// tells apart "the bytes ran out" (the capture's cut) from "the bytes are
// impossible" (not this API version, or garbage).
type reader struct {
	b     []byte
	state readState
}

type readState uint8

const (
	readOK readState = iota
	// readShort: the input ended inside a field.
	readShort
	// readBad: a field holds a value no encoder writes.
	readBad
)

func (r *reader) ok() bool { return r.state == readOK }

func (r *reader) short() {
	if r.state == readOK {
		r.state = readShort
	}
	r.b = nil
}

func (r *reader) bad() {
	if r.state == readOK {
		r.state = readBad
	}
	r.b = nil
}

func (r *reader) skip(n int) {
	if len(r.b) < n {
		r.short()
		return
	}
	r.b = r.b[n:]
}

func (r *reader) int16() int16 {
	if len(r.b) < 2 {
		r.short()
		return 0
	}
	v := int16(binary.BigEndian.Uint16(r.b))
	r.b = r.b[2:]
	return v
}

func (r *reader) int32() int32 {
	if len(r.b) < 4 {
		r.short()
		return 0
	}
	v := int32(binary.BigEndian.Uint32(r.b))
	r.b = r.b[4:]
	return v
}

func (r *reader) uuid() (id [16]byte) {
	if len(r.b) < 16 {
		r.short()
		return id
	}
	copy(id[:], r.b)
	r.b = r.b[16:]
	return id
}

func (r *reader) uvarint() uint32 {
	v, n := uvarint(r.b)
	switch {
	case n == 0:
		r.short()
	case n < 0:
		r.bad()
	default:
		r.b = r.b[n:]
	}
	return v
}

// length reads the length of a string or bytes field: an int16 or int32
// in the classic encoding, uvarint(len+1) in the compact one. Any negative
// length is returned as -1, null; whether null is allowed is the caller's
// business. (kmsg reads a negative nullable length as null too, and the
// walkers must accept whatever kmsg accepts.)
func (r *reader) length(flexible bool, wide bool) int {
	var n int
	switch {
	case flexible:
		n = int(r.uvarint()) - 1
	case wide:
		n = int(r.int32())
	default:
		n = int(r.int16())
	}
	if !r.ok() || n < 0 {
		return -1
	}
	return n
}

// arrayLen reads an array's element count; null, and like kmsg any
// negative count, is empty. The compact count is computed in int32, as
// kmsg does, so that the two agree on every input. The count is not
// checked against the bytes left: every caller's loop reads at least one
// byte per element and stops when the reader fails, so a hostile count
// costs no memory and at most one pass over the input.
func (r *reader) arrayLen(flexible bool) int {
	var n int32
	if flexible {
		n = int32(r.uvarint()) - 1
	} else {
		n = r.int32()
	}
	if !r.ok() || n < 0 {
		return 0
	}
	return int(n)
}

// str reads a string and returns its bytes, nil for null. A null where
// the protocol has no nullable string is a bad frame.
func (r *reader) str(flexible, nullable bool) []byte {
	n := r.length(flexible, false)
	if n < 0 {
		if !nullable {
			r.bad()
		}
		return nil
	}
	if len(r.b) < n {
		r.short()
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

// records reads a nullable bytes field that holds record batches. When the
// input ends inside it, it returns the bytes that are there, the length
// the field declared, and leaves the reader short.
func (r *reader) records(flexible bool) (have []byte, declared int) {
	n := r.length(flexible, true)
	if n < 0 {
		return nil, 0
	}
	if len(r.b) < n {
		have = r.b
		r.short()
		return have, n
	}
	have = r.b[:n:n]
	r.b = r.b[n:]
	return have, n
}

// tags skips a tagged-field section (KIP-482).
func (r *reader) tags() {
	count := r.uvarint()
	for i := uint32(0); i < count && r.ok(); i++ {
		r.uvarint()
		size := r.uvarint()
		if r.ok() {
			r.skip(int(size))
		}
	}
}
