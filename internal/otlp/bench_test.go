package otlp

import (
	"testing"
	"time"
)

// BenchmarkEvidenceClean is the cost a traced request without a finding
// adds on the capture goroutine: a look at the verdict.
func BenchmarkEvidenceClean(b *testing.B) {
	x := newBenchExporter(b)
	v := judge(b, "GET / HTTP/1.1\r\nHost: x\r\ntraceparent: "+testTP+"\r\n\r\n")
	at := time.Unix(1000, 0)
	b.ReportAllocs()
	for b.Loop() {
		x.Evidence(at, testPair, v, "")
	}
}

// BenchmarkEvidenceRateLimited is the cost of a request with a finding on
// a pair past its rate, the common case under load.
func BenchmarkEvidenceRateLimited(b *testing.B) {
	x := newBenchExporter(b)
	v := judge(b, leakyHead())
	at := time.Unix(1000, 0)
	b.ReportAllocs()
	for b.Loop() {
		x.Evidence(at, testPair, v, "")
	}
}

func newBenchExporter(b *testing.B) *Exporter {
	x, err := New(Config{Exporter: &recorder{}, Host: "bench", Log: quiet})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { x.Shutdown(b.Context()) })
	return x
}
