package http2

import "testing"

// discard is a Handler that keeps nothing.
type discard struct{ blocks int }

func (d *discard) Block(*Block)   { d.blocks++ }
func (d *discard) Failure(string) {}

// BenchmarkConnGRPC reads 100 gRPC unary requests (HEADERS with
// traceparent and baggage, each followed by a small DATA frame the
// capture would skip) from a connection seen from its start, in 4 KiB
// chunks: the decoder's steady state, where every field but traceparent
// is an indexed reference.
func BenchmarkConnGRPC(b *testing.B) {
	cl := newClient(1 << 14)
	cl.preface()
	for i := range 100 {
		cl.request(0, ":method", "POST", ":scheme", "http", ":path", "/pkg.Svc/Method",
			":authority", "server:50051", "content-type", "application/grpc", "te", "trailers",
			"user-agent", "grpc-go/1.85.0", "traceparent", traceparent(i), "baggage", "tenant=acme,region=eu")
	}
	data := cl.buf.Bytes()
	c := NewConn(Config{})
	var h discard
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		for p, first := data, true; len(p) > 0; first = false {
			n := min(len(p), 4096)
			c.Feed(p[:n], first, false, &h)
			p = p[n:]
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/request")
}

// BenchmarkConnJoined decodes requests on a connection joined mid-way,
// each inserting its traceparent under a name the decoder must infer first.
func BenchmarkConnJoined(b *testing.B) {
	cl := newClient(1 << 14)
	cl.preface()
	cl.request(0, ":method", "POST", ":path", "/pkg.Svc/Method", "traceparent", traceparent(0))
	start := cl.buf.Len()
	for i := range 100 {
		cl.request(0, ":method", "POST", ":path", "/pkg.Svc/Method", "traceparent", traceparent(i+1))
	}
	data := cl.buf.Bytes()[start:]
	c := NewConn(Config{})
	var h discard
	b.ReportAllocs()
	for b.Loop() {
		c.Reset(Config{})
		c.Feed(data, true, false, &h)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/request")
}
