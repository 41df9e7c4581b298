package formats

// Google Cloud Trace, after the Cloud Trace documentation ("force-trace")
// and the GoogleCloudPlatform OpenTelemetry propagator:
//
//	X-Cloud-Trace-Context: {32 hex}/{decimal 64-bit span id}[;o={0|1}]

func (h *Headers) evalGCP() Result {
	v := verdict{r: Result{Format: CloudTrace}}
	t := checkGCP(&v, h.first[FieldCloudTrace])
	if h.repeated(gcpFields) {
		v.fail(GCPDuplicate)
	}
	v.setID(t)
	return v.done()
}

func checkGCP(v *verdict, s []byte) traceID {
	var t traceID
	if len(s) < 33 || s[32] != '/' || !decodeHexID(s[:32], &t.id) {
		v.fail(GCPMalformed)
		return traceID{}
	}
	t.bits = 128
	span, opts, hasOpts := cut(s[33:], ';')
	spanID, ok := parseUint64(span)
	if !ok || len(span) > 20 {
		v.fail(GCPMalformed)
		return t
	}
	if hasOpts && !(len(opts) == 3 && opts[0] == 'o' && opts[1] == '=' && (opts[2] == '0' || opts[2] == '1')) {
		v.fail(GCPMalformed)
		return t
	}
	if t.zero() {
		v.fail(GCPTraceIDZero)
	}
	if spanID == 0 {
		v.fail(GCPSpanIDZero)
	}
	return t
}
