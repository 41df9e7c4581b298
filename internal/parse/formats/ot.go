package formats

// OpenTracing basictracer, after the OpenTelemetry OT propagator:
//
//	ot-tracer-traceid: {16|32 hex}  ot-tracer-spanid: {16 hex}
//	ot-tracer-sampled: true|false|1|0

func (h *Headers) evalOT() Result {
	v := verdict{r: Result{Format: OpenTracing}}
	var t traceID
	hasTrace, hasSpan := h.has(FieldOTTraceID), h.has(FieldOTSpanID)
	spanZero := false
	if hasTrace {
		s := h.first[FieldOTTraceID]
		if (len(s) == 16 || len(s) == 32) && decodeHexID(s, &t.id) {
			t.bits = len(s) * 4
		} else {
			t = traceID{}
			v.fail(OTMalformed)
		}
	}
	if hasSpan {
		zero, ok := hexSpan(h.first[FieldOTSpanID], 16)
		if !ok {
			v.fail(OTMalformed)
		}
		spanZero = zero
	}
	if h.has(FieldOTSampled) {
		s := h.first[FieldOTSampled]
		if !(len(s) == 1 && (s[0] == '0' || s[0] == '1')) && !eqFold(s, "true") && !eqFold(s, "false") {
			v.fail(OTMalformed)
		}
	}
	switch {
	case !hasTrace:
		v.fail(OTMissingTraceID)
	case !hasSpan:
		v.fail(OTMissingSpanID)
	}
	if t.bits != 0 && t.zero() {
		v.fail(OTTraceIDZero)
	}
	if spanZero {
		v.fail(OTSpanIDZero)
	}
	if h.repeated(otFields) {
		v.fail(OTDuplicate)
	}
	v.setID(t)
	return v.done()
}
