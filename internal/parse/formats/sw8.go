package formats

// Apache SkyWalking, after the Cross Process Propagation Headers Protocol v3:
//
//	sw8: {sample}-{trace id}-{parent segment id}-{parent span id}-
//	     {parent service}-{parent instance}-{parent endpoint}-{target address}
//
// sample is 0 or 1, the parent span id an integer from 0, every other field
// a base64 string; the value must be shorter than 2 KiB. SkyWalking trace ids
// are opaque strings, not comparable with the other formats' ids.
//
//	sw8-x: {tracing mode: empty, 0 or 1}[-{timestamp}[-...]]

const sw8MaxLen = 2048

func (h *Headers) evalSW8() Result {
	v := verdict{r: Result{Format: SkyWalking}}
	checkSW8(&v, h.first[FieldSW8])
	if h.has(FieldSW8X) {
		checkSW8X(&v, h.first[FieldSW8X])
	}
	if h.repeated(sw8AllFields) {
		v.fail(SW8Duplicate)
	}
	return v.done()
}

func checkSW8(v *verdict, s []byte) {
	if len(s) >= sw8MaxLen {
		v.fail(SW8TooLong)
		return
	}
	rest := s
	for i := range 8 {
		var f []byte
		var more bool
		f, rest, more = cut(rest, '-')
		if more != (i < 7) || !sw8Field(i, f) {
			v.fail(SW8Malformed)
			return
		}
	}
}

// sw8Field checks field i (0-based) of an sw8 value.
func sw8Field(i int, f []byte) bool {
	switch i {
	case 0:
		return len(f) == 1 && (f[0] == '0' || f[0] == '1')
	case 3:
		n, ok := parseUint64(f)
		return ok && n <= 1<<31-1
	default:
		_, ok := base64Body(f)
		return ok
	}
}

// checkSW8X checks the two fields the protocol defines and lets later
// fields through, as the header is meant to be extended.
func checkSW8X(v *verdict, s []byte) {
	mode, rest, more := cut(s, '-')
	if len(mode) > 1 || (len(mode) == 1 && mode[0] != '0' && mode[0] != '1') {
		v.fail(SW8Malformed)
		return
	}
	if !more {
		return
	}
	ts, _, _ := cut(rest, '-')
	if len(ts) > 0 && !isDecimal(ts, 19) {
		v.fail(SW8Malformed)
	}
}
