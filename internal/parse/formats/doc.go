// Package formats recognises the trace-context propagation formats other than
// W3C traceparent/tracestate/baggage in HTTP request header fields, judges
// their syntax, and extracts their trace ids so that a caller can flag a
// request whose traceparent and, say, B3 trace ids disagree.
//
// It is on the hot path: Lookup runs for every header of every observed
// request, so it switches on the first byte and the length before it compares
// anything, and neither Lookup, Headers.Add nor Headers.Evaluate allocates.
// Every function accepts any bytes, never panics and runs in time linear in
// its input. Results carry codes, flags and ids; no input byte ever reaches an
// error, a code or a log line.
//
// # Decisions where the specifications are silent or disagree
//
//   - Hex ids must be lowercase in every format. The B3 spec says so, as do
//     the Sentry JS and Python SDKs' patterns (Java and PHP match without
//     case); the OpenTelemetry propagators for Jaeger, X-Ray, OT and Cloud
//     Trace decode with a lowercase-only decoder and drop anything else, so
//     an uppercase id breaks interop with them even where the native client
//     (jaeger-client, basictracer) would accept it.
//   - Lookup matches uberctx-* and ot-baggage-* only with a non-empty key
//     after the prefix.
//   - An empty value of a context header is malformed, not absent: the
//     header was sent, and most receivers drop it.
//   - Baggage-only headers (uberctx-*, jaeger-baggage, ot-baggage-*,
//     sw8-correlation) and the SkyWalking extension header sw8-x do not make
//     their format present: without a context header there is no context to
//     judge, and the caller scans the baggage for PII on its own.
//   - A repeated single-valued context header is reported as
//     "<format>.duplicate" only after the first value has been judged, so a
//     malformed first value is the defect that is reported.
//   - TraceID is filled whenever the trace id itself parsed and is not zero,
//     even if another defect makes the Result invalid: a caller comparing ids
//     across formats should check Valid first.
//   - B3: a single header and multiple headers may both be present; the
//     single header's defects come first, then the multiple headers', then
//     b3.conflicting when both carry trace ids that differ. The trace id
//     reported is the single header's when it has one (the spec gives it
//     precedence), else the multiple headers'. X-B3-Sampled accepts the
//     legacy true/false (any case) as the spec allows; X-B3-Flags accepts
//     0 and 1. An all-zero parent span id is b3.malformed (OpenTelemetry
//     rejects the whole context for it).
//   - Jaeger: ids may drop leading zeros (1-32 and 1-16 hex digits); the
//     parent may be "0"; flags are accepted as up to two hex digits (the
//     documented form) or a decimal number up to 255 (what jaeger-client-go
//     parses). The separator may be ':' or its URL encoding "%3A"/"%3a",
//     mixed freely; any other '%' is malformed.
//   - X-Ray: keys are case-sensitive (Root, Parent, Sampled, as the AWS SDKs
//     match them); a part without '=' or a repeated known key is malformed;
//     empty parts (a trailing ';') and unknown keys such as Self and Lineage
//     are accepted without checking their values. Parent is optional.
//   - Datadog: ids are unsigned decimal (the signed form legacy Java tracers
//     sent is malformed); the sampling priority is any integer, as the
//     Datadog tracers parse it (up to 18 digits); x-datadog-origin is not
//     checked, nor is the tracers' 512-byte limit on x-datadog-tags. A missing
//     or zero parent id is accepted when the origin is exactly "synthetics",
//     as dd-trace-go does. A malformed x-datadog-tags list, or a _dd.p.tid
//     that is not 16 lowercase hex digits, is datadog.tags_malformed: the
//     tracers drop the tags and keep the 64-bit context, so it is a separate
//     code from datadog.malformed.
//   - grpc-trace-bin: the trace id field is required (OpenCensus Go rejects
//     a context without it) and so is the span id field (without it there is
//     no parent to continue from); the options field and unknown trailing
//     fields are optional. Only the first 29 decoded bytes are kept; the
//     rest of the value is still checked to be base64.
//   - Cloud Trace: o= must be 0 or 1 as documented, although the Google
//     propagator's pattern takes any digit.
//   - sw8: values of 2048 bytes or more are sw8.too_long (the protocol says
//     "less than 2k"); the parent span id must fit a Java int. sw8-x is
//     checked only when sw8 is present.
//   - OT: a lone ot-tracer-sampled is ot.missing_trace_id (unlike B3, the OT
//     format has no sampling-only context).
//   - Sentry: sentry-trace needs both ids (as the Java SDK does); an all-zero
//     id is reported although the Sentry SDKs do not check it.
package formats
