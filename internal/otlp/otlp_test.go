package otlp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/propwatch/propwatch/internal/report"
)

// sum adds up every result: each span offered ends in exactly one.
func sum(c map[string]uint64) uint64 {
	var n uint64
	for _, v := range c {
		n += v
	}
	return n
}

// offer hands n findings to x, each on its own pair so that the rate limit
// stays out of the way, and returns how long the calls took.
func offer(t *testing.T, x *Exporter, n int) time.Duration {
	t.Helper()
	v := judge(t, leakyHead())
	start := time.Now()
	for i := range n {
		x.Evidence(time.Now(), report.PairKey{Source: fmt.Sprint("s", i), Destination: "d", Protocol: "http"}, v, "")
	}
	return time.Since(start)
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestHungCollectorNeverBlocks: with an export that hangs, Evidence still
// returns at once, the spans past the queue are counted as dropped, and
// after Shutdown every span offered is counted in one result.
func TestHungCollectorNeverBlocks(t *testing.T) {
	rec := &recorder{hang: true}
	x := newTestExporter(t, rec, func(c *Config) {
		c.QueueSize, c.BatchSize, c.ExportTimeout = 8, 4, time.Hour
	})
	const n = 10000
	if took := offer(t, x, n); took > 2*time.Second {
		t.Errorf("offering %d spans took %v", n, took)
	}
	c := x.Counts()
	if c["dropped_queue_full"] < n-8-4 {
		t.Errorf("counts %v", c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	x.Shutdown(ctx) // gives up on the hung export, which is then failed
	c = x.Counts()
	if sum(c) != n || c["exported"] != 0 || c["export_failed"] == 0 {
		t.Errorf("counts %v, want %d in all", c, n)
	}
	// After Shutdown, offers are counted too, not exported.
	offer(t, x, 3)
	if c := x.Counts(); sum(c) != n+3 {
		t.Errorf("counts after shutdown %v", c)
	}
}

// TestFailuresCountedLoggedOnce: failed exports count their spans, and a
// collector that stays down is logged once a minute, not per batch; when
// it comes back, that is logged once.
func TestFailuresCountedLoggedOnce(t *testing.T) {
	rec := &recorder{fail: errors.New("collector down")}
	var logBuf syncBuffer
	x := newTestExporter(t, rec, func(c *Config) {
		c.BatchSize = 2
		c.Log = slog.New(slog.NewTextHandler(&logBuf, nil))
	})
	offer(t, x, 10)
	waitFor(t, "failed exports", func() bool { return x.Counts()["export_failed"] == 10 })
	rec.mu.Lock()
	calls := rec.calls
	rec.fail = nil
	rec.mu.Unlock()
	if calls < 5 {
		t.Errorf("%d exports for 10 spans in batches of 2", calls)
	}
	offer(t, x, 3)
	waitFor(t, "exports", func() bool { return x.Counts()["exported"] == 3 })
	out := logBuf.String()
	if n := strings.Count(out, "cannot export"); n != 1 {
		t.Errorf("%d failure lines:\n%s", n, out)
	}
	if n := strings.Count(out, "exporting evidence spans again"); n != 1 {
		t.Errorf("%d recovery lines:\n%s", n, out)
	}
}

// TestRateLimitedPerPair: one pair gets its rate, another its own.
func TestRateLimitedPerPair(t *testing.T) {
	rec := &recorder{}
	x := newTestExporter(t, rec, func(c *Config) { c.SpansPerSecond = 10 })
	v := judge(t, leakyHead())
	at := time.Unix(1000, 0)
	for range 100 {
		x.Evidence(at, testPair, v, "")
		x.Evidence(at, report.PairKey{Source: "other"}, v, "")
	}
	x.Shutdown(context.Background())
	if c := x.Counts(); c["exported"] != 20 || c["rate_limited"] != 180 {
		t.Errorf("counts %v", c)
	}
	want := `
# HELP propwatch_otlp_spans_total ` + descHelp() + `
# TYPE propwatch_otlp_spans_total counter
propwatch_otlp_spans_total{result="dropped_queue_full"} 0
propwatch_otlp_spans_total{result="export_failed"} 0
propwatch_otlp_spans_total{result="exported"} 20
propwatch_otlp_spans_total{result="not_sampled"} 0
propwatch_otlp_spans_total{result="rate_limited"} 180
`
	if err := testutil.CollectAndCompare(x, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// descHelp is the help text of propwatch_otlp_spans_total.
func descHelp() string {
	s := descSpans.String()
	i := strings.Index(s, `help: "`) + len(`help: "`)
	return s[i : i+strings.Index(s[i:], `"`)]
}

func TestEndpoint(t *testing.T) {
	for _, ok := range []string{"", "collector:4317", "[::1]:4317", "http://127.0.0.1:4317", "https://otel.example:443"} {
		if _, err := grpcOptions(ok, time.Second); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"collector", "ftp://x:1", "http://", "http://%zz"} {
		if _, err := grpcOptions(bad, time.Second); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	if Configured("") || !Configured("x:1") {
		t.Error("Configured without the variables")
	}
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://x:1")
	if !Configured("") {
		t.Error("Configured ignores OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	}
}

// receiver is an OTLP trace service that keeps the requests it gets.
type receiver struct {
	coltrace.UnimplementedTraceServiceServer
	mu   sync.Mutex
	reqs []*coltrace.ExportTraceServiceRequest
}

func (r *receiver) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	return &coltrace.ExportTraceServiceResponse{}, nil
}

func (r *receiver) spans() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, req := range r.reqs {
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				n += len(ss.Spans)
			}
		}
	}
	return n
}

// TestOTLPReceiver sends a span to a real OTLP trace service over gRPC on
// loopback: it arrives in the request's trace, child of the caller's span,
// with the finding's codes and counts and no planted value anywhere in
// what went over the wire. Then the receiver stops: Evidence goes on
// returning at once and the spans it is offered are counted as failed.
func TestOTLPReceiver(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	recv := &receiver{}
	srv := grpc.NewServer()
	coltrace.RegisterTraceServiceServer(srv, recv)
	go srv.Serve(ln)
	defer srv.Stop()

	x, err := New(Config{Endpoint: "http://" + ln.Addr().String(), Host: "testhost", Log: quiet,
		FlushInterval: 10 * time.Millisecond, ExportTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Shutdown(context.Background())
	x.Evidence(time.Now(), testPair, judge(t, leakyHead()), "")
	waitFor(t, "the span at the receiver", func() bool { return recv.spans() == 1 })

	recv.mu.Lock()
	req := recv.reqs[0]
	recv.mu.Unlock()
	rs := req.ResourceSpans[0]
	span := rs.ScopeSpans[0].Spans[0]
	if fmt.Sprintf("%x", span.TraceId) != testTraceID || fmt.Sprintf("%x", span.ParentSpanId) != testParentID {
		t.Errorf("trace %x parent %x", span.TraceId, span.ParentSpanId)
	}
	if span.Name != "propwatch: pii" {
		t.Errorf("name %q", span.Name)
	}
	attrs := map[string]*commonpb.AnyValue{}
	for _, kv := range span.Attributes {
		attrs[kv.Key] = kv.Value
	}
	if attrs[AttrPIIPrefix+"email"].GetIntValue() != 2 || attrs[AttrBaggageMembers].GetIntValue() != 5 ||
		attrs[AttrSource].GetStringValue() != "checkout" || attrs[AttrChain] != nil {
		t.Errorf("attributes %v", span.Attributes)
	}
	res := map[string]string{}
	for _, kv := range rs.Resource.Attributes {
		res[kv.Key] = kv.Value.GetStringValue()
	}
	if res["service.name"] != "propwatch" || res["host.name"] != "testhost" {
		t.Errorf("resource %v", res)
	}
	wire, err := protojson.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	assertNoCanary(t, string(wire))

	srv.Stop()
	const n = 50
	if took := offer(t, x, n); took > time.Second {
		t.Errorf("offering %d spans with the receiver down took %v", n, took)
	}
	waitFor(t, "the failed exports", func() bool { return x.Counts()["export_failed"] == n })
	if c := x.Counts(); c["exported"] != 1 || sum(c) != n+1 {
		t.Errorf("counts %v", c)
	}
}

// syncBuffer is a bytes.Buffer safe for the worker's log and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
