package formats

import "github.com/propwatch/propwatch/internal/parse/reason"

// Defect codes. A Result carries at most one, the first found: header by
// header in the order of the Field constants (for B3 the single header
// before the multiple headers), syntax defects and then missing or zero ids,
// then b3.conflicting, and "<format>.duplicate" last.
//
// The codes, by format:
//
//	b3.malformed b3.trace_id_zero b3.span_id_zero b3.missing_trace_id
//	b3.missing_span_id b3.conflicting b3.duplicate
//	jaeger.malformed jaeger.trace_id_zero jaeger.span_id_zero jaeger.duplicate
//	xray.malformed xray.missing_root xray.trace_id_zero xray.parent_id_zero
//	xray.duplicate
//	datadog.malformed datadog.tags_malformed datadog.missing_trace_id
//	datadog.missing_parent_id datadog.trace_id_zero datadog.parent_id_zero
//	datadog.duplicate
//	grpc.malformed grpc.missing_trace_id grpc.missing_span_id
//	grpc.trace_id_zero grpc.span_id_zero grpc.duplicate
//	gcp.malformed gcp.trace_id_zero gcp.span_id_zero gcp.duplicate
//	sw8.malformed sw8.too_long sw8.duplicate
//	ot.malformed ot.missing_trace_id ot.missing_span_id ot.trace_id_zero
//	ot.span_id_zero ot.duplicate
//	sentry.malformed sentry.trace_id_zero sentry.span_id_zero sentry.duplicate
const (
	// B3Malformed: a b3 or X-B3-* value breaks the B3 grammar (wrong length,
	// non-lowercase-hex id, bad sampling state, all-zero parent span id, empty).
	B3Malformed reason.Code = "b3.malformed"
	// B3TraceIDZero: the trace id is all zeros.
	B3TraceIDZero reason.Code = "b3.trace_id_zero"
	// B3SpanIDZero: the span id is all zeros.
	B3SpanIDZero reason.Code = "b3.span_id_zero"
	// B3MissingTraceID: X-B3-SpanId or X-B3-ParentSpanId without X-B3-TraceId.
	B3MissingTraceID reason.Code = "b3.missing_trace_id"
	// B3MissingSpanID: X-B3-TraceId without X-B3-SpanId.
	B3MissingSpanID reason.Code = "b3.missing_span_id"
	// B3Conflicting: the b3 header and X-B3-TraceId carry different trace ids.
	B3Conflicting reason.Code = "b3.conflicting"
	// B3Duplicate: a B3 header appears more than once.
	B3Duplicate reason.Code = "b3.duplicate"

	// JaegerMalformed: uber-trace-id is not {trace}:{span}:{parent}:{flags}
	// with lowercase-hex ids of the allowed lengths and valid flags.
	JaegerMalformed reason.Code = "jaeger.malformed"
	// JaegerTraceIDZero: the trace id is zero.
	JaegerTraceIDZero reason.Code = "jaeger.trace_id_zero"
	// JaegerSpanIDZero: the span id is zero.
	JaegerSpanIDZero reason.Code = "jaeger.span_id_zero"
	// JaegerDuplicate: uber-trace-id appears more than once.
	JaegerDuplicate reason.Code = "jaeger.duplicate"

	// XRayMalformed: X-Amzn-Trace-Id has a part without '=', a repeated
	// known key, or a Root, Parent or Sampled value outside its grammar.
	XRayMalformed reason.Code = "xray.malformed"
	// XRayMissingRoot: X-Amzn-Trace-Id has no Root.
	XRayMissingRoot reason.Code = "xray.missing_root"
	// XRayTraceIDZero: both hex parts of Root are zero.
	XRayTraceIDZero reason.Code = "xray.trace_id_zero"
	// XRayParentIDZero: Parent is all zeros.
	XRayParentIDZero reason.Code = "xray.parent_id_zero"
	// XRayDuplicate: X-Amzn-Trace-Id appears more than once.
	XRayDuplicate reason.Code = "xray.duplicate"

	// DatadogMalformed: an id is not an unsigned decimal 64-bit number, or
	// the sampling priority is not an integer.
	DatadogMalformed reason.Code = "datadog.malformed"
	// DatadogTagsMalformed: x-datadog-tags is not a k=v,k=v list, or its
	// _dd.p.tid is not 16 lowercase hex digits. Tracers drop the tags but
	// keep the 64-bit context.
	DatadogTagsMalformed reason.Code = "datadog.tags_malformed"
	// DatadogMissingTraceID: Datadog headers without x-datadog-trace-id.
	DatadogMissingTraceID reason.Code = "datadog.missing_trace_id"
	// DatadogMissingParentID: no x-datadog-parent-id, outside synthetics.
	DatadogMissingParentID reason.Code = "datadog.missing_parent_id"
	// DatadogTraceIDZero: x-datadog-trace-id is 0.
	DatadogTraceIDZero reason.Code = "datadog.trace_id_zero"
	// DatadogParentIDZero: x-datadog-parent-id is 0, outside synthetics.
	DatadogParentIDZero reason.Code = "datadog.parent_id_zero"
	// DatadogDuplicate: an x-datadog-* header appears more than once.
	DatadogDuplicate reason.Code = "datadog.duplicate"

	// GRPCMalformed: grpc-trace-bin is not base64, its version is not 0, or
	// a known field is truncated.
	GRPCMalformed reason.Code = "grpc.malformed"
	// GRPCMissingTraceID: the binary context does not start with a trace id.
	GRPCMissingTraceID reason.Code = "grpc.missing_trace_id"
	// GRPCMissingSpanID: the trace id is not followed by a span id.
	GRPCMissingSpanID reason.Code = "grpc.missing_span_id"
	// GRPCTraceIDZero: the trace id is all zeros.
	GRPCTraceIDZero reason.Code = "grpc.trace_id_zero"
	// GRPCSpanIDZero: the span id is all zeros.
	GRPCSpanIDZero reason.Code = "grpc.span_id_zero"
	// GRPCDuplicate: grpc-trace-bin appears more than once.
	GRPCDuplicate reason.Code = "grpc.duplicate"

	// GCPMalformed: X-Cloud-Trace-Context is not {32 hex}/{decimal}[;o=0|1].
	GCPMalformed reason.Code = "gcp.malformed"
	// GCPTraceIDZero: the trace id is all zeros.
	GCPTraceIDZero reason.Code = "gcp.trace_id_zero"
	// GCPSpanIDZero: the span id is 0.
	GCPSpanIDZero reason.Code = "gcp.span_id_zero"
	// GCPDuplicate: X-Cloud-Trace-Context appears more than once.
	GCPDuplicate reason.Code = "gcp.duplicate"

	// SW8Malformed: sw8 does not have 8 '-'-separated fields with a 0/1
	// sample flag, non-empty base64 strings and an integer span id, or sw8-x
	// has a bad tracing mode or timestamp.
	SW8Malformed reason.Code = "sw8.malformed"
	// SW8TooLong: sw8 is 2048 bytes or longer.
	SW8TooLong reason.Code = "sw8.too_long"
	// SW8Duplicate: sw8 or sw8-x appears more than once.
	SW8Duplicate reason.Code = "sw8.duplicate"

	// OTMalformed: an ot-tracer-* value breaks its grammar.
	OTMalformed reason.Code = "ot.malformed"
	// OTMissingTraceID: ot-tracer-* headers without ot-tracer-traceid.
	OTMissingTraceID reason.Code = "ot.missing_trace_id"
	// OTMissingSpanID: ot-tracer-traceid without ot-tracer-spanid.
	OTMissingSpanID reason.Code = "ot.missing_span_id"
	// OTTraceIDZero: the trace id is all zeros.
	OTTraceIDZero reason.Code = "ot.trace_id_zero"
	// OTSpanIDZero: the span id is all zeros.
	OTSpanIDZero reason.Code = "ot.span_id_zero"
	// OTDuplicate: an ot-tracer-* header appears more than once.
	OTDuplicate reason.Code = "ot.duplicate"

	// SentryMalformed: sentry-trace is not {32 hex}-{16 hex}[-0|1].
	SentryMalformed reason.Code = "sentry.malformed"
	// SentryTraceIDZero: the trace id is all zeros.
	SentryTraceIDZero reason.Code = "sentry.trace_id_zero"
	// SentrySpanIDZero: the span id is all zeros.
	SentrySpanIDZero reason.Code = "sentry.span_id_zero"
	// SentryDuplicate: sentry-trace appears more than once.
	SentryDuplicate reason.Code = "sentry.duplicate"
)

var allCodes = [...]reason.Code{
	B3Malformed, B3TraceIDZero, B3SpanIDZero, B3MissingTraceID, B3MissingSpanID, B3Conflicting, B3Duplicate,
	JaegerMalformed, JaegerTraceIDZero, JaegerSpanIDZero, JaegerDuplicate,
	XRayMalformed, XRayMissingRoot, XRayTraceIDZero, XRayParentIDZero, XRayDuplicate,
	DatadogMalformed, DatadogTagsMalformed, DatadogMissingTraceID, DatadogMissingParentID,
	DatadogTraceIDZero, DatadogParentIDZero, DatadogDuplicate,
	GRPCMalformed, GRPCMissingTraceID, GRPCMissingSpanID, GRPCTraceIDZero, GRPCSpanIDZero, GRPCDuplicate,
	GCPMalformed, GCPTraceIDZero, GCPSpanIDZero, GCPDuplicate,
	SW8Malformed, SW8TooLong, SW8Duplicate,
	OTMalformed, OTMissingTraceID, OTMissingSpanID, OTTraceIDZero, OTSpanIDZero, OTDuplicate,
	SentryMalformed, SentryTraceIDZero, SentrySpanIDZero, SentryDuplicate,
}

// Codes returns every defect code this package can report, in declaration
// order, in a new slice: for registering metric labels or documentation.
func Codes() []reason.Code {
	out := make([]reason.Code, len(allCodes))
	copy(out, allCodes[:])
	return out
}
