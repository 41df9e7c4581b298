package formats

// Jaeger, after the Jaeger client documentation and jaeger-client-go:
//
//	uber-trace-id: {trace-id}:{span-id}:{parent-span-id}:{flags}
//
// trace-id is 1-32 hex digits, span-id and parent-span-id 1-16 (leading
// zeros may be dropped; the deprecated parent is usually "0"); flags is one
// byte. HTTP clients may URL-encode the value, turning ':' into "%3A".

func (h *Headers) evalJaeger() Result {
	v := verdict{r: Result{Format: Jaeger}}
	t, spanZero := checkJaeger(&v, h.first[FieldUberTraceID])
	if t.bits != 0 && t.zero() {
		v.fail(JaegerTraceIDZero)
	}
	if spanZero {
		v.fail(JaegerSpanIDZero)
	}
	if h.repeated(jaegerFields) {
		v.fail(JaegerDuplicate)
	}
	v.setID(t)
	return v.done()
}

// checkJaeger splits the value into its four fields and checks each,
// returning the trace id (bits 0 when it did not parse) and whether the span
// id is zero.
func checkJaeger(v *verdict, s []byte) (t traceID, spanZero bool) {
	var parts [4][]byte
	n, start := 0, 0
	for i := 0; i < len(s); {
		w := 0
		switch {
		case s[i] == ':':
			w = 1
		case s[i] == '%':
			if i+2 < len(s) && s[i+1] == '3' && (s[i+2] == 'A' || s[i+2] == 'a') {
				w = 3
			} else {
				v.fail(JaegerMalformed)
				return t, false
			}
		default:
			i++
			continue
		}
		if n == 3 {
			v.fail(JaegerMalformed)
			return t, false
		}
		parts[n] = s[start:i]
		n++
		i += w
		start = i
	}
	if n != 3 {
		v.fail(JaegerMalformed)
		return t, false
	}
	parts[3] = s[start:]

	if !decodeHexID(parts[0], &t.id) {
		v.fail(JaegerMalformed)
		return traceID{}, false
	}
	t.bits = 64
	if len(parts[0]) > 16 {
		t.bits = 128
	}
	if !isLowerHex(parts[1], 16) || !isLowerHex(parts[2], 16) || !jaegerFlags(parts[3]) {
		v.fail(JaegerMalformed)
		return t, false
	}
	return t, allZeroDigits(parts[1])
}

// jaegerFlags accepts one or two hex digits (the documented form) or a
// decimal number up to 255 (what jaeger-client-go parses).
func jaegerFlags(s []byte) bool {
	if isLowerHex(s, 2) {
		return true
	}
	if !isDecimal(s, 3) {
		return false
	}
	n, _ := parseUint64(s)
	return n <= 255
}
