package formats

import (
	"bytes"
	"strings"
	"testing"
)

func TestLookupKnownNames(t *testing.T) {
	for f := FieldB3; f < NumFields; f++ {
		name := f.String()
		if f == FieldUberCtx || f == FieldOTBaggage {
			name = name[:len(name)-1] + "Some-Key"
		}
		for _, variant := range []string{name, string(bytes.ToUpper([]byte(name))), mixedCase(name)} {
			if got := Lookup([]byte(variant)); got != f {
				t.Errorf("Lookup(%q) = %v, want %v", variant, got, f)
			}
		}
	}
}

// mixedCase uppercases every other letter: "X-b3-TrAcEiD".
func mixedCase(s string) string {
	b := []byte(s)
	for i := 0; i < len(b); i += 2 {
		if b[i] >= 'a' && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

func TestLookupWireSpellings(t *testing.T) {
	cases := map[string]Field{
		"X-B3-TraceId":                FieldB3TraceID,
		"X-B3-SpanId":                 FieldB3SpanID,
		"X-B3-ParentSpanId":           FieldB3ParentSpanID,
		"X-B3-Sampled":                FieldB3Sampled,
		"X-B3-Flags":                  FieldB3Flags,
		"B3":                          FieldB3,
		"Uber-Trace-Id":               FieldUberTraceID,
		"uberctx-userId":              FieldUberCtx,
		"uberctx-x":                   FieldUberCtx,
		"Jaeger-Baggage":              FieldJaegerBaggage,
		"X-Amzn-Trace-Id":             FieldXRay,
		"X-Datadog-Trace-Id":          FieldDDTraceID,
		"X-Datadog-Parent-Id":         FieldDDParentID,
		"X-Datadog-Sampling-Priority": FieldDDSamplingPriority,
		"X-Datadog-Origin":            FieldDDOrigin,
		"X-Datadog-Tags":              FieldDDTags,
		"Grpc-Trace-Bin":              FieldGRPCTraceBin,
		"X-Cloud-Trace-Context":       FieldCloudTrace,
		"SW8":                         FieldSW8,
		"sw8-Correlation":             FieldSW8Correlation,
		"SW8-X":                       FieldSW8X,
		"OT-Tracer-TraceId":           FieldOTTraceID,
		"OT-Tracer-SpanId":            FieldOTSpanID,
		"OT-Tracer-Sampled":           FieldOTSampled,
		"ot-baggage-user":             FieldOTBaggage,
		"Sentry-Trace":                FieldSentryTrace,
	}
	for name, want := range cases {
		if got := Lookup([]byte(name)); got != want {
			t.Errorf("Lookup(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestLookupUnknown(t *testing.T) {
	for _, name := range []string{
		"", "b", "b4", "b3 ", " b3", "bb", "host", "user-agent", "accept", "content-type", "cookie",
		"traceparent", "tracestate", "baggage", "x-forwarded-for", "x-request-id", "origin",
		"uberctx-", "uberctx", "ot-baggage-", "ot-baggage", "x-b3-traceid2", "x-b3-traceidx",
		"x-b3_traceid", "x-datadog-trace_id", "sw8-", "sw9", "sentry-trace-", "sentry",
		"x-amzn-trace-i", "upgrade-insecure-requests", "grpc-trace", "grpc-tags-bin",
		"x\x0db3-flags", "x-b3-fl\x01gs", "\xffb3", "sw\x188", "ot-tracer-spanid\x00",
		"jaeger-debug-id", "x-cloud-trace-contexts", "x-b3-sampled\r",
		"b3" + strings.Repeat("3", 32), "sw8" + strings.Repeat("x", 32), "x-b3-flags" + strings.Repeat("x", 32),
		"X-B3-TRACEID" + strings.Repeat("-", 64), "uber-trace-id" + strings.Repeat("x", 32),
		"ot-tracer-spanid" + strings.Repeat("x", 32), "grpc-trace-bin" + strings.Repeat("x", 64),
	} {
		if got := Lookup([]byte(name)); got != FieldNone {
			t.Errorf("Lookup(%q) = %v, want FieldNone", name, got)
		}
	}
}

func TestLookupLongPrefixNames(t *testing.T) {
	for _, n := range []int{1, 23, 24, 25, 55, 56, 57, 100, 5000} {
		key := strings.Repeat("k", n)
		if got := Lookup([]byte("UberCtx-" + key)); got != FieldUberCtx {
			t.Errorf("uberctx- + %d bytes: %v", n, got)
		}
		if got := Lookup([]byte("OT-Baggage-" + key)); got != FieldOTBaggage {
			t.Errorf("ot-baggage- + %d bytes: %v", n, got)
		}
	}
}

func TestFieldProperties(t *testing.T) {
	baggage := map[Field]bool{FieldUberCtx: true, FieldJaegerBaggage: true, FieldOTBaggage: true, FieldSW8Correlation: true}
	for f := Field(0); f < NumFields+3; f++ {
		if got := f.CarriesBaggage(); got != baggage[f] {
			t.Errorf("%v.CarriesBaggage() = %v", f, got)
		}
		fm := f.Format()
		switch {
		case f == FieldNone || f >= NumFields:
			if fm != 0 || f.String() != "" {
				t.Errorf("Field(%d): Format %v String %q, want zero", f, fm, f.String())
			}
		case fm.String() == "" || fm == W3C:
			t.Errorf("%v.Format() = %d, not a single non-W3C format", f, fm)
		}
	}
	checks := map[Field]Format{
		FieldB3Flags: B3, FieldUberCtx: Jaeger, FieldXRay: XRay, FieldDDTags: Datadog,
		FieldGRPCTraceBin: GRPC, FieldCloudTrace: CloudTrace, FieldSW8X: SkyWalking,
		FieldOTBaggage: OpenTracing, FieldSentryTrace: Sentry,
	}
	for f, want := range checks {
		if got := f.Format(); got != want {
			t.Errorf("%v.Format() = %v, want %v", f, got, want)
		}
	}
}

func TestFormatNames(t *testing.T) {
	want := []string{"w3c", "b3", "jaeger", "xray", "datadog", "grpc", "gcp", "sw8", "ot", "sentry"}
	all := W3C | B3 | Jaeger | XRay | Datadog | GRPC | CloudTrace | SkyWalking | OpenTracing | Sentry
	for i, f := range []Format{W3C, B3, Jaeger, XRay, Datadog, GRPC, CloudTrace, SkyWalking, OpenTracing, Sentry} {
		if f.String() != want[i] {
			t.Errorf("Format(%d).String() = %q, want %q", f, f.String(), want[i])
		}
	}
	for _, f := range []Format{0, B3 | XRay, 1 << 12, all} {
		if f.String() != "" {
			t.Errorf("Format(%d).String() = %q, want \"\"", f, f.String())
		}
	}
	got := all.AppendNames(nil)
	if len(got) != len(want) {
		t.Fatalf("AppendNames = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("AppendNames = %v, want %v", got, want)
		}
	}
	got = (Sentry | B3 | 1<<13).AppendNames([]string{"x"})
	if len(got) != 3 || got[0] != "x" || got[1] != "b3" || got[2] != "sentry" {
		t.Errorf("AppendNames = %v", got)
	}
	buf := make([]string, 0, 16)
	if n := testing.AllocsPerRun(100, func() { buf = all.AppendNames(buf[:0]) }); n != 0 {
		t.Errorf("AppendNames allocates %v times with capacity", n)
	}
}

func TestLookupAllocs(t *testing.T) {
	names := benchNames()
	n := testing.AllocsPerRun(100, func() {
		for _, name := range names {
			Lookup(name)
		}
	})
	if n != 0 {
		t.Errorf("Lookup allocates %v times", n)
	}
}
