package formats

// AWS X-Ray, after the X-Ray developer guide ("Tracing header"):
//
//	X-Amzn-Trace-Id: Root=1-{8 hex}-{24 hex};Parent={16 hex};Sampled={0|1|?}
//
// in any order, with optional Self=, Lineage= and other keys. Root is
// required; Parent is absent on the first hop.

func (h *Headers) evalXRay() Result {
	v := verdict{r: Result{Format: XRay}}
	t := checkXRay(&v, h.first[FieldXRay])
	if h.repeated(xrayFields) {
		v.fail(XRayDuplicate)
	}
	v.setID(t)
	return v.done()
}

func checkXRay(v *verdict, s []byte) traceID {
	var t traceID
	var haveRoot, haveParent, haveSampled, parentZero bool
	if len(trimOWS(s)) == 0 {
		v.fail(XRayMalformed)
		return t
	}
	for rest, more := s, true; more; {
		var part []byte
		part, rest, more = cut(rest, ';')
		part = trimOWS(part)
		if len(part) == 0 {
			continue
		}
		key, val, ok := cut(part, '=')
		if !ok {
			v.fail(XRayMalformed)
			return t
		}
		switch string(key) { // the conversion does not allocate in a switch
		case "Root":
			if haveRoot || !xrayRoot(val, &t) {
				v.fail(XRayMalformed)
				return traceID{}
			}
			haveRoot = true
		case "Parent":
			zero, ok := hexSpan(val, 16)
			if haveParent || !ok {
				v.fail(XRayMalformed)
				return t
			}
			haveParent, parentZero = true, zero
		case "Sampled":
			if haveSampled || len(val) != 1 || (val[0] != '0' && val[0] != '1' && val[0] != '?') {
				v.fail(XRayMalformed)
				return t
			}
			haveSampled = true
		}
	}
	switch {
	case !haveRoot:
		v.fail(XRayMissingRoot)
	case t.zero():
		v.fail(XRayTraceIDZero)
	}
	if parentZero {
		v.fail(XRayParentIDZero)
	}
	return t
}

// xrayRoot parses "1-{8 hex}-{24 hex}" into the 128-bit id the OpenTelemetry
// X-Ray propagator derives from it: the two hex parts concatenated.
func xrayRoot(s []byte, t *traceID) bool {
	if len(s) != 35 || s[0] != '1' || s[1] != '-' || s[10] != '-' {
		return false
	}
	if !decodeHex(t.id[:4], s[2:10]) || !decodeHex(t.id[4:], s[11:]) {
		return false
	}
	t.bits = 128
	return true
}
