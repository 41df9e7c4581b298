package formats

// Datadog, after dd-trace-go (ddtrace/tracer/textmap.go):
//
//	x-datadog-trace-id, x-datadog-parent-id: unsigned decimal 64-bit ids
//	x-datadog-sampling-priority: an integer (-1, 0, 1, 2 in practice)
//	x-datadog-origin: a free string ("synthetics", "rum", ...)
//	x-datadog-tags: k=v,k=v; _dd.p.tid holds the high 64 bits of the trace id

func (h *Headers) evalDatadog() Result {
	v := verdict{r: Result{Format: Datadog}}
	var t traceID
	var traceVal, parentVal uint64
	traceOK, parentOK := false, false
	if h.has(FieldDDTraceID) {
		if traceVal, traceOK = parseUint64(h.first[FieldDDTraceID]); !traceOK {
			v.fail(DatadogMalformed)
		}
	}
	if h.has(FieldDDParentID) {
		if parentVal, parentOK = parseUint64(h.first[FieldDDParentID]); !parentOK {
			v.fail(DatadogMalformed)
		}
	}
	if h.has(FieldDDSamplingPriority) && !isInteger(h.first[FieldDDSamplingPriority]) {
		v.fail(DatadogMalformed)
	}
	if traceOK {
		putUint64(t.id[8:], traceVal)
		t.bits = 64
	}
	if h.has(FieldDDTags) {
		high, ok, found := datadogTID(h.first[FieldDDTags])
		if !ok {
			v.fail(DatadogTagsMalformed)
		} else if found && traceOK {
			copy(t.id[:8], high[:])
			t.bits = 128
		}
	}
	synthetics := h.has(FieldDDOrigin) && string(h.first[FieldDDOrigin]) == "synthetics"
	switch {
	case !h.has(FieldDDTraceID):
		v.fail(DatadogMissingTraceID)
	case traceOK && traceVal == 0:
		v.fail(DatadogTraceIDZero)
	}
	switch {
	case synthetics:
	case !h.has(FieldDDParentID):
		v.fail(DatadogMissingParentID)
	case parentOK && parentVal == 0:
		v.fail(DatadogParentIDZero)
	}
	if h.repeated(datadogFields) {
		v.fail(DatadogDuplicate)
	}
	if traceVal != 0 {
		v.setID(t)
	}
	return v.done()
}

func putUint64(b []byte, x uint64) {
	_ = b[7]
	for i := 7; i >= 0; i-- {
		b[i] = byte(x)
		x >>= 8
	}
}

// isInteger accepts an optional sign and 1 to 18 digits: what strconv.Atoi
// takes, without the overflow cases no tracer sends.
func isInteger(s []byte) bool {
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	return isDecimal(s, 18)
}

// datadogTID checks x-datadog-tags as dd-trace-go parses it: non-empty
// comma-separated k=v members, keys of printable ASCII without space, '='
// and ',', values of printable ASCII without ','. It returns the _dd.p.tid
// value decoded (found when present); ok is false when the list or the
// _dd.p.tid value is malformed.
func datadogTID(s []byte) (high [8]byte, ok, found bool) {
	if len(s) == 0 {
		return high, false, false
	}
	for rest, more := s, true; more; {
		var member []byte
		member, rest, more = cut(rest, ',')
		key, val, hasEq := cut(member, '=')
		if !hasEq || len(key) == 0 || len(val) == 0 {
			return high, false, false
		}
		for _, c := range key {
			if c <= ' ' || c > '~' || c == '=' {
				return high, false, false
			}
		}
		for _, c := range val {
			if c < ' ' || c > '~' {
				return high, false, false
			}
		}
		if string(key) == "_dd.p.tid" {
			var id [16]byte
			if len(val) != 16 || !decodeHexID(val, &id) {
				return high, false, false
			}
			copy(high[:], id[8:])
			found = true
		}
	}
	return high, true, found
}
