package formats

// grpc-trace-bin, after the OpenCensus binary format
// (census-instrumentation/opencensus-specs, encodings/BinaryEncoding.md):
// base64 (standard alphabet, padding optional, as for every gRPC -bin
// header) of
//
//	version 0 | 0 {16-byte trace id} | 1 {8-byte span id} | 2 {1-byte options}
//
// Fields come in that order; decoding stops at the end of input or at the
// first unknown field id, which is not an error.

// grpcFullLen is the length of a context with all three fields.
const grpcFullLen = 1 + 1 + 16 + 1 + 8 + 1 + 1

func (h *Headers) evalGRPC() Result {
	v := verdict{r: Result{Format: GRPC}}
	t := checkGRPC(&v, h.first[FieldGRPCTraceBin])
	if h.repeated(grpcFields) {
		v.fail(GRPCDuplicate)
	}
	v.setID(t)
	return v.done()
}

func checkGRPC(v *verdict, s []byte) traceID {
	var t traceID
	body, ok := base64Body(s)
	if !ok {
		v.fail(GRPCMalformed)
		return t
	}
	// Decode only what the known fields need; the rest was checked above.
	var buf [grpcFullLen]byte
	n := decodeBase64Prefix(s[:body], buf[:])
	b := buf[:n]
	if len(b) == 0 || b[0] != 0 {
		v.fail(GRPCMalformed)
		return t
	}
	b = b[1:]
	if len(b) == 0 || b[0] != 0 {
		v.fail(GRPCMissingTraceID)
		return t
	}
	if len(b) < 17 {
		v.fail(GRPCMalformed)
		return t
	}
	copy(t.id[:], b[1:17])
	t.bits = 128
	b = b[17:]
	if len(b) == 0 || b[0] != 1 {
		v.fail(GRPCMissingSpanID)
		return t
	}
	if len(b) < 9 {
		v.fail(GRPCMalformed)
		return t
	}
	spanZero := [8]byte(b[1:9]) == [8]byte{}
	b = b[9:]
	if len(b) > 0 && b[0] == 2 && len(b) < 2 {
		v.fail(GRPCMalformed)
		return t
	}
	if t.zero() {
		v.fail(GRPCTraceIDZero)
	}
	if spanZero {
		v.fail(GRPCSpanIDZero)
	}
	return t
}
