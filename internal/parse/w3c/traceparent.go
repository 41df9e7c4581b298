package w3c

import "github.com/propwatch/propwatch/internal/parse/reason"

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
	if len(s) < traceParentLen || s[tpDash1] != '-' || s[tpDash2] != '-' || s[tpDash3] != '-' ||
		!decodeHex(s[0:tpDash1], &tp.Version) ||
		!decodeHexInto(tp.TraceID[:], s[tpTraceI:tpDash2]) ||
		!decodeHexInto(tp.ParentID[:], s[tpParent:tpDash3]) ||
		!decodeHex(s[tpFlags:traceParentLen], &tp.Flags) {
		return TraceParent{}, diagnoseTraceParent(s)
	}
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
	if isZero(tp.TraceID[:]) {
		return TraceParent{}, TraceParentTraceIDZero
	}
	if isZero(tp.ParentID[:]) {
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

// decodeHexInto decodes len(dst)*2 lowercase hex digits.
func decodeHexInto(dst, src []byte) bool {
	var bad uint8
	for i := range dst {
		hi, lo := hexVal[src[2*i]], hexVal[src[2*i+1]]
		bad |= hi | lo
		dst[i] = hi<<4 | lo
	}
	return bad <= 0x0f
}

func isZero(b []byte) bool {
	var acc byte
	for _, c := range b {
		acc |= c
	}
	return acc == 0
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
