//go:build linux

package main

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/propwatch/propwatch/internal/privtest"
)

// freshIDs reads "fresh <traceparent>" lines of a peer until it has n (or,
// when until is set, until that line), and returns trace id -> parent id.
func freshIDs(t *testing.T, p *peer, n int, until string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for until != "" || len(out) < n {
		line := p.line(t)
		if until != "" && line == until {
			break
		}
		tp, ok := strings.CutPrefix(line, "fresh ")
		parts := strings.Split(tp, "-")
		if !ok || len(parts) != 4 {
			t.Fatalf("peer: %q, want a fresh traceparent", line)
		}
		if _, dup := out[parts[1]]; dup {
			t.Fatalf("fresh trace %s twice", parts[1])
		}
		out[parts[1]] = parts[2]
	}
	if len(out) != n {
		t.Fatalf("%d fresh traces, want %d", len(out), n)
	}
	return out
}

// checkNewRootSpan checks that s is the evidence span of a new root that
// src sent dst over protocol, and nothing else, and returns its trace and
// parent span ids in hex.
func checkNewRootSpan(t *testing.T, s *tracepb.Span, src, dst, protocol string) (trace, parent string) {
	t.Helper()
	trace, parent = hex.EncodeToString(s.TraceId), hex.EncodeToString(s.ParentSpanId)
	if s.Name != "propwatch: new_root" || attrString(s, "propwatch.chain") != "new_root" ||
		!slices.Equal(attrStrings(s, "propwatch.findings"), []string{"new_root"}) ||
		!slices.Equal(attrStrings(s, "propwatch.formats"), []string{"w3c"}) {
		t.Errorf("span %s %q: attributes %v", trace, s.Name, s.Attributes)
	}
	if attrString(s, "propwatch.source") != src || attrString(s, "propwatch.destination") != dst ||
		attrString(s, "propwatch.protocol") != protocol {
		t.Errorf("span %s: attributes %v, want the pair %s -> %s (%s)", trace, s.Attributes, src, dst, protocol)
	}
	if s.Kind != tracepb.Span_SPAN_KIND_INTERNAL || len(s.SpanId) != 8 || hex.EncodeToString(s.SpanId) == parent {
		t.Errorf("span %s: kind %v, span id %x", trace, s.Kind, s.SpanId)
	}
	return trace, parent
}

// TestObserveOTLPNewRoot: the continuity test's service b receives traced
// requests from an entry client a and calls c for each, with the request's
// trace, from a detached job with a fresh trace, or without context.
// `propwatch run --otlp-endpoint` exports exactly one span per fresh
// trace, "propwatch: new_root" with propwatch.chain=new_root, inside that
// fresh trace (the orphan explains itself), child of the span b's
// traceparent named; nothing for the continued, dropped and entry
// requests, which have no other finding; and no received trace id, path
// or URL comes out.
func TestObserveOTLPNewRoot(t *testing.T) {
	privtest.RequireBPF(t)
	bin := buildPropwatch(t)
	tag := fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	svc := func(name string) string { return "e2e-" + name + "-" + tag }

	recv, endpoint, _ := startOTLPReceiver(t)
	c := startPeer(t, "server", svc("c"))
	cAddr := c.line(t)
	b := startPeer(t, "chain-b", svc("b"), "PEER_ADDR="+cAddr, "CHAIN_PRINT_FRESH=1")
	bAddr := b.line(t)
	reportPath := filepath.Join(t.TempDir(), "report.json")
	pw := startPropwatch(t, bin, "--quiet", "--report", reportPath,
		"--otlp-endpoint", endpoint, "--otlp-spans-per-second", "1000")
	if got := startPeer(t, "chain-a", svc("a"), "PEER_ADDR="+bAddr).line(t); got != "done" {
		t.Fatalf("entry client: %q", got)
	}
	want := freshIDs(t, b, chainDetached, "")
	recv.await(tag, chainDetached)
	pw.stop(t) // which exports what is still queued: counted too
	spans, wire := recv.spans(tag)

	got := map[string]string{}
	for _, s := range spans {
		trace, parent := checkNewRootSpan(t, s, svc("b"), svc("c"), "http")
		if _, dup := got[trace]; dup {
			t.Errorf("two spans in trace %s", trace)
		}
		got[trace] = parent
	}
	if len(spans) != chainDetached || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%d spans (trace id: parent span id)\n got %v\nwant %v", len(spans), got, want)
	} else {
		b, _ := protojson.Marshal(spans[0])
		t.Logf("a new_root span as received: %s", b)
	}
	_, _, pairs := pw.report(t, reportPath, "http", tag)
	if p := pairs[[2]string{svc("b"), svc("c")}]; p.BrokenChainReasons["new_root"] != chainDetached || p.Continued != chainSame {
		t.Errorf("b -> c: %d continued, broken %v; want %d continued, %d new roots", p.Continued, p.BrokenChainReasons, chainSame, chainDetached)
	}
	// The trace ids b received, and the requests' paths and URL, stay out.
	for _, planted := range []string{chainTracePrefix[:8], "/detached", "/same", "/none", "/downstream", cAddr, bAddr} {
		if strings.Contains(wire, planted) {
			t.Errorf("the spans contain %q", planted)
		}
	}
}

// TestObserveOTLPNewRootKafka: a source produces records with context and
// an email in baggage; one relay consumes them and produces onward with
// the records' own headers, another with a fresh trace per record. The
// OTLP receiver gets exactly one span per record with a finding: a
// "propwatch: pii" span for each record the source produced, each either
// relay fetched, and the first relay produced (continued: no chain
// attribute); and for each record the second relay produced, a
// "propwatch: new_root" span with propwatch.chain=new_root inside its
// fresh trace, child of the span its traceparent named. No planted value
// comes out.
func TestObserveOTLPNewRootKafka(t *testing.T) {
	privtest.RequireBPF(t)
	bin := buildPropwatch(t)
	tag := fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	svc := func(name string) string { return "e2e-" + name + "-" + tag }

	recv, endpoint, _ := startOTLPReceiver(t)
	broker := startPeer(t, "kafka-broker", svc("broker"))
	addr := broker.line(t)
	reportPath := filepath.Join(t.TempDir(), "report.json")
	pw := startPropwatch(t, bin, "--quiet", "--report", reportPath,
		"--otlp-endpoint", endpoint, "--otlp-spans-per-second", "1000")

	const n = 6
	if got := startPeer(t, "kafka-producer", svc("source"), "PEER_ADDR="+addr, "KAFKA_TOPIC=chain-in",
		"KAFKA_CODEC=none", "KAFKA_HEADERS=pii", fmt.Sprintf("KAFKA_N=%d", n)).line(t); got != "done" {
		t.Fatalf("producer: %q", got)
	}
	if got := startPeer(t, "kafka-consumer", svc("relay-same"), "PEER_ADDR="+addr, "KAFKA_TOPIC=chain-in",
		"KAFKA_TO=chain-out", "KAFKA_RELAY_CONTEXT=same", fmt.Sprintf("KAFKA_N=%d", n)).line(t); got != "done" {
		t.Fatalf("relay same: %q", got)
	}
	fresh := startPeer(t, "kafka-consumer", svc("relay-fresh"), "PEER_ADDR="+addr, "KAFKA_TOPIC=chain-in",
		"KAFKA_TO=chain-out", "KAFKA_RELAY_CONTEXT=fresh", "KAFKA_PRINT_FRESH=1", fmt.Sprintf("KAFKA_N=%d", n))
	want := freshIDs(t, fresh, n, "done")
	const pairsWithSpans = 5 // source -> in, in -> each relay, each relay -> out
	recv.await(tag, pairsWithSpans*n)
	pw.stop(t)
	spans, wire := recv.spans(tag)

	// validTP is the source's traceparent; the same relay's records keep it.
	srcTrace, srcParent := "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	type pairName struct{ src, dst, name string }
	count := map[pairName]int{}
	got := map[string]string{}
	for _, s := range spans {
		k := pairName{attrString(s, "propwatch.source"), attrString(s, "propwatch.destination"), s.Name}
		count[k]++
		if attrString(s, "propwatch.protocol") != "kafka" {
			t.Errorf("span %q of %s -> %s: protocol %q", s.Name, k.src, k.dst, attrString(s, "propwatch.protocol"))
		}
		if k.src == svc("relay-fresh") {
			trace, parent := checkNewRootSpan(t, s, svc("relay-fresh"), "chain-out", "kafka")
			if _, dup := got[trace]; dup {
				t.Errorf("two spans in trace %s", trace)
			}
			got[trace] = parent
			continue
		}
		if trace, parent := hex.EncodeToString(s.TraceId), hex.EncodeToString(s.ParentSpanId); trace != srcTrace || parent != srcParent {
			t.Errorf("span %q of %s -> %s: trace %s parent %s, want the record's %s %s", s.Name, k.src, k.dst, trace, parent, srcTrace, srcParent)
		}
		if attrInt(s, "propwatch.pii.email") != 1 || hasAttr(s, "propwatch.chain") {
			t.Errorf("span %q of %s -> %s: attributes %v", s.Name, k.src, k.dst, s.Attributes)
		}
	}
	wantCount := map[pairName]int{
		{svc("source"), "chain-in", "propwatch: pii"}:            n,
		{"chain-in", svc("relay-same"), "propwatch: pii"}:        n,
		{"chain-in", svc("relay-fresh"), "propwatch: pii"}:       n,
		{svc("relay-same"), "chain-out", "propwatch: pii"}:       n,
		{svc("relay-fresh"), "chain-out", "propwatch: new_root"}: n,
	}
	if fmt.Sprint(count) != fmt.Sprint(wantCount) {
		t.Errorf("spans per pair and name\n got %v\nwant %v", count, wantCount)
	}
	if len(spans) != pairsWithSpans*n {
		t.Errorf("%d spans, want %d", len(spans), pairsWithSpans*n)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("new roots (trace id: parent span id)\n got %v\nwant %v", got, want)
	}
	_, _, pairs := pw.report(t, reportPath, "kafka", tag)
	if p := pairs[[2]string{svc("relay-fresh"), "chain-out"}]; p.Requests != n || p.BrokenChainReasons["new_root"] != n {
		t.Errorf("relay-fresh -> chain-out: %d records, broken %v; want %d new roots", p.Requests, p.BrokenChainReasons, n)
	}
	if p := pairs[[2]string{svc("relay-same"), "chain-out"}]; p.Requests != n || p.Continued != n {
		t.Errorf("relay-same -> chain-out: %d records, %d continued; want %d", p.Requests, p.Continued, n)
	}
	for _, planted := range []string{plantedEmail, "planted.canary", "user=", strings.Repeat("v", 20), addr} {
		if strings.Contains(wire, planted) {
			t.Errorf("the spans contain planted value %q", planted)
		}
	}
}
