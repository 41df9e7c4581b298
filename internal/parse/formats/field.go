package formats

import "encoding/binary"

// Field identifies one header this package understands.
type Field uint8

// The header fields, by their lowercase wire name.
const (
	// FieldNone is a header this package does not know.
	FieldNone Field = iota
	// FieldB3 is b3 (single header).
	FieldB3
	// FieldB3TraceID is x-b3-traceid.
	FieldB3TraceID
	// FieldB3SpanID is x-b3-spanid.
	FieldB3SpanID
	// FieldB3ParentSpanID is x-b3-parentspanid.
	FieldB3ParentSpanID
	// FieldB3Sampled is x-b3-sampled.
	FieldB3Sampled
	// FieldB3Flags is x-b3-flags.
	FieldB3Flags
	// FieldUberTraceID is uber-trace-id.
	FieldUberTraceID
	// FieldUberCtx is any uberctx-{key} (Jaeger baggage, one item per header).
	FieldUberCtx
	// FieldJaegerBaggage is jaeger-baggage (Jaeger baggage as k=v pairs).
	FieldJaegerBaggage
	// FieldXRay is x-amzn-trace-id.
	FieldXRay
	// FieldDDTraceID is x-datadog-trace-id.
	FieldDDTraceID
	// FieldDDParentID is x-datadog-parent-id.
	FieldDDParentID
	// FieldDDSamplingPriority is x-datadog-sampling-priority.
	FieldDDSamplingPriority
	// FieldDDOrigin is x-datadog-origin.
	FieldDDOrigin
	// FieldDDTags is x-datadog-tags.
	FieldDDTags
	// FieldGRPCTraceBin is grpc-trace-bin.
	FieldGRPCTraceBin
	// FieldCloudTrace is x-cloud-trace-context.
	FieldCloudTrace
	// FieldSW8 is sw8.
	FieldSW8
	// FieldSW8Correlation is sw8-correlation (SkyWalking baggage).
	FieldSW8Correlation
	// FieldSW8X is sw8-x (SkyWalking extension header).
	FieldSW8X
	// FieldOTTraceID is ot-tracer-traceid.
	FieldOTTraceID
	// FieldOTSpanID is ot-tracer-spanid.
	FieldOTSpanID
	// FieldOTSampled is ot-tracer-sampled.
	FieldOTSampled
	// FieldOTBaggage is any ot-baggage-{key} (OpenTracing baggage).
	FieldOTBaggage
	// FieldSentryTrace is sentry-trace.
	FieldSentryTrace
	// NumFields is the number of Field values, FieldNone included.
	NumFields
)

var fieldNames = [NumFields]string{
	"", "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled",
	"x-b3-flags", "uber-trace-id", "uberctx-*", "jaeger-baggage", "x-amzn-trace-id",
	"x-datadog-trace-id", "x-datadog-parent-id", "x-datadog-sampling-priority",
	"x-datadog-origin", "x-datadog-tags", "grpc-trace-bin", "x-cloud-trace-context",
	"sw8", "sw8-correlation", "sw8-x", "ot-tracer-traceid", "ot-tracer-spanid",
	"ot-tracer-sampled", "ot-baggage-*", "sentry-trace",
}

var fieldFormats = [NumFields]Format{
	0, B3, B3, B3, B3, B3, B3, Jaeger, Jaeger, Jaeger, XRay,
	Datadog, Datadog, Datadog, Datadog, Datadog, GRPC, CloudTrace,
	SkyWalking, SkyWalking, SkyWalking, OpenTracing, OpenTracing, OpenTracing, OpenTracing, Sentry,
}

// bit returns f's bit in a field set; Headers keeps its fields in a uint32.
func (f Field) bit() uint32 { return 1 << f }

// The field sets are uint32 masks: this stops compiling past 32 fields.
const _ uint32 = 1 << (NumFields - 1)

const (
	// baggageFields carry user baggage: many values are normal, and the
	// caller scans them for PII.
	baggageFields = 1<<FieldUberCtx | 1<<FieldJaegerBaggage | 1<<FieldOTBaggage | 1<<FieldSW8Correlation
	// allFields is every known field.
	allFields = 1<<NumFields - 2
	// singleFields may appear once per request.
	singleFields = allFields &^ baggageFields
	// contextFields make their format present (see the package doc for why
	// sw8-x does not).
	contextFields = singleFields &^ (1 << FieldSW8X)
)

// String returns the field's lowercase header name, with "*" standing for
// the key of a prefix field ("uberctx-*", "ot-baggage-*"); "" for FieldNone
// and unknown values.
func (f Field) String() string {
	if f >= NumFields {
		return ""
	}
	return fieldNames[f]
}

// Format returns the format a field belongs to, 0 for FieldNone and unknown
// values.
func (f Field) Format() Format {
	if f >= NumFields {
		return 0
	}
	return fieldFormats[f]
}

// CarriesBaggage reports whether the field's value is user baggage
// (uberctx-*, jaeger-baggage, ot-baggage-*, sw8-correlation), which the
// caller must scan for PII.
func (f Field) CarriesBaggage() bool {
	return f < NumFields && baggageFields&f.bit() != 0
}

// lowerTab maps ASCII A-Z to a-z and every other byte to itself, so that a
// comparison against a lowercase literal is exact ASCII case folding.
var lowerTab = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = byte(c) + 'a' - 'A'
	}
	return t
}()

// eqFold reports whether name equals the lowercase literal lit, ignoring
// ASCII case. Lookup uses it only for names shorter than 8 bytes.
func eqFold(name []byte, lit string) bool {
	if len(name) != len(lit) {
		return false
	}
	for i := 0; i < len(lit); i++ {
		if lowerTab[name[i]] != lit[i] {
			return false
		}
	}
	return true
}

// folded is a lowercase literal of 8 to 32 bytes prepared for comparing
// 8 bytes at a time: word i holds the literal's bytes at off[i], mask i has
// 0x20 in the bytes that are letters. An input word x matches when
// x|mask == word: a letter position accepts exactly the lower and upper
// case letter (the literal's letter already has bit 0x20 set), and every
// other position must be equal.
type folded struct {
	n    int
	k    int
	off  [4]int
	word [4]uint64
	mask [4]uint64
}

func fold(lit string) folded {
	f := folded{n: len(lit)}
	for o := 0; ; o += 8 {
		if o+8 >= len(lit) {
			o = len(lit) - 8 // the last word may overlap the one before
		}
		var w, m uint64
		for j := 7; j >= 0; j-- {
			c := lit[o+j]
			w = w<<8 | uint64(c)
			m <<= 8
			if c >= 'a' && c <= 'z' {
				m |= 0x20
			}
		}
		f.off[f.k], f.word[f.k], f.mask[f.k] = o, w, m
		f.k++
		if o+8 == len(lit) {
			return f
		}
	}
}

// match reports whether name equals the literal, ignoring ASCII case.
func (f *folded) match(name []byte) bool {
	if len(name) != f.n {
		return false
	}
	for i := 0; i < f.k; i++ {
		o := f.off[i]
		if binary.LittleEndian.Uint64(name[o:o+8])|f.mask[i] != f.word[i] {
			return false
		}
	}
	return true
}

// hasPrefix reports whether name starts with the literal and has at least
// one byte after it.
func (f *folded) hasPrefix(name []byte) bool {
	return len(name) > f.n && f.match(name[:f.n])
}

// lits holds the folded name of every field of 8 bytes or more; for the
// prefix fields it holds the prefix.
var lits = func() (t [NumFields]folded) {
	for f := range NumFields {
		t[f].n = -1 // matches nothing unless set below
	}
	for f := FieldB3; f < NumFields; f++ {
		name := fieldNames[f]
		if name[len(name)-1] == '*' {
			name = name[:len(name)-1]
		}
		if len(name) >= 8 {
			t[f] = fold(name)
		}
	}
	return t
}()

// candidate[c][n&31] is false when no field name that starts with byte c
// has a length congruent to n modulo 32, so that Lookup can reject most
// names with one load and without a call. The prefix fields (uberctx-*,
// ot-baggage-*) can have any length, so their first bytes pass every length;
// lookup does the exact checks.
var candidate = func() (t [256][32]bool) {
	for f := FieldB3; f < NumFields; f++ {
		name := fieldNames[f]
		for _, c := range []byte{name[0], lowerTab[name[0]] - 'a' + 'A'} {
			if name[len(name)-1] == '*' {
				for n := range t[c] {
					t[c][n] = true
				}
			} else {
				t[c][len(name)&31] = true
			}
		}
	}
	return t
}()

// Lookup maps a header name, in any case as sent on the wire, to its Field,
// FieldNone when unknown. The prefix fields need a non-empty key after the
// prefix. It does not allocate. It is meant to be inlined, and one
// table load indexed by the first byte and the length rejects most names
// (host, accept, content-type, cookie, traceparent, sec-fetch-*, ...)
// before any call or comparison.
//
// Keep it within the compiler's inlining budget (go build -gcflags=-m).
func Lookup(name []byte) Field {
	if len(name) == 0 || !candidate[name[0]][len(name)&31] {
		return FieldNone
	}
	return lookup(name)
}

// lookup does the exact comparisons for the names Lookup lets through.
func lookup(name []byte) Field {
	n := len(name)
	if n < 2 {
		return FieldNone
	}
	switch lowerTab[name[0]] {
	case 'b':
		if n == 2 && lowerTab[name[1]] == '3' {
			return FieldB3
		}
	case 'x':
		return lookupX(name)
	case 's':
		switch n {
		case 3:
			if eqFold(name, "sw8") {
				return FieldSW8
			}
		case 5:
			if eqFold(name, "sw8-x") {
				return FieldSW8X
			}
		case 12:
			if lits[FieldSentryTrace].match(name) {
				return FieldSentryTrace
			}
		case 15:
			if lits[FieldSW8Correlation].match(name) {
				return FieldSW8Correlation
			}
		}
	case 'u':
		if lits[FieldUberTraceID].match(name) {
			return FieldUberTraceID
		}
		if lits[FieldUberCtx].hasPrefix(name) {
			return FieldUberCtx
		}
	case 'o':
		switch n {
		case 16:
			if lits[FieldOTSpanID].match(name) {
				return FieldOTSpanID
			}
		case 17:
			if lits[FieldOTTraceID].match(name) {
				return FieldOTTraceID
			}
			if lits[FieldOTSampled].match(name) {
				return FieldOTSampled
			}
		}
		if lits[FieldOTBaggage].hasPrefix(name) {
			return FieldOTBaggage
		}
	case 'j':
		if lits[FieldJaegerBaggage].match(name) {
			return FieldJaegerBaggage
		}
	case 'g':
		if lits[FieldGRPCTraceBin].match(name) {
			return FieldGRPCTraceBin
		}
	}
	return FieldNone
}

// xFields lists, by length, the x-* field names of that length.
var xFields = func() (t [28][2]Field) {
	for f := FieldB3; f < NumFields; f++ {
		name := fieldNames[f]
		if name[0] == 'x' {
			if t[len(name)][0] == FieldNone {
				t[len(name)][0] = f
			} else {
				t[len(name)][1] = f
			}
		}
	}
	return t
}()

// lookupX handles the names that start with x or X, the largest group. At
// most two x-* fields share a length (x-b3-traceid and x-b3-sampled).
func lookupX(name []byte) Field {
	if len(name) >= len(xFields) {
		return FieldNone
	}
	c := &xFields[len(name)]
	if c[0] != FieldNone && lits[c[0]].match(name) {
		return c[0]
	}
	if c[1] != FieldNone && lits[c[1]].match(name) {
		return c[1]
	}
	return FieldNone
}
