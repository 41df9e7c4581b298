//go:build linux

package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/propwatch/propwatch/internal/privtest"
)

// otlpReceiver is the OTLP trace service over gRPC, as a collector runs it,
// keeping every request it gets.
type otlpReceiver struct {
	coltrace.UnimplementedTraceServiceServer
	mu   sync.Mutex
	reqs []*coltrace.ExportTraceServiceRequest
}

func (r *otlpReceiver) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	return &coltrace.ExportTraceServiceResponse{}, nil
}

// startOTLPReceiver serves an otlpReceiver over gRPC on loopback until the
// test ends. It returns the receiver, the --otlp-endpoint that reaches it,
// and its server, for a test that stops it early.
func startOTLPReceiver(t *testing.T) (*otlpReceiver, string, *grpc.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	recv := &otlpReceiver{}
	srv := grpc.NewServer()
	coltrace.RegisterTraceServiceServer(srv, recv)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return recv, "http://" + ln.Addr().String(), srv
}

// await waits until at least want spans tagged with tag have come (15 s
// at most), and for the batch after them: a late span would be a span too
// many.
func (r *otlpReceiver) await(tag string, want int) {
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if spans, _ := r.spans(tag); len(spans) >= want {
			break
		}
	}
	time.Sleep(1500 * time.Millisecond) // the exporter sends a batch a second
}

// spans returns the spans received of the pairs tagged with tag, at either
// end (propwatch observes the whole host, and other processes' requests
// may have findings too), and every request received as JSON.
func (r *otlpReceiver) spans(tag string) ([]*tracepb.Span, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*tracepb.Span
	var wire strings.Builder
	for _, req := range r.reqs {
		b, _ := protojson.Marshal(req)
		wire.Write(b)
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					if strings.HasSuffix(attrString(s, "propwatch.source"), tag) ||
						strings.HasSuffix(attrString(s, "propwatch.destination"), tag) {
						out = append(out, s)
					}
				}
			}
		}
	}
	return out, wire.String()
}

func attrString(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

// attrStrings is the string array attribute key of s, or nil.
func attrStrings(s *tracepb.Span, key string) []string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			var out []string
			for _, v := range kv.Value.GetArrayValue().GetValues() {
				out = append(out, v.GetStringValue())
			}
			return out
		}
	}
	return nil
}

// hasAttr reports whether s has the attribute key.
func hasAttr(s *tracepb.Span, key string) bool {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return true
		}
	}
	return false
}

func attrInt(s *tracepb.Span, key string) int64 {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value.GetIntValue()
		}
	}
	return -1
}

// TestObserveOTLP: real processes exchange traced HTTP/1.1 over loopback,
// `propwatch run --otlp-endpoint` watches them, and an OTLP/gRPC receiver
// gets one evidence span per traced, sampled request with a finding: in
// that request's trace, child of the caller's span, with the finding's
// codes and counts and no planted value. Then the receiver stops:
// propwatch keeps counting the pair, and its final counts say the spans
// it could not export.
func TestObserveOTLP(t *testing.T) {
	privtest.RequireBPF(t)
	bin := buildPropwatch(t)
	tag := fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	svc := func(name string) string { return "e2e-" + name + "-" + tag }

	recv, endpoint, grpcSrv := startOTLPReceiver(t)
	server := startPeer(t, "server", svc("inventory"))
	addr := server.line(t)
	reportPath := filepath.Join(t.TempDir(), "report.json")
	// A rate far above the traffic, so that every span is accounted for
	// exactly; the limit has tests of its own.
	pw := startPropwatch(t, bin, "--quiet", "--report", reportPath,
		"--otlp-endpoint", endpoint, "--otlp-spans-per-second", "1000")

	client := startPeer(t, "otlp-client", svc("checkout"), "PEER_ADDR="+addr, "PEER_PHASE=1")
	if got := client.line(t); got != "done" {
		t.Fatalf("client: %q", got)
	}
	const wantSpans = otlpPII + otlpSuspect
	recv.await(tag, wantSpans)
	spans, wire := recv.spans(tag)

	want := map[string]string{} // trace id -> parent span id, name
	for n := range otlpPII + otlpSuspect {
		trace, parent := otlpIDs(n)
		name := "propwatch: pii"
		if n >= otlpPII {
			name = "propwatch: suspect_keys"
		}
		want[trace] = parent + " " + name
	}
	got := map[string]string{}
	for _, s := range spans {
		trace, parent := hex.EncodeToString(s.TraceId), hex.EncodeToString(s.ParentSpanId)
		got[trace] = parent + " " + s.Name
		if src, dst := attrString(s, "propwatch.source"), attrString(s, "propwatch.destination"); src != svc("checkout") || dst != svc("inventory") ||
			attrString(s, "propwatch.protocol") != "http" {
			t.Errorf("span %s: pair %s -> %s", trace, src, dst)
		}
		if strings.HasSuffix(s.Name, "pii") && (attrInt(s, "propwatch.pii.email") != 1 || attrInt(s, "propwatch.baggage.members") != 1) {
			t.Errorf("span %s: attributes %v", trace, s.Attributes)
		}
		if strings.HasSuffix(s.Name, "suspect_keys") && attrInt(s, "propwatch.suspect_keys") != 1 {
			t.Errorf("span %s: attributes %v", trace, s.Attributes)
		}
		if len(s.SpanId) != 8 || hex.EncodeToString(s.SpanId) == parent {
			t.Errorf("span %s: span id %x", trace, s.SpanId)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("spans (trace id: parent name)\n got %v\nwant %v", got, want)
	}
	if len(spans) != wantSpans {
		t.Errorf("%d spans, want %d", len(spans), wantSpans)
	} else {
		b, _ := protojson.Marshal(spans[0])
		t.Logf("an evidence span as received: %s", b)
	}

	// The receiver goes away; the traffic goes on.
	grpcSrv.Stop()
	after := startPeer(t, "otlp-client", svc("checkout"), "PEER_ADDR="+addr, "PEER_PHASE=2")
	if got := after.line(t); got != "done" {
		t.Fatalf("client after the stop: %q", got)
	}
	time.Sleep(time.Second) // the name delay
	pw.stop(t)

	_, _, pairs := pw.report(t, reportPath, "http", tag)
	p := pairs[[2]string{svc("checkout"), svc("inventory")}]
	wantRequests := uint64(otlpPII + otlpSuspect + otlpClean + otlpMissing + otlpUnsampled + otlpAfterStop)
	if p.Requests != wantRequests || p.MissingContext != otlpMissing {
		t.Errorf("checkout -> inventory: %d requests, %d missing; want %d, %d", p.Requests, p.MissingContext, wantRequests, otlpMissing)
	}
	log := pw.log.String()
	t.Logf("propwatch's log:\n%s", log)
	// The counts are the whole host's: another process of this host that
	// sends traced requests with findings meanwhile adds to them. This
	// test's own spans are counted exactly above, by their tagged pair.
	counts := otlpCounts(t, log)
	if counts["exported"] < wantSpans || counts["not_sampled"] < otlpUnsampled || counts["export_failed"] < otlpAfterStop {
		t.Errorf("otlp counts %v, want at least exported=%d not_sampled=%d export_failed=%d\n%s",
			counts, wantSpans, otlpUnsampled, otlpAfterStop, log)
	}
	if n := strings.Count(log, "cannot export evidence spans"); n != 1 {
		t.Errorf("%d lines about the down collector, want 1:\n%s", n, log)
	}
	for name, out := range map[string]string{"spans": wire, "log": log} {
		for _, planted := range []string{plantedEmail, "planted.canary", "password", "acme", "/otlp/"} {
			if strings.Contains(out, planted) {
				t.Errorf("%s contains planted value %q", name, planted)
			}
		}
	}
}

// otlpCounts reads the final "otlp evidence spans" line of the log.
func otlpCounts(t *testing.T, log string) map[string]int {
	t.Helper()
	line := regexp.MustCompile(`msg="otlp evidence spans"(.*)`).FindStringSubmatch(log)
	if line == nil {
		t.Fatalf("no otlp counts in the log:\n%s", log)
	}
	out := map[string]int{}
	for _, m := range regexp.MustCompile(`(\w+)=(\d+)`).FindAllStringSubmatch(line[1], -1) {
		out[m[1]], _ = strconv.Atoi(m[2])
	}
	return out
}
