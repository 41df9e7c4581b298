package formats

import (
	"math/bits"

	"github.com/propwatch/propwatch/internal/parse/reason"
)

// Headers collects the values of one request's known fields: the first
// value of each and how many times it appeared. The zero value is empty and
// ready to use; it holds no allocation of its own and keeps sub-slices of the
// caller's buffers, so Reset it before those buffers are reused.
type Headers struct {
	seen  uint32 // bit f set when field f was added
	first [NumFields][]byte
	count [NumFields]uint16
}

// Reset empties h for the next request. It clears only the fields that were
// set, so it costs nothing for a request without any.
func (h *Headers) Reset() {
	for s := h.seen; s != 0; s &= s - 1 {
		f := bits.TrailingZeros32(s)
		h.first[f] = nil
		h.count[f] = 0
	}
	h.seen = 0
}

// Add records one value of field f. value must already be OWS-trimmed; h
// keeps the slice itself, not a copy. Only the first value of a field is
// kept; later ones are counted (saturating at 65535). FieldNone and unknown
// fields are ignored.
func (h *Headers) Add(f Field, value []byte) {
	if f == FieldNone || f >= NumFields {
		return
	}
	if h.seen&f.bit() == 0 {
		h.seen |= f.bit()
		h.first[f] = value
		h.count[f] = 1
		return
	}
	if h.count[f] < 1<<16-1 {
		h.count[f]++
	}
}

// Value returns the first value recorded for f and whether there was one.
func (h *Headers) Value(f Field) ([]byte, bool) {
	if f >= NumFields || h.seen&f.bit() == 0 {
		return nil, false
	}
	return h.first[f], true
}

// Count returns how many values were recorded for f (at most 65535).
func (h *Headers) Count(f Field) int {
	if f >= NumFields {
		return 0
	}
	return int(h.count[f])
}

// Formats returns the formats present in h: those with at least one context
// header (baggage-only and sw8-x headers do not count; see the package doc).
func (h *Headers) Formats() Format {
	var out Format
	for s := h.seen & contextFields; s != 0; s &= s - 1 {
		out |= fieldFormats[bits.TrailingZeros32(s)]
	}
	return out
}

// has reports whether field f was added.
func (h *Headers) has(f Field) bool { return h.seen&f.bit() != 0 }

// repeated reports whether any field in the set mask was added more than once.
func (h *Headers) repeated(mask uint32) bool {
	for s := h.seen & mask; s != 0; s &= s - 1 {
		if h.count[bits.TrailingZeros32(s)] > 1 {
			return true
		}
	}
	return false
}

// Result is the verdict for one format present in a request.
type Result struct {
	// Format is the single format judged.
	Format Format
	// Valid reports a well-formed context in this format, one that carries
	// enough to continue a trace (or, for B3, a sampling decision alone).
	Valid bool
	// Defect is the first defect found, "" exactly when Valid.
	Defect reason.Code
	// TraceID is the trace id, right-aligned: a 64-bit id fills bytes 8..15
	// and leaves 0..7 zero. It is set whenever the id itself parsed and is
	// not zero, even when another defect makes the Result invalid.
	TraceID [16]byte
	// TraceIDBits is 0 (no comparable id), 64 or 128.
	TraceIDBits int
}

// verdict accumulates one Result: the first fail wins.
type verdict struct {
	r Result
}

func (v *verdict) fail(c reason.Code) {
	if v.r.Defect == "" {
		v.r.Defect = c
	}
}

func (v *verdict) setID(t traceID) {
	if t.bits == 0 || t.zero() {
		return
	}
	v.r.TraceID = t.id
	v.r.TraceIDBits = t.bits
}

func (v *verdict) done() Result {
	v.r.Valid = v.r.Defect == ""
	return v.r
}

// Field sets per format, for presence and duplicate checks.
const (
	b3Fields       = 1<<FieldB3 | 1<<FieldB3TraceID | 1<<FieldB3SpanID | 1<<FieldB3ParentSpanID | 1<<FieldB3Sampled | 1<<FieldB3Flags
	jaegerFields   = 1 << FieldUberTraceID
	xrayFields     = 1 << FieldXRay
	datadogFields  = 1<<FieldDDTraceID | 1<<FieldDDParentID | 1<<FieldDDSamplingPriority | 1<<FieldDDOrigin | 1<<FieldDDTags
	grpcFields     = 1 << FieldGRPCTraceBin
	gcpFields      = 1 << FieldCloudTrace
	sw8Fields      = 1 << FieldSW8
	sw8AllFields   = 1<<FieldSW8 | 1<<FieldSW8X
	otFields       = 1<<FieldOTTraceID | 1<<FieldOTSpanID | 1<<FieldOTSampled
	sentryFields   = 1 << FieldSentryTrace
	anyFormatField = b3Fields | jaegerFields | xrayFields | datadogFields | grpcFields | gcpFields | sw8Fields | otFields | sentryFields
)

// Evaluate judges every format present in h and appends one Result per
// present format to dst, in the order of the Format constants. It allocates
// only when dst must grow; a request without any of these headers costs one
// comparison.
func (h *Headers) Evaluate(dst []Result) []Result {
	s := h.seen
	if s&anyFormatField == 0 {
		return dst
	}
	if s&b3Fields != 0 {
		dst = append(dst, h.evalB3())
	}
	if s&jaegerFields != 0 {
		dst = append(dst, h.evalJaeger())
	}
	if s&xrayFields != 0 {
		dst = append(dst, h.evalXRay())
	}
	if s&datadogFields != 0 {
		dst = append(dst, h.evalDatadog())
	}
	if s&grpcFields != 0 {
		dst = append(dst, h.evalGRPC())
	}
	if s&gcpFields != 0 {
		dst = append(dst, h.evalGCP())
	}
	if s&sw8Fields != 0 {
		dst = append(dst, h.evalSW8())
	}
	if s&otFields != 0 {
		dst = append(dst, h.evalOT())
	}
	if s&sentryFields != 0 {
		dst = append(dst, h.evalSentry())
	}
	return dst
}
