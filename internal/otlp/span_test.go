package otlp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/propwatch/propwatch/internal/parse"
	"github.com/propwatch/propwatch/internal/parse/http1"
	"github.com/propwatch/propwatch/internal/report"
)

// The ids of the test requests' traceparent.
const (
	testTraceID  = "4bf92f3577b34da6a3ce929d0e0e4736"
	testParentID = "00f067aa0ba902b7"
	testTP       = "00-" + testTraceID + "-" + testParentID + "-01"
)

// Canaries: values planted in every place of a request a value can hide.
// None may appear in any span, attribute or resource.
var canaries = []string{
	"canary-jane@example.org", "CanaryKey", "canaryvalue", "canary-path", "canary-host",
	"4111111111111111", "canary-state", "canaryprop", "CanaryJaeger", "canary-secret-token",
}

// leakyHead is a request with a valid traceparent and a finding of every
// kind, the canaries planted in its path, host, tracestate, baggage keys,
// values and properties and other baggage carriers.
func leakyHead() string {
	return "GET /canary-path?q=canaryvalue HTTP/1.1\r\n" +
		"Host: canary-host\r\n" +
		"traceparent: " + testTP + "\r\n" +
		"tracestate: canary-state=1,canary-state=2\r\n" +
		"baggage: CanaryKey=canaryvalue;canaryprop,user.email=canary-jane%40example.org,card=4111111111111111," +
		"password=canary-secret-token,huge=" + strings.Repeat("x", 5000) + "\r\n" +
		"uberctx-CanaryJaeger: canary-jane@example.org\r\n" +
		"\r\n"
}

// judge parses and judges a head.
func judge(t testing.TB, head string) *parse.Verdict {
	t.Helper()
	var h http1.Head
	if h.Parse([]byte(head)) != http1.StatusComplete {
		t.Fatal("head did not parse")
	}
	return parse.NewAnalyzer(parse.Options{}).Head(&h)
}

// recorder is a SpanExporter that keeps what it is given, and can be made
// to fail or to hang until its context ends.
type recorder struct {
	mu    sync.Mutex
	spans tracetest.SpanStubs
	fail  error
	hang  bool
	calls int
}

func (r *recorder) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	r.mu.Lock()
	r.calls++
	fail, hang := r.fail, r.hang
	r.mu.Unlock()
	if hang {
		<-ctx.Done()
		return ctx.Err()
	}
	if fail != nil {
		return fail
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spans = append(r.spans, tracetest.SpanStubsFromReadOnlySpans(spans)...)
	return nil
}

func (r *recorder) Shutdown(context.Context) error { return nil }

func (r *recorder) got() tracetest.SpanStubs {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.spans)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newTestExporter(t *testing.T, rec *recorder, mod func(*Config)) *Exporter {
	t.Helper()
	cfg := Config{Exporter: rec, Host: "testhost", Log: quiet, FlushInterval: 10 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	x, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Shutdown(context.Background()) })
	return x
}

var testPair = report.PairKey{Source: "checkout", Destination: "inventory", Protocol: "http"}

// TestSpanExact builds the span of a request with a finding of every kind
// and checks all of it: ids, name, kind, times, resource, and the
// attributes, exactly; and that no canary appears anywhere in it.
func TestSpanExact(t *testing.T) {
	rec := &recorder{}
	x := newTestExporter(t, rec, nil)
	at := time.Unix(1700000000, 123456789)
	x.Evidence(at, testPair, judge(t, leakyHead()), ChainNewRoot)
	if err := x.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := rec.got()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	if got := s.SpanContext.TraceID().String(); got != testTraceID {
		t.Errorf("trace id %s", got)
	}
	if got := s.Parent.SpanID().String(); got != testParentID || !s.Parent.IsRemote() {
		t.Errorf("parent %s remote %v", got, s.Parent.IsRemote())
	}
	if !s.SpanContext.SpanID().IsValid() || s.SpanContext.SpanID() == s.Parent.SpanID() {
		t.Errorf("span id %s", s.SpanContext.SpanID())
	}
	if s.Name != "propwatch: new_root" || s.SpanKind != trace.SpanKindInternal {
		t.Errorf("name %q kind %v", s.Name, s.SpanKind)
	}
	if !s.StartTime.Equal(at) || !s.EndTime.Equal(at) {
		t.Errorf("times %v %v", s.StartTime, s.EndTime)
	}
	res := map[string]string{}
	for _, kv := range s.Resource.Attributes() {
		res[string(kv.Key)] = kv.Value.AsString()
	}
	if !reflect.DeepEqual(res, map[string]string{"service.name": "propwatch", "host.name": "testhost"}) {
		t.Errorf("resource %v", res)
	}

	want := []attribute.KeyValue{
		attribute.String(AttrSource, "checkout"),
		attribute.String(AttrDestination, "inventory"),
		attribute.String(AttrProtocol, "http"),
		attribute.StringSlice(AttrFindings, []string{"new_root", "pii", "suspect_keys", "baggage_at_risk", "defects"}),
		attribute.StringSlice(AttrFormats, []string{"w3c"}), // uberctx-* alone is baggage, not a format
		attribute.StringSlice(AttrDefects, []string{"tracestate.duplicate_key"}),
		attribute.Int(AttrBaggageHeaders, 1),
		attribute.Int(AttrBaggageMembers, 5),
		attribute.Int(AttrBaggageBytes, len(leakyHead())-len("GET /canary-path?q=canaryvalue HTTP/1.1\r\nHost: canary-host\r\ntraceparent: "+testTP+"\r\ntracestate: canary-state=1,canary-state=2\r\nbaggage: ")-len("\r\nuberctx-CanaryJaeger: canary-jane@example.org\r\n\r\n")),
		attribute.Bool(AttrBaggageOversized, false),
		attribute.Bool(AttrBaggageAtRisk, true),
		attribute.Int(AttrPIIPrefix+"email", 2),
		attribute.Int(AttrPIIPrefix+"payment_card", 1),
		attribute.StringSlice(AttrPIIKinds, []string{"email", "payment_card"}),
		attribute.Int(AttrSuspectKeys, 3), // user.email, card, password
		attribute.String(AttrChain, "new_root"),
	}
	if !reflect.DeepEqual(s.Attributes, want) {
		t.Errorf("attributes\n got %v\nwant %v", s.Attributes, want)
	}
	assertNoCanary(t, fmt.Sprintf("%s %v %v %v", s.Name, s.Attributes, s.Resource.Attributes(), s.Events))
}

func assertNoCanary(t *testing.T, out string) {
	t.Helper()
	low := strings.ToLower(out)
	for _, c := range canaries {
		if strings.Contains(low, strings.ToLower(c)) {
			t.Errorf("planted value %q in output: %s", c, out)
		}
	}
}

// TestSpanNames: the name is the most telling finding; defects alone name
// the first defect code.
func TestSpanNames(t *testing.T) {
	tests := []struct {
		head, chain, name string
		findings          []string
	}{
		{"traceparent: " + testTP + "\r\nbaggage: a=canary-jane%40example.org\r\n", "", "propwatch: pii", []string{"pii"}},
		{"traceparent: " + testTP + "\r\nbaggage: password=1\r\n", "", "propwatch: suspect_keys", []string{"suspect_keys"}},
		{"traceparent: " + testTP + "\r\nbaggage: a=" + strings.Repeat("y", 9000) + "\r\n", "",
			"propwatch: baggage_oversized", []string{"baggage_oversized", "baggage_at_risk", "defects"}},
		{"traceparent: 00-" + testTraceID + "-" + testParentID + "-09\r\n", "", "propwatch: traceparent.reserved_flags", []string{"defects"}},
		{"traceparent: " + testTP + "\r\n", ChainNewRoot, "propwatch: new_root", []string{"new_root"}},
	}
	for _, tt := range tests {
		v := judge(t, "GET / HTTP/1.1\r\nHost: x\r\n"+tt.head+"\r\n")
		if !hasFinding(v, tt.chain) {
			t.Errorf("%s: no finding", tt.name)
			continue
		}
		var e evidence
		e.set(time.Time{}, testPair, v, tt.chain)
		f := e.findings()
		if got := e.spanName(f); got != tt.name || !slices.Equal(f, tt.findings) {
			t.Errorf("name %q findings %v, want %q %v", got, f, tt.name, tt.findings)
		}
	}
}

// TestNoSpan: no span for a request without a finding, without a valid
// traceparent (missing, invalid, or in another format only), and unsampled
// requests are counted, not exported.
func TestNoSpan(t *testing.T) {
	rec := &recorder{}
	x := newTestExporter(t, rec, nil)
	heads := []string{
		"traceparent: " + testTP + "\r\n",                                                  // no finding
		"baggage: a=canary-jane%40example.org\r\n",                                         // no context
		"traceparent: 00-" + strings.ToUpper(testTraceID) + "-" + testParentID + "-01\r\n", // invalid
		"b3: " + testTraceID + "-" + testParentID + "-1\r\nbaggage: a=canary-jane%40example.org\r\n",
		"traceparent: 00-" + testTraceID + "-" + testParentID + "-00\r\nbaggage: a=canary-jane%40example.org\r\n",
	}
	for _, h := range heads {
		x.Evidence(time.Now(), testPair, judge(t, "GET / HTTP/1.1\r\nHost: x\r\n"+h+"\r\n"), "")
	}
	x.Shutdown(context.Background())
	if n := len(rec.got()); n != 0 {
		t.Errorf("%d spans", n)
	}
	if c := x.Counts(); c["not_sampled"] != 1 || c["exported"] != 0 {
		t.Errorf("counts %v", c)
	}
}

// TestSanitizedPair: a pair's names are those of the metrics, sanitized.
func TestSanitizedPair(t *testing.T) {
	rec := &recorder{}
	x := newTestExporter(t, rec, nil)
	pair := report.PairKey{Source: "bad\x1b[31mname", Destination: strings.Repeat("d", 300), Protocol: "http"}
	x.Evidence(time.Now(), pair, judge(t, "GET / HTTP/1.1\r\nHost: x\r\ntraceparent: "+testTP+"\r\nbaggage: password=1\r\n\r\n"), "")
	x.Shutdown(context.Background())
	spans := rec.got()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	for _, kv := range spans[0].Attributes {
		switch kv.Key {
		case AttrSource:
			if kv.Value.AsString() != "bad?[31mname" {
				t.Errorf("source %q", kv.Value.AsString())
			}
		case AttrDestination:
			if len(kv.Value.AsString()) != report.MaxLabelBytes {
				t.Errorf("destination %d bytes", len(kv.Value.AsString()))
			}
		}
	}
}

// TestSpanTLS: a request read at a TLS library has propwatch.tls=true on
// its span; one read from socket bytes has no such attribute.
func TestSpanTLS(t *testing.T) {
	rec := &recorder{}
	x := newTestExporter(t, rec, nil)
	head := "GET / HTTP/1.1\r\nHost: x\r\ntraceparent: " + testTP + "\r\nbaggage: password=1\r\n\r\n"
	tlsPair := testPair
	tlsPair.TLS = true
	x.Evidence(time.Now(), testPair, judge(t, head), "")
	x.Evidence(time.Now(), tlsPair, judge(t, head), "")
	x.Shutdown(context.Background())
	spans := rec.got()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	var tls, plain int
	for _, sp := range spans {
		var v attribute.Value
		var found bool
		for _, kv := range sp.Attributes {
			if kv.Key == AttrTLS {
				v, found = kv.Value, true
			}
		}
		switch {
		case !found:
			plain++
		case v.Type() == attribute.BOOL && v.AsBool():
			tls++
		default:
			t.Errorf("%s = %s", AttrTLS, v.String())
		}
	}
	if tls != 1 || plain != 1 {
		t.Errorf("%d spans with %s=true and %d without, want 1 and 1", tls, AttrTLS, plain)
	}
}
