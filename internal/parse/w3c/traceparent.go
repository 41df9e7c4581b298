package w3c

import (
	"encoding/binary"

	"github.com/propwatch/propwatch/internal/parse/reason"
)

// Trace flag bits defined by Trace Context Level 2.
const (
	// FlagSampled is the caller's recording hint.
	FlagSampled = 0x01
	// FlagRandomTraceID says the right-most 7 bytes of the trace-id are random.
	FlagRandomTraceID = 0x02
	// flagsKnown are the bits Level 2 defines; senders MUST zero the rest.
	flagsKnown = FlagSampled | FlagRandomTraceID
)

// traceParentLen is the length of a version 00 value and the minimum length
// of any version: "vv-" + 32 hex + "-" + 16 hex + "-" + 2 hex.
const traceParentLen = 55

// Offsets of the fixed fields, shared by every version.
const (
	tpDash1  = 2
	tpDash2  = 35
	tpDash3  = 52
	tpTraceI = tpDash1 + 1
	tpParent = tpDash2 + 1
	tpFlags  = tpDash3 + 1
)

// TraceParent is a parsed traceparent header (W3C Trace Context Level 2).
// For a future version it holds the fields every version shares; whatever
// follows them is ignored, as the spec requires.
type TraceParent struct {
	Version  byte
	TraceID  [16]byte
	ParentID [8]byte
	Flags    byte
}

// Sampled reports the sampled flag (bit 0).
func (tp TraceParent) Sampled() bool { return tp.Flags&FlagSampled != 0 }

// RandomTraceID reports the Level 2 random-trace-id flag (bit 1).
func (tp TraceParent) RandomTraceID() bool { return tp.Flags&FlagRandomTraceID != 0 }

// ReservedFlags returns the flag bits Level 2 leaves undefined. Receivers
// must ignore them, but a non-zero result means the sender broke a MUST
// (see TraceParentReservedFlags) and some receivers drop such headers.
func (tp TraceParent) ReservedFlags() byte { return tp.Flags &^ flagsKnown }

// Append appends the canonical lowercase encoding of the shared fields,
// "vv-trace-id-parent-id-flags", to dst. For a valid version 00 value this
// reproduces the trimmed header byte for byte.
func (tp TraceParent) Append(dst []byte) []byte {
	dst = appendHex(dst, tp.Version)
	dst = append(dst, '-')
	for _, b := range tp.TraceID {
		dst = appendHex(dst, b)
	}
	dst = append(dst, '-')
	for _, b := range tp.ParentID {
		dst = appendHex(dst, b)
	}
	dst = append(dst, '-')
	return appendHex(dst, tp.Flags)
}

const lowerHex = "0123456789abcdef"

func appendHex(dst []byte, b byte) []byte {
	return append(dst, lowerHex[b>>4], lowerHex[b&0x0f])
}

// ParseTraceParent judges one traceparent header value. It trims surrounding
// SP/HTAB itself. It returns the parsed value and "" when valid, or the zero
// TraceParent and the first defect code.
//
// Version 00 must be exactly 55 characters. A future version (neither 00 nor
// ff) must be at least 55 characters; its flags must be followed by the end
// or a '-', and anything after that '-' is not looked at. All hex must be
// lowercase. Any flag value is accepted: the processing model tells
// receivers to ignore the bits they do not know.
func ParseTraceParent(v []byte) (TraceParent, reason.Code) {
	s := trimOWS(v)
	if len(s) == 0 {
		return TraceParent{}, TraceParentEmpty
	}
	var tp TraceParent
	if len(s) < traceParentLen || s[tpDash1] != '-' || s[tpDash2] != '-' || s[tpDash3] != '-' {
		return TraceParent{}, diagnoseTraceParent(s)
	}
	hi, okHi := decodeHex16(s[tpTraceI : tpTraceI+16])
	lo, okLo := decodeHex16(s[tpTraceI+16 : tpDash2])
	parent, okParent := decodeHex16(s[tpParent:tpDash3])
	if !okHi || !okLo || !okParent ||
		!decodeHex(s[0:tpDash1], &tp.Version) || !decodeHex(s[tpFlags:traceParentLen], &tp.Flags) {
		return TraceParent{}, diagnoseTraceParent(s)
	}
	binary.LittleEndian.PutUint64(tp.TraceID[:8], hi)
	binary.LittleEndian.PutUint64(tp.TraceID[8:], lo)
	binary.LittleEndian.PutUint64(tp.ParentID[:], parent)
	if tp.Version == 0xff {
		return TraceParent{}, TraceParentVersionFF
	}
	if len(s) > traceParentLen {
		switch {
		case hexVal[s[traceParentLen]] != hexBad:
			// The flags run on: a field-length error, not an extra field.
			return TraceParent{}, TraceParentBadLength
		case tp.Version == 0:
			return TraceParent{}, TraceParentTrailingData
		case s[traceParentLen] != '-':
			return TraceParent{}, TraceParentBadDelimiter
		}
	}
	if hi|lo == 0 {
		return TraceParent{}, TraceParentTraceIDZero
	}
	if parent == 0 {
		return TraceParent{}, TraceParentParentIDZero
	}
	return tp, ""
}

// decodeHex decodes exactly two lowercase hex digits.
func decodeHex(src []byte, dst *byte) bool {
	hi, lo := hexVal[src[0]], hexVal[src[1]]
	*dst = hi<<4 | lo
	return hi|lo <= 0x0f
}

// decodeHex16 decodes the 16 lowercase hex digits of src into 8 bytes,
// returned packed little-endian (the first byte lowest), and reports whether
// all 16 are lowercase hex.
func decodeHex16(src []byte) (uint64, bool) {
	x0, x1 := binary.LittleEndian.Uint64(src[:8]), binary.LittleEndian.Uint64(src[8:16])
	l0, ok0 := hexLetters8(x0)
	l1, ok1 := hexLetters8(x1)
	return uint64(hexPack8(x0, l0)) | uint64(hexPack8(x1, l1))<<32, ok0 && ok1
}

// SWAR constants: one in every byte, and the top bit of every byte.
const (
	ones = 0x0101010101010101
	tops = 0x8080808080808080
)

// hexLetters8 checks the eight bytes packed in x at once, without a table
// or a branch: it reports whether all are lowercase hex digits, and
// returns the top bit of each byte that is a letter a-f. Each comparison
// with a bound is an addition that carries into the byte's top bit, and no
// byte carries into the next once bytes >= 0x80 are ruled out.
func hexLetters8(x uint64) (letters uint64, ok bool) {
	geq0 := (x + ones*(0x80-'0')) & tops  // byte >= '0'
	gt9 := (x + ones*(0x80-'9'-1)) & tops // byte > '9'
	geqA := (x + ones*(0x80-'a')) & tops  // byte >= 'a'
	gtF := (x + ones*(0x80-'f'-1)) & tops // byte > 'f'
	letters = geqA &^ gtF
	return letters, x&tops == 0 && (geq0&^gt9|letters) == tops
}

// hexPack8 turns the eight hex digits packed little-endian in x (the first
// digit in the low byte), whose letters hexLetters8 found, into four bytes
// packed the same way.
func hexPack8(x, letters uint64) uint32 {
	// A digit's value is its low nibble; a letter's (a-f: 1-6) is that
	// plus 9.
	nib := x&(ones*0x0f) + (letters>>7)*9
	// Pair the nibbles (first digit high), then pack the four bytes.
	v := (nib&0x000f000f000f000f)<<4 | (nib>>8)&0x000f000f000f000f
	v = (v | v>>8) & 0x0000ffff0000ffff
	return uint32(v | v>>16)
}

// diagnoseTraceParent names the first defect of a value whose fixed layout
// did not parse. It walks the layout left to right, so a field that is too
// short shows up as a '-' where hex was due, and one that is too long as hex
// where a '-' was due; both are length defects.
func diagnoseTraceParent(s []byte) reason.Code {
	n := min(len(s), traceParentLen)
	for i := 0; i < n; i++ {
		c := s[i]
		if i == tpDash1 || i == tpDash2 || i == tpDash3 {
			if c != '-' {
				if hexVal[c] != hexBad {
					return TraceParentBadLength
				}
				return TraceParentBadDelimiter
			}
			if i == tpDash1 && s[0] == 'f' && s[1] == 'f' {
				return TraceParentVersionFF
			}
			continue
		}
		switch hexVal[c] {
		case hexBad:
			if c == '-' {
				return TraceParentBadLength
			}
			return TraceParentBadHex
		case hexUpper:
			return TraceParentUppercaseHex
		}
	}
	return TraceParentBadLength
}
