// Package w3c judges the W3C propagation headers: traceparent and tracestate
// (W3C Trace Context Level 2) and baggage (W3C Baggage).
//
// The bytes come from arbitrary programs, so every function here accepts any
// input: it never panics, runs in time linear in the input, and does not
// allocate on the paths a well-formed request takes. Results carry defect
// codes, counts and sub-slices of the caller's own input; no input byte is
// ever copied into an error, a code or a log line by this package.
package w3c
