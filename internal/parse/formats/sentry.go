package formats

// Sentry, after the Sentry SDKs (SentryTraceHeader in sentry-java):
//
//	sentry-trace: {32 hex}-{16 hex}[-{0|1}]

func (h *Headers) evalSentry() Result {
	v := verdict{r: Result{Format: Sentry}}
	t := checkSentry(&v, h.first[FieldSentryTrace])
	if h.repeated(sentryFields) {
		v.fail(SentryDuplicate)
	}
	v.setID(t)
	return v.done()
}

func checkSentry(v *verdict, s []byte) traceID {
	var t traceID
	if len(s) < 49 || s[32] != '-' || !decodeHexID(s[:32], &t.id) {
		v.fail(SentryMalformed)
		return traceID{}
	}
	t.bits = 128
	spanZero, ok := hexSpan(s[33:49], 16)
	if !ok {
		v.fail(SentryMalformed)
		return t
	}
	if rest := s[49:]; len(rest) != 0 && !(len(rest) == 2 && rest[0] == '-' && (rest[1] == '0' || rest[1] == '1')) {
		v.fail(SentryMalformed)
		return t
	}
	if t.zero() {
		v.fail(SentryTraceIDZero)
	}
	if spanZero {
		v.fail(SentrySpanIDZero)
	}
	return t
}
