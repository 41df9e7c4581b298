package formats

// B3, after github.com/openzipkin/b3-propagation:
//
//	b3: {16|32 hex}-{16 hex}[-{0|1|d}[-{16 hex}]]   or just 0, 1 or d
//	X-B3-TraceId: {16|32 hex}   X-B3-SpanId: {16 hex}
//	X-B3-ParentSpanId: {16 hex} X-B3-Sampled: 0|1   X-B3-Flags: 1

func (h *Headers) evalB3() Result {
	v := verdict{r: Result{Format: B3}}
	var single, multi traceID
	if h.has(FieldB3) {
		single = checkB3Single(&v, h.first[FieldB3])
	}
	if h.seen&(b3Fields&^(1<<FieldB3)) != 0 {
		multi = h.checkB3Multi(&v)
	}
	if single.bits != 0 && multi.bits != 0 && !sameID(&single, &multi) {
		v.fail(B3Conflicting)
	}
	if h.repeated(b3Fields) {
		v.fail(B3Duplicate)
	}
	if single.bits != 0 {
		v.setID(single)
	} else {
		v.setID(multi)
	}
	return v.done()
}

// sameID compares two right-aligned ids. A 64-bit id equals a 128-bit one
// whose high half is zero, which is how B3 pads 64-bit ids.
func sameID(a, b *traceID) bool { return a.id == b.id }

// checkB3Single judges the b3 header and returns its trace id (bits 0 when
// it has none or it did not parse).
func checkB3Single(v *verdict, s []byte) traceID {
	var t traceID
	if len(s) == 1 {
		if !b3SamplingState(s[0]) {
			v.fail(B3Malformed)
		}
		return t
	}
	var idLen int
	switch {
	case len(s) >= 33 && s[32] == '-':
		idLen = 32
	case len(s) >= 17 && s[16] == '-':
		idLen = 16
	default:
		v.fail(B3Malformed)
		return t
	}
	if !decodeHexID(s[:idLen], &t.id) {
		v.fail(B3Malformed)
		return traceID{}
	}
	t.bits = idLen * 4
	rest := s[idLen+1:]
	spanZero, ok := hexSpan(prefix(rest, 16), 16)
	if !ok {
		v.fail(B3Malformed)
		return t
	}
	rest = rest[16:]
	// Optional "-{sampling}" then "-{parent}"; a parent needs a sampling state.
	if len(rest) > 0 {
		if len(rest) < 2 || rest[0] != '-' || !b3SamplingState(rest[1]) {
			v.fail(B3Malformed)
			return t
		}
		rest = rest[2:]
		if len(rest) > 0 {
			parentZero, ok := hexSpan(rest[min(1, len(rest)):], 16)
			if rest[0] != '-' || !ok || parentZero {
				v.fail(B3Malformed)
				return t
			}
		}
	}
	if t.zero() {
		v.fail(B3TraceIDZero)
	}
	if spanZero {
		v.fail(B3SpanIDZero)
	}
	return t
}

func b3SamplingState(c byte) bool { return c == '0' || c == '1' || c == 'd' }

// prefix returns at most the first n bytes of s.
func prefix(s []byte, n int) []byte {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// checkB3Multi judges the X-B3-* headers and returns the trace id.
func (h *Headers) checkB3Multi(v *verdict) traceID {
	var t traceID
	hasTrace, hasSpan := h.has(FieldB3TraceID), h.has(FieldB3SpanID)
	traceZero, spanZero := false, false
	if hasTrace {
		s := h.first[FieldB3TraceID]
		if (len(s) == 16 || len(s) == 32) && decodeHexID(s, &t.id) {
			t.bits = len(s) * 4
			traceZero = t.zero()
		} else {
			t = traceID{}
			v.fail(B3Malformed)
		}
	}
	if hasSpan {
		zero, ok := hexSpan(h.first[FieldB3SpanID], 16)
		if !ok {
			v.fail(B3Malformed)
		}
		spanZero = zero
	}
	if h.has(FieldB3ParentSpanID) {
		zero, ok := hexSpan(h.first[FieldB3ParentSpanID], 16)
		if !ok || zero {
			v.fail(B3Malformed)
		}
	}
	if h.has(FieldB3Sampled) {
		s := h.first[FieldB3Sampled]
		if !(len(s) == 1 && (s[0] == '0' || s[0] == '1')) && !eqFold(s, "true") && !eqFold(s, "false") {
			v.fail(B3Malformed)
		}
	}
	if h.has(FieldB3Flags) {
		s := h.first[FieldB3Flags]
		if len(s) != 1 || (s[0] != '0' && s[0] != '1') {
			v.fail(B3Malformed)
		}
	}
	switch {
	case !hasTrace && (hasSpan || h.has(FieldB3ParentSpanID)):
		v.fail(B3MissingTraceID)
	case hasTrace && !hasSpan:
		v.fail(B3MissingSpanID)
	}
	if traceZero {
		v.fail(B3TraceIDZero)
	}
	if spanZero {
		v.fail(B3SpanIDZero)
	}
	return t
}
