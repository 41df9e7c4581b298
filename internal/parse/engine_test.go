package parse

import (
	"strings"
	"testing"

	"github.com/propwatch/propwatch/internal/parse/formats"
	"github.com/propwatch/propwatch/internal/parse/http1"
	"github.com/propwatch/propwatch/internal/parse/pii"
	"github.com/propwatch/propwatch/internal/parse/reason"
	"github.com/propwatch/propwatch/internal/parse/w3c"
)

const (
	tpValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tpOther = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
)

// head builds a request head from "Name: value" lines.
func head(fields ...string) []byte {
	var b strings.Builder
	b.WriteString("GET /x HTTP/1.1\r\nHost: svc\r\n")
	for _, f := range fields {
		b.WriteString(f)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

func TestAnalyzeContext(t *testing.T) {
	tests := []struct {
		name    string
		head    []byte
		context Context
		formats formats.Format
		reasons []reason.Code
	}{
		{"valid traceparent", head("traceparent: " + tpValid), Valid, formats.W3C, nil},
		{"missing", head("Accept: */*"), Missing, 0, nil},
		{"name case-insensitive", head("TraceParent: " + tpValid), Valid, formats.W3C, nil},
		{"invalid traceparent", head("traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
			Invalid, formats.W3C, []reason.Code{w3c.TraceParentTraceIDZero}},
		{"two traceparents", head("traceparent: "+tpValid, "traceparent: "+tpValid),
			Invalid, formats.W3C, []reason.Code{w3c.TraceParentDuplicate}},
		{"tracestate alone", head("tracestate: rojo=00f067aa0ba902b7"),
			Missing, formats.W3C, []reason.Code{TraceStateOrphan}},
		{"bad tracestate keeps traceparent valid", head("traceparent: "+tpValid, "tracestate: a=1,a=2"),
			Valid, formats.W3C, []reason.Code{w3c.TraceStateDuplicateKey}},
		{"reserved flags", head("traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09"),
			Valid, formats.W3C, []reason.Code{w3c.TraceParentReservedFlags}},
		{"random flag is not reserved", head("traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"),
			Valid, formats.W3C, nil},
		{"b3 alone", head("b3: 4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"), Valid, formats.B3, nil},
		{"malformed b3 alone", head("b3: nothex-00f067aa0ba902b7"), Invalid, formats.B3, []reason.Code{formats.B3Malformed}},
		{"valid traceparent beats malformed b3", head("traceparent: "+tpValid, "b3: nothex"),
			Valid, formats.W3C | formats.B3, []reason.Code{formats.B3Malformed}},
		{"b3 agrees", head("traceparent: "+tpValid, "X-B3-TraceId: 4bf92f3577b34da6a3ce929d0e0e4736", "X-B3-SpanId: 00f067aa0ba902b7"),
			Valid, formats.W3C | formats.B3, nil},
		{"b3 64-bit agrees with low half", head("traceparent: "+tpValid, "X-B3-TraceId: a3ce929d0e0e4736", "X-B3-SpanId: 00f067aa0ba902b7"),
			Valid, formats.W3C | formats.B3, nil},
		{"b3 disagrees", head("traceparent: "+tpValid, "X-B3-TraceId: 0af7651916cd43dd8448eb211c80319c", "X-B3-SpanId: 00f067aa0ba902b7"),
			Valid, formats.W3C | formats.B3, []reason.Code{TraceIDMismatch}},
		{"xray agrees", head("traceparent: "+tpValid, "X-Amzn-Trace-Id: Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1"),
			Valid, formats.W3C | formats.XRay, nil},
		{"xray disagrees", head("traceparent: "+tpOther, "X-Amzn-Trace-Id: Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1"),
			Valid, formats.W3C | formats.XRay, []reason.Code{TraceIDMismatch}},
		{"jaeger alone", head("uber-trace-id: 4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1"), Valid, formats.Jaeger, nil},
		{"datadog alone", head("x-datadog-trace-id: 1234567890123", "x-datadog-parent-id: 987654321"), Valid, formats.Datadog, nil},
		{"sentry alone", head("sentry-trace: 4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"), Valid, formats.Sentry, nil},
	}
	a := NewAnalyzer(Options{})
	var h http1.Head
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if h.Parse(tt.head) != http1.StatusComplete {
				t.Fatalf("head did not parse: %v", h.Defects)
			}
			v := a.Head(&h)
			if v.Context != tt.context {
				t.Errorf("context = %v, want %v (reasons %v)", v.Context, tt.context, v.Reasons)
			}
			if v.Formats != tt.formats {
				t.Errorf("formats = %v, want %v", v.Formats.AppendNames(nil), tt.formats.AppendNames(nil))
			}
			if len(v.Reasons) != len(tt.reasons) {
				t.Fatalf("reasons = %v, want %v", v.Reasons, tt.reasons)
			}
			for i := range tt.reasons {
				if v.Reasons[i] != tt.reasons[i] {
					t.Errorf("reasons = %v, want %v", v.Reasons, tt.reasons)
				}
			}
			if (v.Context == Invalid) != (v.ContextReason != "") || (v.ContextReason != "" && !v.Reasons.Has(v.ContextReason)) {
				t.Errorf("ContextReason %q with context %v, reasons %v", v.ContextReason, v.Context, v.Reasons)
			}
			if got := v.Problem(); got != (tt.context != Valid || len(tt.reasons) > 0) {
				t.Errorf("Problem() = %v", got)
			}
		})
	}
}

func TestAnalyzeBaggage(t *testing.T) {
	a := NewAnalyzer(Options{})
	var h http1.Head

	h.Parse(head("traceparent: "+tpValid, "baggage: a=1, b=2", "Baggage: c=3"))
	v := a.Head(&h)
	if v.Baggage.Headers != 2 || v.Baggage.Members != 3 || v.Baggage.Bytes != len("a=1, b=2")+1+len("c=3") {
		t.Fatalf("baggage = %+v", v.Baggage)
	}
	if v.Baggage.Oversized || v.Baggage.AtRisk || v.Problem() {
		t.Fatalf("small baggage judged a problem: %+v %v", v.Baggage, v.Reasons)
	}

	// 5000 bytes: at risk, not oversized.
	h.Parse(head("traceparent: "+tpValid, "baggage: k="+strings.Repeat("x", 4998)))
	v = a.Head(&h)
	if !v.Baggage.AtRisk || v.Baggage.Oversized || v.Problem() {
		t.Fatalf("5000-byte baggage: %+v problem=%v", v.Baggage, v.Problem())
	}

	// Two headers of 5000 bytes combine to over 8192.
	h.Parse(head("traceparent: "+tpValid, "baggage: k="+strings.Repeat("x", 4998), "baggage: j="+strings.Repeat("y", 4998)))
	v = a.Head(&h)
	if !v.Baggage.Oversized || !v.Reasons.Has(w3c.BaggageOversizedBytes) || !v.Problem() {
		t.Fatalf("combined baggage: %+v %v", v.Baggage, v.Reasons)
	}

	// 65 members.
	members := make([]string, 65)
	for i := range members {
		members[i] = "k=v"
	}
	h.Parse(head("traceparent: "+tpValid, "baggage: "+strings.Join(members, ",")))
	v = a.Head(&h)
	if v.Baggage.Members != 65 || !v.Baggage.Oversized || !v.Reasons.Has(w3c.BaggageOversizedMembers) {
		t.Fatalf("65 members: %+v %v", v.Baggage, v.Reasons)
	}

	// Configurable limit.
	small := NewAnalyzer(Options{Baggage: w3c.BaggageLimits{MaxBytes: 10, MaxMembers: 64, AtRiskBytes: 5}})
	h.Parse(head("traceparent: "+tpValid, "baggage: tenant=acme-corp"))
	if v := small.Head(&h); !v.Baggage.Oversized {
		t.Fatalf("limit 10 not applied: %+v", v.Baggage)
	}
}

func TestAnalyzePII(t *testing.T) {
	tests := []struct {
		name    string
		head    []byte
		pii     map[pii.Kind]int
		suspect int
		finding []Finding // checked for Header, Member, Part, Length
	}{
		{
			name: "email in baggage value, percent-encoded",
			head: head("traceparent: "+tpValid, "baggage: tenant=acme,user=jane.doe%40example.com"),
			pii:  map[pii.Kind]int{pii.Email: 1},
			finding: []Finding{{Kind: pii.Email, Header: "baggage", Member: 1, Part: PartValue,
				Length: len("jane.doe%40example.com")}},
		},
		{
			name: "email raw counts once even though decoding repeats it",
			head: head("traceparent: "+tpValid, "baggage: user=jane@example.com"),
			pii:  map[pii.Kind]int{pii.Email: 1},
		},
		{
			name:    "suspect key only",
			head:    head("traceparent: "+tpValid, "baggage: password=opaque"),
			suspect: 1,
		},
		{
			name: "key that is an email",
			head: head("traceparent: "+tpValid, "baggage: jane@example.com=1"),
			pii:  map[pii.Kind]int{pii.Email: 1},
			finding: []Finding{{Kind: pii.Email, Header: "baggage", Member: 0, Part: PartKey,
				Length: len("jane@example.com")}},
		},
		{
			name: "card and email in separate members of two headers",
			head: head("traceparent: "+tpValid, "baggage: card=4111111111111111", "baggage: mail=bob%40example.org"),
			pii:  map[pii.Kind]int{pii.PaymentCard: 1, pii.Email: 1}, suspect: 2,
		},
		{
			name: "uberctx header",
			head: head("uber-trace-id: 4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1", "uberctx-user-email: jane%40example.com"),
			pii:  map[pii.Kind]int{pii.Email: 1}, suspect: 1,
			finding: []Finding{{Kind: pii.Email, Header: "uberctx-*", Member: 0, Part: PartValue,
				Length: len("jane%40example.com")}},
		},
		{
			name: "ot-baggage header",
			head: head("ot-baggage-card: 4111 1111 1111 1111"),
			pii:  map[pii.Kind]int{pii.PaymentCard: 1}, suspect: 1,
		},
		{
			name: "property",
			head: head("traceparent: "+tpValid, "baggage: k=v;owner=jane@example.com"),
			pii:  map[pii.Kind]int{pii.Email: 1},
			finding: []Finding{{Kind: pii.Email, Header: "baggage", Member: 0, Part: PartProperty,
				Length: len("owner=jane@example.com")}},
		},
		{
			name: "opaque ids are not PII",
			head: head("traceparent: "+tpValid, "baggage: req=123e4567-e89b-12d3-a456-426614174000,ts=1700000000000,order=ORD-2024-000123"),
		},
	}
	a := NewAnalyzer(Options{})
	var h http1.Head
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.Parse(tt.head)
			v := a.Head(&h)
			for _, k := range pii.AllKinds() {
				if v.PII[k] != tt.pii[k] {
					t.Errorf("PII[%v] = %d, want %d", k, v.PII[k], tt.pii[k])
				}
			}
			if v.SuspectKeys != tt.suspect {
				t.Errorf("SuspectKeys = %d, want %d", v.SuspectKeys, tt.suspect)
			}
			if len(v.Findings) != v.PIITotal() {
				t.Errorf("%d findings for %d counts", len(v.Findings), v.PIITotal())
			}
			for i, want := range tt.finding {
				if i >= len(v.Findings) {
					t.Fatalf("finding %d missing", i)
				}
				if got := v.Findings[i]; got != want {
					t.Errorf("finding %d = %+v, want %+v", i, got, want)
				}
			}
		})
	}
}

func TestFingerprints(t *testing.T) {
	fp := pii.NewFingerprinterWithKey([]byte("test key"))
	a := NewAnalyzer(Options{Fingerprints: fp})
	var h http1.Head
	h.Parse(head("traceparent: "+tpValid, "baggage: a=jane@example.com,b=jane@example.com,c=joe@example.com"))
	v := a.Head(&h)
	if len(v.Findings) != 3 {
		t.Fatalf("findings: %+v", v.Findings)
	}
	f := v.Findings
	if f[0].Fingerprint == "" || f[0].Fingerprint != f[1].Fingerprint || f[0].Fingerprint == f[2].Fingerprint {
		t.Fatalf("fingerprints %q %q %q", f[0].Fingerprint, f[1].Fingerprint, f[2].Fingerprint)
	}
}

func TestFindingsAreBounded(t *testing.T) {
	a := NewAnalyzer(Options{})
	var h http1.Head
	h.Parse(head("traceparent: "+tpValid, "baggage: "+strings.Repeat("k=a@b.io,", 1000)+"k=a@b.io"))
	v := a.Head(&h)
	if v.PII[pii.Email] != 1001 || len(v.Findings) != MaxFindings || v.FindingsDropped != 1001-MaxFindings {
		t.Fatalf("emails %d, findings %d, dropped %d", v.PII[pii.Email], len(v.Findings), v.FindingsDropped)
	}
}

func TestTruncatedHead(t *testing.T) {
	a := NewAnalyzer(Options{})
	var h http1.Head
	h.Parse([]byte("GET / HTTP/1.1\r\ntraceparent: " + tpValid + "\r\nbaggage: a=1,b=jane@exa"))
	v := a.Head(&h)
	if !v.Truncated || v.Context != Valid || !v.Reasons.Has(http1.Truncated) || !v.Reasons.Has(ContextFieldCut) {
		t.Fatalf("truncated: %+v", v)
	}
	// The whole member a=1 is judged; the cut one is only sized.
	if v.Baggage.Headers != 1 || v.Baggage.Members != 2 || v.Baggage.Bytes != len("a=1,b=jane@exa") || v.PIITotal() != 0 {
		t.Fatalf("cut baggage: %+v pii %d", v.Baggage, v.PIITotal())
	}

	// A baggage header longer than the capture is oversized all the same.
	h.Parse([]byte("GET / HTTP/1.1\r\ntraceparent: " + tpValid + "\r\nbaggage: a=jane@example.com," + strings.Repeat("x", 9000)))
	v = a.Head(&h)
	if !v.Baggage.Oversized || !v.Reasons.Has(w3c.BaggageOversizedBytes) || v.PII[pii.Email] != 1 || v.Baggage.Members != 2 {
		t.Fatalf("cut big baggage: %+v %v", v.Baggage, v.Reasons)
	}

	// A traceparent cut by the capture is not a malformed one.
	h.Parse([]byte("GET / HTTP/1.1\r\ntraceparent: 00-4bf92f35"))
	v = a.Head(&h)
	if v.Context != Missing || v.Reasons.Has(w3c.TraceParentBadLength) || !v.Reasons.Has(ContextFieldCut) {
		t.Fatalf("cut traceparent: %v %v", v.Context, v.Reasons)
	}
}

func TestBareLFIsNotAProblem(t *testing.T) {
	a := NewAnalyzer(Options{})
	var h http1.Head
	h.Parse([]byte("GET / HTTP/1.1\ntraceparent: " + tpValid + "\n\n"))
	if v := a.Head(&h); v.Problem() {
		t.Fatalf("LF-only head is a problem: %v", v.Reasons)
	}
}

func TestFieldsForRecordHeaders(t *testing.T) {
	a := NewAnalyzer(Options{})
	v := a.Fields([]http1.Field{{Name: []byte("traceparent"), Value: []byte(tpValid)}, {Name: []byte("baggage"), Value: []byte("m=a@b.io")}})
	if v.Context != Valid || v.PII[pii.Email] != 1 {
		t.Fatalf("fields: %v %v", v.Context, v.PII)
	}
}

// typicalHead is a 600-byte request as an instrumented service sends it.
const typicalHead = "GET /api/v1/inventory/items?sku=AB-1234&warehouse=eu-west HTTP/1.1\r\n" +
	"Host: inventory.shop.svc.cluster.local:8080\r\n" +
	"User-Agent: checkout/2.14.1 (go-http-client/1.1)\r\n" +
	"Accept: application/json\r\n" +
	"Accept-Encoding: gzip\r\n" +
	"Content-Type: application/json\r\n" +
	"X-Request-Id: 5f0c6e0e-8d4b-4a53-9a38-0d6f3c1e2b7a\r\n" +
	"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n" +
	"tracestate: congo=t61rcWkgMzE,rojo=00f067aa0ba902b7\r\n" +
	"baggage: tenant=acme,region=eu-west-1,plan=enterprise,feature.canary=true,deployment=canary-7\r\n" +
	"Authorization: Bearer-less-internal\r\n" +
	"Connection: keep-alive\r\n" +
	"X-Forwarded-For: 10.2.3.4\r\n" +
	"Cache-Control: no-cache\r\n" +
	"\r\n"

// findingsHead is typicalHead with PII in its baggage.
var findingsHead = strings.Replace(typicalHead, "plan=enterprise",
	"user.email=jane.doe%40example.com,card=4111-1111-1111-1111,plan=enterprise", 1)

func TestTypicalHeadIsClean(t *testing.T) {
	a := NewAnalyzer(Options{})
	var h http1.Head
	h.Parse([]byte(typicalHead))
	if v := a.Head(&h); v.Problem() || v.Context != Valid || v.Baggage.Members != 5 {
		t.Fatalf("typical head: %v %v %+v", v.Context, v.Reasons, v.Baggage)
	}
	h.Parse([]byte(findingsHead))
	if v := a.Head(&h); v.PII[pii.Email] != 1 || v.PII[pii.PaymentCard] != 1 {
		t.Fatalf("findings head: %v", v.PII)
	}
}

func TestCleanRequestDoesNotAllocate(t *testing.T) {
	in := []byte(typicalHead)
	a := NewAnalyzer(Options{})
	var h http1.Head
	h.Parse(in)
	a.Head(&h)
	if n := testing.AllocsPerRun(200, func() { h.Parse(in); a.Head(&h) }); n != 0 {
		t.Fatalf("a clean request allocates %v times", n)
	}
}

// BenchmarkCleanRequest is the hot path: parse and judge a typical head.
// Budget: 1 µs and 0 allocs/op.
func BenchmarkCleanRequest(b *testing.B) {
	benchHead(b, []byte(typicalHead))
}

// BenchmarkRequestWithFindings: budget 5 µs.
func BenchmarkRequestWithFindings(b *testing.B) {
	benchHead(b, []byte(findingsHead))
}

// overheadHead is the request bench/overhead.sh has wrk send: W3C trace
// context and about 100 bytes of baggage, nothing else of note.
const overheadHead = "GET /api/v1/cart?id=42 HTTP/1.1\r\n" +
	"Host: propwatch-bench.invalid\r\n" +
	"User-Agent: propwatch-bench/1\r\n" +
	"Accept: */*\r\n" +
	"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n" +
	"tracestate: congo=t61rcWkgMzE,rojo=00f067aa0ba902b7\r\n" +
	"baggage: tenant.id=acme-corp,session.region=eu-west-1,feature.flags=new-checkout%3Bdark-mode,request.priority=high\r\n" +
	"\r\n"

// BenchmarkOverheadHead judges the head of the overhead benchmark, so that
// its per-request cost can be read without root.
func BenchmarkOverheadHead(b *testing.B) {
	benchHead(b, []byte(overheadHead))
}

func benchHead(b *testing.B, in []byte) {
	a := NewAnalyzer(Options{})
	var h http1.Head
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		h.Parse(in)
		a.Head(&h)
	}
}
