package formats

import "testing"

// benchNames is the header list of a typical browser or service request:
// mostly names this package does not know, plus a few it does.
func benchNames() [][]byte {
	names := []string{
		"Host", "User-Agent", "Accept", "Accept-Encoding", "Accept-Language", "Content-Type",
		"Content-Length", "Cookie", "Authorization", "X-Forwarded-For", "X-Request-Id",
		"traceparent", "tracestate", "baggage", "X-B3-TraceId", "X-Amzn-Trace-Id",
	}
	out := make([][]byte, len(names))
	for i, n := range names {
		out[i] = []byte(n)
	}
	return out
}

func BenchmarkLookup(b *testing.B) {
	names := benchNames()
	b.ReportAllocs()
	var sink Field
	for b.Loop() {
		for _, n := range names {
			sink += Lookup(n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(names)), "ns/name")
	_ = sink
}

// benchHeaders is a request with B3 multiple headers and X-Ray.
func benchHeaders() *Headers {
	var h Headers
	for _, x := range []hdr{
		{"X-B3-TraceId", tid128}, {"X-B3-SpanId", sid}, {"X-B3-ParentSpanId", pid}, {"X-B3-Sampled", "1"},
		{"X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"},
	} {
		h.Add(Lookup([]byte(x.name)), []byte(x.value))
	}
	return &h
}

func BenchmarkEvaluate(b *testing.B) {
	h := benchHeaders()
	dst := make([]Result, 0, 4)
	b.ReportAllocs()
	for b.Loop() {
		dst = h.Evaluate(dst[:0])
	}
	if len(dst) != 2 || !dst[0].Valid || !dst[1].Valid {
		b.Fatalf("unexpected results %+v", dst)
	}
}

func BenchmarkEvaluateEveryFormat(b *testing.B) {
	var h Headers
	for _, x := range everyFormat() {
		h.Add(Lookup([]byte(x.name)), []byte(x.value))
	}
	dst := make([]Result, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		dst = h.Evaluate(dst[:0])
	}
}

// BenchmarkRequest is the whole per-request cost for a request with none of
// these formats: Lookup every name, Add nothing, Evaluate, Reset.
func BenchmarkRequestWithoutFormats(b *testing.B) {
	names := benchNames()[:14]
	var h Headers
	dst := make([]Result, 0, 4)
	b.ReportAllocs()
	for b.Loop() {
		for _, n := range names {
			if f := Lookup(n); f != FieldNone {
				h.Add(f, n)
			}
		}
		dst = h.Evaluate(dst[:0])
		h.Reset()
	}
}
