package parse

import (
	"strings"
	"testing"

	"github.com/propwatch/propwatch/internal/parse/formats"
	"github.com/propwatch/propwatch/internal/parse/http1"
	"github.com/propwatch/propwatch/internal/parse/pii"
	"github.com/propwatch/propwatch/internal/parse/w3c"
)

// verdictDiff names the first field in which two verdicts differ, "" when
// they are the same in every field.
func verdictDiff(got, want *Verdict) string {
	switch {
	case got.Context != want.Context:
		return "Context"
	case got.ContextReason != want.ContextReason:
		return "ContextReason"
	case len(got.Reasons) != len(want.Reasons):
		return "Reasons"
	case got.Formats != want.Formats:
		return "Formats"
	case got.Baggage != want.Baggage:
		return "Baggage"
	case got.PII != want.PII:
		return "PII"
	case got.SuspectKeys != want.SuspectKeys:
		return "SuspectKeys"
	case len(got.Findings) != len(want.Findings):
		return "Findings"
	case got.FindingsDropped != want.FindingsDropped:
		return "FindingsDropped"
	case got.Truncated != want.Truncated:
		return "Truncated"
	}
	for i := range got.Reasons {
		if got.Reasons[i] != want.Reasons[i] {
			return "Reasons"
		}
	}
	for i := range got.Findings {
		if got.Findings[i] != want.Findings[i] {
			return "Findings"
		}
	}
	return ""
}

// checkShortcuts judges in with the engine and with its reference, each
// Analyzer reused from the calls before, and fails if the verdicts differ.
func checkShortcuts(t *testing.T, a, ref *Analyzer, in []byte) {
	t.Helper()
	var h http1.Head
	if h.Parse(in) == http1.StatusNotHTTP {
		return
	}
	got := *a.Head(&h)
	want := ref.refHead(&h)
	if d := verdictDiff(&got, want); d != "" {
		t.Fatalf("%q: %s differs:\n got  %+v\n want %+v", in, d, got, *want)
	}
}

func shortcutAnalyzers(lim w3c.BaggageLimits) (a, ref *Analyzer) {
	fp := pii.NewFingerprinterWithKey([]byte("shortcuts"))
	return NewAnalyzer(Options{Baggage: lim, Fingerprints: fp}), NewAnalyzer(Options{Baggage: lim, Fingerprints: fp})
}

// shortcutSeeds put findings, near-findings and escapes on either side of
// the parts the quiet-header shortcut skips.
var shortcutSeeds = []string{
	typicalHead,
	findingsHead,
	overheadHead,
	string(head("baggage: a=%zz;p, ,k=v;q=jane%40example.com", "uberctx-x: 4111111111111111")),
	string(head("sw8-correlation: YQ==:YUBiLmlv", "jaeger-baggage: k=v, j=w")),
	string(head("baggage: k=v,user=jane%40example.com,z=1", "baggage: a=b")),
	string(head("baggage: k=v%40x,e=mail@example.com")),
	string(head("baggage: k=%34%31%31%31%2D1111-1111-1111,j=v")),
	string(head("baggage: k=e%79J0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln")),
	string(head("baggage: region=eu, dark=1, ask=sk_live_0123456789abcdef")),
	string(head("baggage: k=ghp_0123456789abcdefghijABCDEFGHIJ012345,j=x")),
	string(head("baggage: auth=Bearer%20abc.def,k=v")),
	string(head("baggage: k=Basic dXNlcjpwYXNz")),
	string(head("baggage: phone=415-555-2671,ssn=536904399,tel=+14155552671")),
	string(head("baggage: iban=DE89370400440532013000,pem=-----BEGIN RSA PRIVATE KEY")),
	string(head("baggage: k=AKIAIOSFODNN7EXAMPLE,g=AIzaSyA-0123456789abcdefghijklmnopqrstu")),
	string(head("baggage: k=v%2Cghp_0123456789abcdefghijABCDEFGHIJ012345")),
	string(head("baggage: a=1;p=%41KIAIOSFODNN7EXAMPLE", "Baggage: b=%C3%A9t%C3%A9")),
	string(head("Baggage: x=\xff\xfe%zz, y", "traceparent: "+tpValid, "tracestate: a=1")),
	string(head("X-B3-TraceId: 4bf92f3577b34da6a3ce929d0e0e4736", "X-B3-SpanId: 00f067aa0ba902b7", "X-B3-Sampled: 1",
		"B3: 1", "SW8: x", "Sw8-X: y", "X-Amzn-Trace-Id: Root=1-4bf92f35-77b34da6a3ce929d0e0e4736",
		"UBERCTX-user: a@b.io", "Ot-Baggage-Email: a@b.io", "ot-tracer-traceid: 1", "Jaeger-Baggage: k=4111111111111111",
		"Sentry-Trace: x", "grpc-trace-bin: AA", "X-Cloud-Trace-Context: 1/2", "x-datadog-trace-id: 12",
		"x-request-id: 1", "X-Forwarded-For: 10.0.0.1", "Uber-Trace-Id: 1:2:0:1")),
	"GET / HTTP/1.1\r\nbaggage: k=v,user=jane@example.com,cut=4111",
	"GET / HTTP/1.1\r\nbaggage: k=v%40x\r\n\tfolded=jane@example.com\r\n\r\n",
}

// TestPropagationNames checks that the name filter of judge lets every
// field collect knows through, whatever its case.
func TestPropagationNames(t *testing.T) {
	names := []string{"traceparent", "tracestate", "baggage"}
	for f := formats.FieldB3; f < formats.NumFields; f++ {
		names = append(names, strings.Replace(f.String(), "*", "some-key", 1))
	}
	for _, n := range names {
		for _, v := range []string{n, strings.ToUpper(n), strings.ToUpper(n[:1]) + n[1:], n[:2] + strings.ToUpper(n[2:])} {
			lengths := propagationBytes[0][v[0]]
			if len(v) > 2 {
				lengths &= propagationBytes[1][v[1]] & propagationBytes[2][v[2]]
			}
			if lengths>>(len(v)&31)&1 == 0 {
				t.Errorf("%q is filtered out", v)
			}
		}
	}
}

func TestShortcutsMatchReference(t *testing.T) {
	a, ref := shortcutAnalyzers(w3c.BaggageLimits{})
	for _, s := range shortcutSeeds {
		checkShortcuts(t, a, ref, []byte(s))
	}
	// Many baggage headers, past the member limit.
	var b strings.Builder
	for i := 0; i < 70; i++ {
		b.WriteString("baggage: k=v,a=b@example.com\r\n")
	}
	checkShortcuts(t, a, ref, []byte("GET / HTTP/1.1\r\n"+b.String()+"\r\n"))
}

// FuzzEngineShortcuts checks that the engine's shortcuts (the field-name
// filter, the quiet baggage headers) never change a verdict: the engine and
// refHead, which has none of them, must agree on every request.
func FuzzEngineShortcuts(f *testing.F) {
	for _, s := range shortcutSeeds {
		f.Add([]byte(s))
	}
	a, ref := shortcutAnalyzers(w3c.BaggageLimits{MaxBytes: 256, MaxMembers: 8, AtRiskBytes: 128})
	f.Fuzz(func(t *testing.T, in []byte) {
		checkShortcuts(t, a, ref, in)
	})
}
