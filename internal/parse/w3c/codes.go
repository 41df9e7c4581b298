package w3c

import "github.com/propwatch/propwatch/internal/parse/reason"

// traceparent defects. ParseTraceParent returns at most one of them: the
// first found, scanning the value left to right.
const (
	// TraceParentEmpty: the value is empty after trimming SP/HTAB.
	TraceParentEmpty reason.Code = "traceparent.empty"
	// TraceParentBadLength: a field is too long or too short, or the whole
	// value is shorter than the 55 characters every version needs (or, for
	// version 00, not exactly 55).
	TraceParentBadLength reason.Code = "traceparent.bad_length"
	// TraceParentBadDelimiter: a field is followed by a character that is
	// neither '-' nor hex where a '-' must be.
	TraceParentBadDelimiter reason.Code = "traceparent.bad_delimiter"
	// TraceParentUppercaseHex: a field holds A-F; the grammar is HEXDIGLC.
	TraceParentUppercaseHex reason.Code = "traceparent.uppercase_hex"
	// TraceParentBadHex: a field holds a character that is not hex at all.
	TraceParentBadHex reason.Code = "traceparent.bad_hex"
	// TraceParentVersionFF: version 255 is forbidden.
	TraceParentVersionFF reason.Code = "traceparent.version_ff"
	// TraceParentTraceIDZero: the trace-id is all zeros.
	TraceParentTraceIDZero reason.Code = "traceparent.trace_id_zero"
	// TraceParentParentIDZero: the parent-id is all zeros.
	TraceParentParentIDZero reason.Code = "traceparent.parent_id_zero"
	// TraceParentTrailingData: a version 00 value continues after the flags.
	TraceParentTrailingData reason.Code = "traceparent.trailing_data"
	// TraceParentDuplicate: a request carries more than one traceparent
	// header; the test suite expects the trace to restart. The caller, who
	// sees the headers, reports it; ParseTraceParent never returns it.
	TraceParentDuplicate reason.Code = "traceparent.duplicate"
	// TraceParentReservedFlags: flag bits other than sampled and
	// random-trace-id are set. Senders MUST zero them but receivers ignore
	// them, so the value stays valid: ParseTraceParent never returns this
	// code; a caller that wants to warn uses TraceParent.ReservedFlags.
	TraceParentReservedFlags reason.Code = "traceparent.reserved_flags"
)

// tracestate defects. CheckTraceState reports each at most once per request.
const (
	// TraceStateTooManyMembers: more than 32 non-empty list members.
	TraceStateTooManyMembers reason.Code = "tracestate.too_many_members"
	// TraceStateInvalidKey: a key is empty, starts with something other than
	// a-z or 0-9, or holds a character outside a-z 0-9 _ - * / @.
	TraceStateInvalidKey reason.Code = "tracestate.invalid_key"
	// TraceStateKeyTooLong: a key is well-formed but longer than 256 characters.
	TraceStateKeyTooLong reason.Code = "tracestate.key_too_long"
	// TraceStateInvalidValue: a value is empty or holds a character outside
	// 0x20-0x7E or an '='.
	TraceStateInvalidValue reason.Code = "tracestate.invalid_value"
	// TraceStateValueTooLong: a value is longer than 256 characters.
	TraceStateValueTooLong reason.Code = "tracestate.value_too_long"
	// TraceStateDuplicateKey: two list members share a key.
	TraceStateDuplicateKey reason.Code = "tracestate.duplicate_key"
	// TraceStateInvalidMember: a non-empty list member has no '='.
	TraceStateInvalidMember reason.Code = "tracestate.invalid_member"
)

// baggage defects. A member carries at most one (the first found); the
// limit defects describe the combined list.
const (
	// BaggageEmptyMember: nothing but OWS between two commas, before the
	// first or after the last one, or an empty header value.
	BaggageEmptyMember reason.Code = "baggage.empty_member"
	// BaggageInvalidKey: a member key is empty or not an RFC 7230 token.
	BaggageInvalidKey reason.Code = "baggage.invalid_key"
	// BaggageMissingEquals: a member has no '=' before its properties.
	BaggageMissingEquals reason.Code = "baggage.missing_equals"
	// BaggageInvalidValue: a member value holds a character outside
	// baggage-octet (CTL, space, DQUOTE, comma, semicolon, backslash, non-ASCII).
	BaggageInvalidValue reason.Code = "baggage.invalid_value"
	// BaggageBadPercentEncoding: a '%' in a member or property value does not
	// start a %XX escape.
	BaggageBadPercentEncoding reason.Code = "baggage.bad_percent_encoding"
	// BaggageInvalidProperty: a property is empty, has a key that is not a
	// token, or a value outside baggage-octet.
	BaggageInvalidProperty reason.Code = "baggage.invalid_property"
	// BaggageOversizedBytes: the combined list exceeds BaggageLimits.MaxBytes.
	BaggageOversizedBytes reason.Code = "baggage.oversized_bytes"
	// BaggageOversizedMembers: the combined list has more members than
	// BaggageLimits.MaxMembers.
	BaggageOversizedMembers reason.Code = "baggage.oversized_members"
)

// codes lists every code the package declares, in declaration order.
var codes = [...]reason.Code{
	TraceParentEmpty, TraceParentBadLength, TraceParentBadDelimiter,
	TraceParentUppercaseHex, TraceParentBadHex, TraceParentVersionFF,
	TraceParentTraceIDZero, TraceParentParentIDZero, TraceParentTrailingData,
	TraceParentDuplicate, TraceParentReservedFlags,
	TraceStateTooManyMembers, TraceStateInvalidKey, TraceStateKeyTooLong,
	TraceStateInvalidValue, TraceStateValueTooLong, TraceStateDuplicateKey,
	TraceStateInvalidMember,
	BaggageEmptyMember, BaggageInvalidKey, BaggageMissingEquals,
	BaggageInvalidValue, BaggageBadPercentEncoding, BaggageInvalidProperty,
	BaggageOversizedBytes, BaggageOversizedMembers,
}

// Codes returns every defect code this package can produce, so that a
// caller can pre-register metric labels or check an output against the
// contract. The slice is a fresh copy.
func Codes() []reason.Code {
	out := make([]reason.Code, len(codes))
	copy(out, codes[:])
	return out
}
