package formats

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/propwatch/propwatch/internal/parse/reason"
)

// hdr is one header line as the caller would see it.
type hdr struct{ name, value string }

// evalCase expects exactly one Result, for format, with defect ("" for
// valid) and trace id (hex, right-aligned; "" for none).
type evalCase struct {
	name   string
	hdrs   []hdr
	format Format
	defect reason.Code
	id     string
	bits   int
}

func evaluate(t *testing.T, hdrs []hdr) []Result {
	t.Helper()
	var h Headers
	for _, x := range hdrs {
		f := Lookup([]byte(x.name))
		if f == FieldNone {
			t.Fatalf("Lookup(%q) = FieldNone", x.name)
		}
		h.Add(f, []byte(x.value))
	}
	rs := h.Evaluate(nil)
	for _, r := range rs {
		checkInvariants(t, r)
	}
	return rs
}

// checkInvariants asserts what every Result must satisfy.
func checkInvariants(t testing.TB, r Result) {
	t.Helper()
	if r.Valid != (r.Defect == "") {
		t.Errorf("%v: Valid %v with defect %q", r.Format, r.Valid, r.Defect)
	}
	if r.TraceIDBits != 0 && r.TraceIDBits != 64 && r.TraceIDBits != 128 {
		t.Errorf("%v: TraceIDBits %d", r.Format, r.TraceIDBits)
	}
	if r.TraceIDBits == 0 && r.TraceID != [16]byte{} {
		t.Errorf("%v: TraceID set without bits", r.Format)
	}
	if r.TraceIDBits == 64 && [8]byte(r.TraceID[:8]) != [8]byte{} {
		t.Errorf("%v: 64-bit TraceID with high bytes", r.Format)
	}
	if r.TraceIDBits != 0 && r.TraceID == [16]byte{} {
		t.Errorf("%v: zero TraceID reported with %d bits", r.Format, r.TraceIDBits)
	}
	if r.Format.String() == "" || r.Format == W3C {
		t.Errorf("Result for format mask %d", r.Format)
	}
	if r.Defect != "" {
		known := false
		for _, c := range allCodes {
			known = known || c == r.Defect
		}
		if !known {
			t.Errorf("%v: undeclared code %q", r.Format, r.Defect)
		}
		if r.Defect.Field() != r.Format.String() {
			t.Errorf("%v: code %q belongs to another format", r.Format, r.Defect)
		}
	}
}

func wantID(t *testing.T, s string) [16]byte {
	t.Helper()
	var id [16]byte
	if s == "" {
		return id
	}
	if len(s)%2 == 1 {
		s = "0" + s
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) > 16 {
		t.Fatalf("bad test id %q", s)
	}
	copy(id[16-len(b):], b)
	return id
}

func runCases(t *testing.T, cases []evalCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs := evaluate(t, c.hdrs)
			if len(rs) != 1 {
				t.Fatalf("got %d results, want 1: %+v", len(rs), rs)
			}
			r := rs[0]
			if r.Format != c.format {
				t.Errorf("Format = %v, want %v", r.Format, c.format)
			}
			if r.Defect != c.defect {
				t.Errorf("Defect = %q, want %q", r.Defect, c.defect)
			}
			if r.TraceIDBits != c.bits {
				t.Errorf("TraceIDBits = %d, want %d", r.TraceIDBits, c.bits)
			}
			if want := wantID(t, c.id); r.TraceID != want {
				t.Errorf("TraceID = %x, want %x", r.TraceID, want)
			}
		})
	}
}

const (
	tid128 = "80f198ee56343ba864fe8b2a57d3eff7"
	tid64  = "a2fb4a1d1a96d312"
	sid    = "e457b5a2e4d86bd1"
	pid    = "05e3ac9a4f6e3b90"
	zero16 = "0000000000000000"
	zero32 = zero16 + zero16
)

func TestB3(t *testing.T) {
	one := func(name, v string) []hdr { return []hdr{{name, v}} }
	multi := func(kv ...string) []hdr {
		var hs []hdr
		for i := 0; i < len(kv); i += 2 {
			hs = append(hs, hdr{kv[i], kv[i+1]})
		}
		return hs
	}
	runCases(t, []evalCase{
		{"single full", one("b3", tid128+"-"+sid+"-1-"+pid), B3, "", tid128, 128},
		{"single 64", one("B3", tid64+"-"+sid), B3, "", tid64, 64},
		{"single debug", one("b3", tid128+"-"+sid+"-d"), B3, "", tid128, 128},
		{"single deny", one("b3", tid128+"-"+sid+"-0"), B3, "", tid128, 128},
		{"sampling only 0", one("b3", "0"), B3, "", "", 0},
		{"sampling only 1", one("b3", "1"), B3, "", "", 0},
		{"sampling only d", one("b3", "d"), B3, "", "", 0},
		{"sampling only bad", one("b3", "2"), B3, B3Malformed, "", 0},
		{"sampling only upper D", one("b3", "D"), B3, B3Malformed, "", 0},
		{"single empty", one("b3", ""), B3, B3Malformed, "", 0},
		{"single uppercase", one("b3", strings.ToUpper(tid128)+"-"+sid), B3, B3Malformed, "", 0},
		{"single trace only", one("b3", tid128), B3, B3Malformed, "", 0},
		{"single 20 hex trace", one("b3", tid128[:20]+"-"+sid), B3, B3Malformed, "", 0},
		{"single short span", one("b3", tid128+"-"+sid[:15]), B3, B3Malformed, tid128, 128},
		{"single dangling dash", one("b3", tid128+"-"+sid+"-"), B3, B3Malformed, tid128, 128},
		{"single parent without sampling", one("b3", tid128+"-"+sid+"-"+pid), B3, B3Malformed, tid128, 128},
		{"single bad sampling", one("b3", tid128+"-"+sid+"-2"), B3, B3Malformed, tid128, 128},
		{"single long parent", one("b3", tid128+"-"+sid+"-1-"+pid+"0"), B3, B3Malformed, tid128, 128},
		{"single parent no dash", one("b3", tid128+"-"+sid+"-1x"+pid), B3, B3Malformed, tid128, 128},
		{"single zero parent", one("b3", tid128+"-"+sid+"-1-"+zero16), B3, B3Malformed, tid128, 128},
		{"single zero trace", one("b3", zero32+"-"+sid), B3, B3TraceIDZero, "", 0},
		{"single zero span", one("b3", tid64+"-"+zero16+"-1"), B3, B3SpanIDZero, tid64, 64},

		{"multi full", multi("X-B3-TraceId", tid128, "X-B3-SpanId", sid, "X-B3-ParentSpanId", pid, "X-B3-Sampled", "1"), B3, "", tid128, 128},
		{"multi 64", multi("x-b3-traceid", tid64, "x-b3-spanid", sid), B3, "", tid64, 64},
		{"multi debug", multi("x-b3-traceid", tid64, "x-b3-spanid", sid, "x-b3-flags", "1"), B3, "", tid64, 64},
		{"multi sampled true", multi("x-b3-traceid", tid64, "x-b3-spanid", sid, "x-b3-sampled", "true"), B3, "", tid64, 64},
		{"multi sampled False", multi("x-b3-traceid", tid64, "x-b3-spanid", sid, "x-b3-sampled", "False"), B3, "", tid64, 64},
		{"multi sampled yes", multi("x-b3-traceid", tid64, "x-b3-spanid", sid, "x-b3-sampled", "yes"), B3, B3Malformed, tid64, 64},
		{"multi sampled empty", multi("x-b3-traceid", tid64, "x-b3-spanid", sid, "x-b3-sampled", ""), B3, B3Malformed, tid64, 64},
		{"multi flags 2", multi("x-b3-traceid", tid64, "x-b3-spanid", sid, "x-b3-flags", "2"), B3, B3Malformed, tid64, 64},
		{"multi sampled only", multi("x-b3-sampled", "0"), B3, "", "", 0},
		{"multi flags only", multi("x-b3-flags", "1"), B3, "", "", 0},
		{"multi trace only", multi("x-b3-traceid", tid128), B3, B3MissingSpanID, tid128, 128},
		{"multi span only", multi("x-b3-spanid", sid), B3, B3MissingTraceID, "", 0},
		{"multi parent only", multi("x-b3-parentspanid", pid, "x-b3-sampled", "1"), B3, B3MissingTraceID, "", 0},
		{"multi trace 20 hex", multi("x-b3-traceid", tid128[:20], "x-b3-spanid", sid), B3, B3Malformed, "", 0},
		{"multi trace uppercase", multi("x-b3-traceid", strings.ToUpper(tid64), "x-b3-spanid", sid), B3, B3Malformed, "", 0},
		{"multi span bad", multi("x-b3-traceid", tid64, "x-b3-spanid", "xyz"), B3, B3Malformed, tid64, 64},
		{"multi parent zero", multi("x-b3-traceid", tid64, "x-b3-spanid", sid, "x-b3-parentspanid", zero16), B3, B3Malformed, tid64, 64},
		{"multi trace zero", multi("x-b3-traceid", zero16, "x-b3-spanid", sid), B3, B3TraceIDZero, "", 0},
		{"multi span zero", multi("x-b3-traceid", tid64, "x-b3-spanid", zero16), B3, B3SpanIDZero, tid64, 64},

		{"single and multi agree", multi("b3", tid128+"-"+sid+"-1", "x-b3-traceid", tid128, "x-b3-spanid", sid), B3, "", tid128, 128},
		{"single 64 multi padded 128 agree", multi("b3", tid64+"-"+sid, "x-b3-traceid", zero16+tid64, "x-b3-spanid", sid), B3, "", tid64, 64},
		{"single and multi conflict", multi("b3", tid128+"-"+sid, "x-b3-traceid", tid64, "x-b3-spanid", sid), B3, B3Conflicting, tid128, 128},
		{"single sampling with multi ids", multi("b3", "1", "x-b3-traceid", tid64, "x-b3-spanid", sid), B3, "", tid64, 64},
		{"single bad multi good", multi("b3", "zz", "x-b3-traceid", tid64, "x-b3-spanid", sid), B3, B3Malformed, tid64, 64},
		{"duplicate single", multi("b3", "1", "b3", "1"), B3, B3Duplicate, "", 0},
		{"duplicate traceid", multi("x-b3-traceid", tid64, "x-b3-spanid", sid, "X-B3-TRACEID", tid64), B3, B3Duplicate, tid64, 64},
		{"malformed before duplicate", multi("b3", "x", "b3", "1"), B3, B3Malformed, "", 0},
	})
}

func TestJaeger(t *testing.T) {
	one := func(v string) []hdr { return []hdr{{"uber-trace-id", v}} }
	runCases(t, []evalCase{
		{"128", one(tid128 + ":" + sid + ":0:1"), Jaeger, "", tid128, 128},
		{"64", one(tid64 + ":" + sid + ":" + pid + ":1"), Jaeger, "", tid64, 64},
		{"short ids", one("abc:def:0:1"), Jaeger, "", "abc", 64},
		{"17 digits is 128", one("1" + tid64 + ":def:0:3"), Jaeger, "", "1" + tid64, 128},
		{"url encoded", one("abc%3Adef%3A0%3A1"), Jaeger, "", "abc", 64},
		{"url encoded mixed", one("abc%3adef:0%3A1"), Jaeger, "", "abc", 64},
		{"flags hex", one("abc:def:0:ff"), Jaeger, "", "abc", 64},
		{"flags two digits", one("abc:def:0:03"), Jaeger, "", "abc", 64},
		{"flags decimal 255", one("abc:def:0:255"), Jaeger, "", "abc", 64},
		{"flags 256", one("abc:def:0:256"), Jaeger, JaegerMalformed, "abc", 64},
		{"flags 1ff", one("abc:def:0:1ff"), Jaeger, JaegerMalformed, "abc", 64},
		{"flags empty", one("abc:def:0:"), Jaeger, JaegerMalformed, "abc", 64},
		{"empty", one(""), Jaeger, JaegerMalformed, "", 0},
		{"three fields", one("abc:def:1"), Jaeger, JaegerMalformed, "", 0},
		{"five fields", one("abc:def:0:1:2"), Jaeger, JaegerMalformed, "", 0},
		{"empty trace", one(":def:0:1"), Jaeger, JaegerMalformed, "", 0},
		{"trace 33", one("1" + tid128 + ":def:0:1"), Jaeger, JaegerMalformed, "", 0},
		{"span 17", one("abc:1" + sid + ":0:1"), Jaeger, JaegerMalformed, "abc", 64},
		{"parent empty", one("abc:def::1"), Jaeger, JaegerMalformed, "abc", 64},
		{"uppercase", one("ABC:def:0:1"), Jaeger, JaegerMalformed, "", 0},
		{"bad escape", one("abc%3Bdef:0:1"), Jaeger, JaegerMalformed, "", 0},
		{"truncated escape", one("abc:def:0:1%3"), Jaeger, JaegerMalformed, "", 0},
		{"lone percent", one("abc:def:0:%"), Jaeger, JaegerMalformed, "", 0},
		{"trace zero", one("0000:def:0:1"), Jaeger, JaegerTraceIDZero, "", 0},
		{"span zero", one("abc:000:0:1"), Jaeger, JaegerSpanIDZero, "abc", 64},
		{"duplicate", []hdr{{"uber-trace-id", "abc:def:0:1"}, {"Uber-Trace-Id", "abc:def:0:1"}}, Jaeger, JaegerDuplicate, "abc", 64},
		{"baggage alongside", []hdr{{"uber-trace-id", "abc:def:0:1"}, {"uberctx-a", "1"}, {"uberctx-b", "2"}, {"jaeger-baggage", "k=v"}}, Jaeger, "", "abc", 64},
	})
}

func TestXRay(t *testing.T) {
	const root = "Root=1-5759e988-bd862e3fe1be46a994272793"
	const id = "5759e988bd862e3fe1be46a994272793"
	one := func(v string) []hdr { return []hdr{{"X-Amzn-Trace-Id", v}} }
	runCases(t, []evalCase{
		{"full", one(root + ";Parent=53995c3f42cd8ad8;Sampled=1"), XRay, "", id, 128},
		{"root only", one(root), XRay, "", id, 128},
		{"any order with spaces", one("Sampled=? ; Parent=53995c3f42cd8ad8;\t" + root), XRay, "", id, 128},
		{"self lineage unknown trailing", one("Self=1-67891234-12456789abcdef012345678;" + root + ";Sampled=0;Lineage=a87bd80c:1|68fd508a:5;Foo=bar;"), XRay, "", id, 128},
		{"empty", one(""), XRay, XRayMalformed, "", 0},
		{"no root", one("Parent=53995c3f42cd8ad8;Sampled=1"), XRay, XRayMissingRoot, "", 0},
		{"only semicolons", one(";;"), XRay, XRayMissingRoot, "", 0},
		{"lowercase key", one("root=1-5759e988-bd862e3fe1be46a994272793"), XRay, XRayMissingRoot, "", 0},
		{"part without equals", one(root + ";Sampled"), XRay, XRayMalformed, id, 128},
		{"root version 2", one("Root=2-5759e988-bd862e3fe1be46a994272793"), XRay, XRayMalformed, "", 0},
		{"root short", one("Root=1-5759e988-bd862e3fe1be46a99427279"), XRay, XRayMalformed, "", 0},
		{"root uppercase", one("Root=1-5759E988-bd862e3fe1be46a994272793"), XRay, XRayMalformed, "", 0},
		{"root bad dash", one("Root=1-5759e988xbd862e3fe1be46a994272793"), XRay, XRayMalformed, "", 0},
		{"root twice", one(root + ";" + root), XRay, XRayMalformed, "", 0},
		{"parent short", one(root + ";Parent=53995c3f42cd8ad"), XRay, XRayMalformed, id, 128},
		{"parent twice", one(root + ";Parent=53995c3f42cd8ad8;Parent=53995c3f42cd8ad8"), XRay, XRayMalformed, id, 128},
		{"sampled 2", one(root + ";Sampled=2"), XRay, XRayMalformed, id, 128},
		{"sampled empty", one(root + ";Sampled="), XRay, XRayMalformed, id, 128},
		{"root zero", one("Root=1-00000000-000000000000000000000000"), XRay, XRayTraceIDZero, "", 0},
		{"parent zero", one(root + ";Parent=" + zero16), XRay, XRayParentIDZero, id, 128},
		{"duplicate", []hdr{{"x-amzn-trace-id", root}, {"x-amzn-trace-id", root}}, XRay, XRayDuplicate, id, 128},
	})
}

func TestDatadog(t *testing.T) {
	dd := func(kv ...string) []hdr {
		var hs []hdr
		for i := 0; i < len(kv); i += 2 {
			hs = append(hs, hdr{"x-datadog-" + kv[i], kv[i+1]})
		}
		return hs
	}
	const low = "4d2" // 1234
	runCases(t, []evalCase{
		{"basic", dd("trace-id", "1234", "parent-id", "5678", "sampling-priority", "1"), Datadog, "", low, 64},
		{"all headers", dd("trace-id", "1234", "parent-id", "5678", "sampling-priority", "-1", "origin", "rum", "tags", "_dd.p.dm=-4,_dd.p.usr=x=y"), Datadog, "", low, 64},
		{"max uint64", dd("trace-id", "18446744073709551615", "parent-id", "1"), Datadog, "", "ffffffffffffffff", 64},
		{"leading zeros", dd("trace-id", "0001234", "parent-id", "1"), Datadog, "", low, 64},
		{"128 via tid", dd("trace-id", "1234", "parent-id", "5678", "tags", "_dd.p.tid=640cfd8d00000000,_dd.p.dm=-1"), Datadog, "", "640cfd8d0000000000000000000004d2", 128},
		{"priority 2", dd("trace-id", "1234", "parent-id", "5678", "sampling-priority", "2"), Datadog, "", low, 64},
		{"overflow", dd("trace-id", "18446744073709551616", "parent-id", "1"), Datadog, DatadogMalformed, "", 0},
		{"negative", dd("trace-id", "-1234", "parent-id", "1"), Datadog, DatadogMalformed, "", 0},
		{"hex", dd("trace-id", "12ab", "parent-id", "1"), Datadog, DatadogMalformed, "", 0},
		{"empty trace", dd("trace-id", "", "parent-id", "1"), Datadog, DatadogMalformed, "", 0},
		{"bad parent", dd("trace-id", "1234", "parent-id", "1.5"), Datadog, DatadogMalformed, low, 64},
		{"bad priority", dd("trace-id", "1234", "parent-id", "1", "sampling-priority", "keep"), Datadog, DatadogMalformed, low, 64},
		{"empty priority", dd("trace-id", "1234", "parent-id", "1", "sampling-priority", ""), Datadog, DatadogMalformed, low, 64},
		{"tags no equals", dd("trace-id", "1234", "parent-id", "1", "tags", "_dd.p.dm"), Datadog, DatadogTagsMalformed, low, 64},
		{"tags empty member", dd("trace-id", "1234", "parent-id", "1", "tags", "a=b,,c=d"), Datadog, DatadogTagsMalformed, low, 64},
		{"tags empty value", dd("trace-id", "1234", "parent-id", "1", "tags", "a="), Datadog, DatadogTagsMalformed, low, 64},
		{"tags space in key", dd("trace-id", "1234", "parent-id", "1", "tags", "a b=c"), Datadog, DatadogTagsMalformed, low, 64},
		{"tags control in value", dd("trace-id", "1234", "parent-id", "1", "tags", "a=b\x01"), Datadog, DatadogTagsMalformed, low, 64},
		{"tags empty", dd("trace-id", "1234", "parent-id", "1", "tags", ""), Datadog, DatadogTagsMalformed, low, 64},
		{"tid short", dd("trace-id", "1234", "parent-id", "1", "tags", "_dd.p.tid=640cfd8d"), Datadog, DatadogTagsMalformed, low, 64},
		{"tid uppercase", dd("trace-id", "1234", "parent-id", "1", "tags", "_dd.p.tid=640CFD8D00000000"), Datadog, DatadogTagsMalformed, low, 64},
		{"missing trace", dd("parent-id", "5678"), Datadog, DatadogMissingTraceID, "", 0},
		{"origin only", dd("origin", "rum"), Datadog, DatadogMissingTraceID, "", 0},
		{"missing parent", dd("trace-id", "1234"), Datadog, DatadogMissingParentID, low, 64},
		{"synthetics without parent", dd("trace-id", "1234", "origin", "synthetics"), Datadog, "", low, 64},
		{"synthetics zero parent", dd("trace-id", "1234", "parent-id", "0", "origin", "synthetics"), Datadog, "", low, 64},
		{"synthetics-browser needs parent", dd("trace-id", "1234", "origin", "synthetics-browser"), Datadog, DatadogMissingParentID, low, 64},
		{"trace zero", dd("trace-id", "0", "parent-id", "1", "tags", "_dd.p.tid=640cfd8d00000000"), Datadog, DatadogTraceIDZero, "", 0},
		{"parent zero", dd("trace-id", "1234", "parent-id", "000"), Datadog, DatadogParentIDZero, low, 64},
		{"duplicate", dd("trace-id", "1234", "parent-id", "1", "parent-id", "1"), Datadog, DatadogDuplicate, low, 64},
	})
}

// grpcBin builds a grpc-trace-bin value from raw bytes.
func grpcBin(b ...byte) string { return base64.StdEncoding.EncodeToString(b) }

func grpcCtx(fields ...[]byte) []byte {
	out := []byte{0}
	for _, f := range fields {
		out = append(out, f...)
	}
	return out
}

func TestGRPC(t *testing.T) {
	traceB, _ := hex.DecodeString(tid128)
	spanB, _ := hex.DecodeString(sid)
	trace := append([]byte{0}, traceB...)
	span := append([]byte{1}, spanB...)
	opts := []byte{2, 1}
	full := grpcCtx(trace, span, opts)
	one := func(v string) []hdr { return []hdr{{"grpc-trace-bin", v}} }
	raw := func(b []byte) string { return base64.RawStdEncoding.EncodeToString(b) }
	runCases(t, []evalCase{
		{"full padded", one(grpcBin(full...)), GRPC, "", tid128, 128},
		{"full unpadded", one(raw(full)), GRPC, "", tid128, 128},
		{"spec example", one(grpcBin(0, 0, 75, 249, 47, 53, 119, 179, 77, 166, 163, 206, 146, 157, 0, 14, 71, 54, 1, 52, 240, 103, 170, 11, 169, 2, 183, 2, 1)), GRPC, "", "4bf92f3577b34da6a3ce929d000e4736", 128},
		{"no options", one(raw(grpcCtx(trace, span))), GRPC, "", tid128, 128},
		{"unknown trailing field", one(raw(append(grpcCtx(trace, span, opts), 3, 9, 9, 9))), GRPC, "", tid128, 128},
		{"long unknown tail", one(raw(append(grpcCtx(trace, span, opts), make([]byte, 300)...))), GRPC, "", tid128, 128},
		{"unknown field after span", one(raw(append(grpcCtx(trace, span), 7))), GRPC, "", tid128, 128},
		{"empty", one(""), GRPC, GRPCMalformed, "", 0},
		{"not base64", one("!!!!"), GRPC, GRPCMalformed, "", 0},
		{"url alphabet", one(strings.ReplaceAll(raw(full), "/", "_") + "-"), GRPC, GRPCMalformed, "", 0},
		{"length 4n+1", one(raw(full) + "AA"), GRPC, GRPCMalformed, "", 0},
		{"bad padding", one("AAA=="), GRPC, GRPCMalformed, "", 0},
		{"padding inside", one("AA==AAAA"), GRPC, GRPCMalformed, "", 0},
		{"version 1", one(raw(append([]byte{1}, full[1:]...))), GRPC, GRPCMalformed, "", 0},
		{"version only", one(raw([]byte{0})), GRPC, GRPCMissingTraceID, "", 0},
		{"span first", one(raw(grpcCtx(span, trace))), GRPC, GRPCMissingTraceID, "", 0},
		{"truncated trace", one(raw(grpcCtx(trace[:10]))), GRPC, GRPCMalformed, "", 0},
		{"trace only", one(raw(grpcCtx(trace))), GRPC, GRPCMissingSpanID, tid128, 128},
		{"trace then options", one(raw(grpcCtx(trace, opts))), GRPC, GRPCMissingSpanID, tid128, 128},
		{"truncated span", one(raw(grpcCtx(trace, span[:5]))), GRPC, GRPCMalformed, tid128, 128},
		{"truncated options", one(raw(grpcCtx(trace, span, opts[:1]))), GRPC, GRPCMalformed, tid128, 128},
		{"trace zero", one(raw(grpcCtx(make([]byte, 17), span))), GRPC, GRPCTraceIDZero, "", 0},
		{"span zero", one(raw(grpcCtx(trace, append([]byte{1}, make([]byte, 8)...)))), GRPC, GRPCSpanIDZero, tid128, 128},
		{"duplicate", []hdr{{"grpc-trace-bin", raw(full)}, {"grpc-trace-bin", raw(full)}}, GRPC, GRPCDuplicate, tid128, 128},
	})
}

func TestGCP(t *testing.T) {
	const id = "105445aa7843bc8bf206b12000100000"
	one := func(v string) []hdr { return []hdr{{"X-Cloud-Trace-Context", v}} }
	runCases(t, []evalCase{
		{"full", one(id + "/1;o=1"), CloudTrace, "", id, 128},
		{"not traced", one(id + "/123456789;o=0"), CloudTrace, "", id, 128},
		{"no options", one(id + "/42"), CloudTrace, "", id, 128},
		{"max span", one(id + "/18446744073709551615"), CloudTrace, "", id, 128},
		{"empty", one(""), CloudTrace, GCPMalformed, "", 0},
		{"span overflow", one(id + "/18446744073709551616"), CloudTrace, GCPMalformed, id, 128},
		{"span 21 digits", one(id + "/000000000000000000001"), CloudTrace, GCPMalformed, id, 128},
		{"span missing", one(id + "/"), CloudTrace, GCPMalformed, id, 128},
		{"span hex", one(id + "/abc"), CloudTrace, GCPMalformed, id, 128},
		{"o=2", one(id + "/1;o=2"), CloudTrace, GCPMalformed, id, 128},
		{"o empty", one(id + "/1;o="), CloudTrace, GCPMalformed, id, 128},
		{"other option", one(id + "/1;x=1"), CloudTrace, GCPMalformed, id, 128},
		{"trailing", one(id + "/1;o=1;"), CloudTrace, GCPMalformed, id, 128},
		{"uppercase", one(strings.ToUpper(id) + "/1"), CloudTrace, GCPMalformed, "", 0},
		{"short trace", one(id[1:] + "/1"), CloudTrace, GCPMalformed, "", 0},
		{"no slash", one(id + "1"), CloudTrace, GCPMalformed, "", 0},
		{"trace zero", one(zero32 + "/1;o=1"), CloudTrace, GCPTraceIDZero, "", 0},
		{"span zero", one(id + "/0;o=1"), CloudTrace, GCPSpanIDZero, id, 128},
		{"span zeros", one(id + "/000"), CloudTrace, GCPSpanIDZero, id, 128},
		{"duplicate", []hdr{{"x-cloud-trace-context", id + "/1"}, {"x-cloud-trace-context", id + "/2"}}, CloudTrace, GCPDuplicate, id, 128},
	})
}

func TestSW8(t *testing.T) {
	b := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	valid := strings.Join([]string{"1", b("1f2d4bf47bf711eab794acde48001122"), b("1e7c204a7bf711eab858acde48001122"),
		"0", b("service"), b("instance"), b("/app"), b("127.0.0.1:8080")}, "-")
	fields := strings.Split(valid, "-")
	with := func(i int, v string) string {
		f := append([]string(nil), fields...)
		f[i] = v
		return strings.Join(f, "-")
	}
	one := func(v string) []hdr { return []hdr{{"sw8", v}} }
	runCases(t, []evalCase{
		{"valid", one(valid), SkyWalking, "", "", 0},
		{"not sampled", one(with(0, "0")), SkyWalking, "", "", 0},
		{"unpadded base64", one(with(4, base64.RawStdEncoding.EncodeToString([]byte("service")))), SkyWalking, "", "", 0},
		{"span max int", one(with(3, "2147483647")), SkyWalking, "", "", 0},
		{"with sw8-x", []hdr{{"sw8", valid}, {"sw8-x", "1-1600000000000"}}, SkyWalking, "", "", 0},
		{"with empty sw8-x", []hdr{{"sw8", valid}, {"sw8-x", ""}}, SkyWalking, "", "", 0},
		{"with sw8-x extended", []hdr{{"sw8", valid}, {"sw8-x", "0--future"}}, SkyWalking, "", "", 0},
		{"with correlation", []hdr{{"sw8", valid}, {"sw8-correlation", b("k") + ":" + b("v")}}, SkyWalking, "", "", 0},
		{"empty", one(""), SkyWalking, SW8Malformed, "", 0},
		{"seven fields", one(strings.Join(fields[:7], "-")), SkyWalking, SW8Malformed, "", 0},
		{"nine fields", one(valid + "-" + b("x")), SkyWalking, SW8Malformed, "", 0},
		{"sample 2", one(with(0, "2")), SkyWalking, SW8Malformed, "", 0},
		{"span not integer", one(with(3, "x")), SkyWalking, SW8Malformed, "", 0},
		{"span too big", one(with(3, "2147483648")), SkyWalking, SW8Malformed, "", 0},
		{"empty trace", one(with(1, "")), SkyWalking, SW8Malformed, "", 0},
		{"raw trace", one(with(1, "trace.id.1")), SkyWalking, SW8Malformed, "", 0},
		{"empty address", one(with(7, "")), SkyWalking, SW8Malformed, "", 0},
		{"too long", one(with(6, b(strings.Repeat("e", 1600)))), SkyWalking, SW8TooLong, "", 0},
		{"sw8-x bad mode", []hdr{{"sw8", valid}, {"sw8-x", "2"}}, SkyWalking, SW8Malformed, "", 0},
		{"sw8-x bad timestamp", []hdr{{"sw8", valid}, {"sw8-x", "1-soon"}}, SkyWalking, SW8Malformed, "", 0},
		{"duplicate", []hdr{{"sw8", valid}, {"SW8", valid}}, SkyWalking, SW8Duplicate, "", 0},
		{"duplicate sw8-x", []hdr{{"sw8", valid}, {"sw8-x", "0"}, {"sw8-x", "1"}}, SkyWalking, SW8Duplicate, "", 0},
	})
}

func TestOT(t *testing.T) {
	ot := func(kv ...string) []hdr {
		var hs []hdr
		for i := 0; i < len(kv); i += 2 {
			hs = append(hs, hdr{"ot-tracer-" + kv[i], kv[i+1]})
		}
		return hs
	}
	runCases(t, []evalCase{
		{"64", ot("traceid", tid64, "spanid", sid, "sampled", "true"), OpenTracing, "", tid64, 64},
		{"128", ot("traceid", tid128, "spanid", sid), OpenTracing, "", tid128, 128},
		{"sampled 0", ot("traceid", tid64, "spanid", sid, "sampled", "0"), OpenTracing, "", tid64, 64},
		{"sampled TRUE", ot("traceid", tid64, "spanid", sid, "sampled", "TRUE"), OpenTracing, "", tid64, 64},
		{"with baggage", append(ot("traceid", tid64, "spanid", sid), hdr{"ot-baggage-user", "x"}), OpenTracing, "", tid64, 64},
		{"trace 20", ot("traceid", tid128[:20], "spanid", sid), OpenTracing, OTMalformed, "", 0},
		{"trace uppercase", ot("traceid", strings.ToUpper(tid64), "spanid", sid), OpenTracing, OTMalformed, "", 0},
		{"span 15", ot("traceid", tid64, "spanid", sid[:15]), OpenTracing, OTMalformed, tid64, 64},
		{"sampled yes", ot("traceid", tid64, "spanid", sid, "sampled", "yes"), OpenTracing, OTMalformed, tid64, 64},
		{"span only", ot("spanid", sid), OpenTracing, OTMissingTraceID, "", 0},
		{"sampled only", ot("sampled", "1"), OpenTracing, OTMissingTraceID, "", 0},
		{"trace only", ot("traceid", tid64), OpenTracing, OTMissingSpanID, tid64, 64},
		{"trace zero", ot("traceid", zero32, "spanid", sid), OpenTracing, OTTraceIDZero, "", 0},
		{"span zero", ot("traceid", tid64, "spanid", zero16), OpenTracing, OTSpanIDZero, tid64, 64},
		{"duplicate", ot("traceid", tid64, "spanid", sid, "spanid", sid), OpenTracing, OTDuplicate, tid64, 64},
	})
}

func TestSentry(t *testing.T) {
	one := func(v string) []hdr { return []hdr{{"sentry-trace", v}} }
	runCases(t, []evalCase{
		{"sampled", one(tid128 + "-" + sid + "-1"), Sentry, "", tid128, 128},
		{"not sampled", one(tid128 + "-" + sid + "-0"), Sentry, "", tid128, 128},
		{"deferred", one(tid128 + "-" + sid), Sentry, "", tid128, 128},
		{"empty", one(""), Sentry, SentryMalformed, "", 0},
		{"trace only", one(tid128), Sentry, SentryMalformed, "", 0},
		{"uppercase", one(strings.ToUpper(tid128) + "-" + sid), Sentry, SentryMalformed, "", 0},
		{"bad sampled", one(tid128 + "-" + sid + "-2"), Sentry, SentryMalformed, tid128, 128},
		{"trailing dash", one(tid128 + "-" + sid + "-"), Sentry, SentryMalformed, tid128, 128},
		{"trailing data", one(tid128 + "-" + sid + "-1-x"), Sentry, SentryMalformed, tid128, 128},
		{"bad span", one(tid128 + "-" + sid[:15] + "g"), Sentry, SentryMalformed, tid128, 128},
		{"trace zero", one(zero32 + "-" + sid), Sentry, SentryTraceIDZero, "", 0},
		{"span zero", one(tid128 + "-" + zero16), Sentry, SentrySpanIDZero, tid128, 128},
		{"duplicate", []hdr{{"sentry-trace", tid128 + "-" + sid}, {"sentry-trace", tid128 + "-" + sid}}, Sentry, SentryDuplicate, tid128, 128},
	})
}

func TestBaggageOnlyProducesNoResult(t *testing.T) {
	for _, hs := range [][]hdr{
		{{"uberctx-user", "42"}},
		{{"jaeger-baggage", "k=v"}},
		{{"ot-baggage-user", "x"}},
		{{"sw8-correlation", "a2V5:dmFs"}},
		{{"sw8-x", "1"}},
		{{"uberctx-a", "1"}, {"ot-baggage-b", "2"}, {"sw8-correlation", "x"}, {"sw8-x", "0"}},
	} {
		if rs := evaluate(t, hs); len(rs) != 0 {
			t.Errorf("%v: got results %+v", hs, rs)
		}
	}
}

func TestEvaluateOrderAndAppend(t *testing.T) {
	var h Headers
	add := func(name, value string) { h.Add(Lookup([]byte(name)), []byte(value)) }
	add("sentry-trace", tid128+"-"+sid)
	add("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793")
	add("x-b3-traceid", tid64)
	add("x-b3-spanid", sid)
	add("host", "ignored")
	add("uber-trace-id", "abc:def:0:1")
	if got, want := h.Formats(), B3|Jaeger|XRay|Sentry; got != want {
		t.Errorf("Formats() = %v, want %v", got.AppendNames(nil), want.AppendNames(nil))
	}
	prev := []Result{{Format: W3C}}
	rs := h.Evaluate(prev)
	want := []Format{W3C, B3, Jaeger, XRay, Sentry}
	if len(rs) != len(want) {
		t.Fatalf("got %d results", len(rs))
	}
	for i, f := range want {
		if rs[i].Format != f {
			t.Errorf("result %d: %v, want %v", i, rs[i].Format, f)
		}
		if i > 0 && !rs[i].Valid {
			t.Errorf("%v: %q", f, rs[i].Defect)
		}
	}
}

func TestHeadersAccessorsAndReset(t *testing.T) {
	var h Headers
	h.Add(FieldNone, []byte("x"))
	h.Add(NumFields, []byte("x"))
	h.Add(Field(200), []byte("x"))
	if h.seen != 0 {
		t.Fatalf("unknown fields recorded: %b", h.seen)
	}
	h.Add(FieldUberCtx, []byte("a"))
	h.Add(FieldUberCtx, []byte("b"))
	h.Add(FieldB3, []byte("1"))
	if v, ok := h.Value(FieldUberCtx); !ok || string(v) != "a" {
		t.Errorf("Value = %q, %v", v, ok)
	}
	if h.Count(FieldUberCtx) != 2 || h.Count(FieldB3) != 1 || h.Count(FieldXRay) != 0 || h.Count(Field(99)) != 0 {
		t.Errorf("counts wrong")
	}
	if _, ok := h.Value(FieldXRay); ok {
		t.Errorf("Value of absent field")
	}
	if _, ok := h.Value(Field(99)); ok {
		t.Errorf("Value of unknown field")
	}
	for range 70000 {
		h.Add(FieldUberCtx, nil)
	}
	if h.Count(FieldUberCtx) != 65535 {
		t.Errorf("count did not saturate: %d", h.Count(FieldUberCtx))
	}
	h.Reset()
	if !isEmpty(&h) {
		t.Errorf("Reset left state behind")
	}
	if rs := h.Evaluate(nil); len(rs) != 0 {
		t.Errorf("empty Headers evaluated to %+v", rs)
	}
}

func TestCodes(t *testing.T) {
	cs := Codes()
	if len(cs) != len(allCodes) {
		t.Fatalf("Codes() has %d, want %d", len(cs), len(allCodes))
	}
	seen := map[reason.Code]bool{}
	names := map[string]bool{}
	for f := B3; f <= Sentry; f <<= 1 {
		names[f.String()] = true
	}
	for _, c := range cs {
		if seen[c] {
			t.Errorf("duplicate code %q", c)
		}
		seen[c] = true
		if !names[c.Field()] {
			t.Errorf("code %q does not start with a format name", c)
		}
	}
	cs[0] = "changed"
	if allCodes[0] == "changed" {
		t.Errorf("Codes() exposes the internal array")
	}
}

func TestEvaluateAllocs(t *testing.T) {
	h := benchHeaders()
	dst := make([]Result, 0, 16)
	if n := testing.AllocsPerRun(200, func() { dst = h.Evaluate(dst[:0]) }); n != 0 {
		t.Errorf("Evaluate allocates %v times", n)
	}
	var all Headers
	for _, x := range everyFormat() {
		all.Add(Lookup([]byte(x.name)), []byte(x.value))
	}
	if n := testing.AllocsPerRun(200, func() { dst = all.Evaluate(dst[:0]) }); n != 0 {
		t.Errorf("Evaluate of every format allocates %v times", n)
	}
	if len(dst) != 9 {
		t.Fatalf("every format: %d results", len(dst))
	}
	for _, r := range dst {
		if !r.Valid {
			t.Errorf("%v: %q", r.Format, r.Defect)
		}
	}
}

// everyFormat is one valid context per format.
func everyFormat() []hdr {
	return []hdr{
		{"b3", tid128 + "-" + sid + "-1"},
		{"uber-trace-id", tid128 + ":" + sid + ":0:1"},
		{"x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"},
		{"x-datadog-trace-id", "1234"}, {"x-datadog-parent-id", "5678"}, {"x-datadog-tags", "_dd.p.tid=640cfd8d00000000"},
		{"grpc-trace-bin", "AACA8ZjuVjQ7qGT+iypX0+/3AeRXtaLk2GvRAgE"},
		{"x-cloud-trace-context", tid128 + "/1;o=1"},
		{"sw8", "1-dHJhY2U=-c2VnbWVudA==-0-c2VydmljZQ==-aW5zdGFuY2U=-L2FwcA==-MTI3LjAuMC4xOjgwODA="},
		{"ot-tracer-traceid", tid64}, {"ot-tracer-spanid", sid},
		{"sentry-trace", tid128 + "-" + sid + "-1"},
	}
}

// isEmpty reports whether h holds nothing, as after Reset.
func isEmpty(h *Headers) bool {
	if h.seen != 0 {
		return false
	}
	for f := range NumFields {
		if h.first[f] != nil || h.count[f] != 0 {
			return false
		}
	}
	return true
}
