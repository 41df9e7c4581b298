//go:build linux

package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/propwatch/propwatch/internal/privtest"
	"github.com/propwatch/propwatch/internal/report"
)

// TestObserveChain: an entry client (a) sends traced requests to a service
// (b), which for each calls another (c) with the request's trace, from a
// detached job with a fresh trace, or without context. propwatch counts
// exactly that many continued, new roots and dropped on b -> c, and nothing
// broken on a -> b, whose sender received no traced input.
func TestObserveChain(t *testing.T) {
	privtest.RequireBPF(t)
	bin := buildPropwatch(t)
	tag := fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	svc := func(name string) string { return "e2e-" + name + "-" + tag }

	c := startPeer(t, "server", svc("c"))
	cAddr := c.line(t)
	b := startPeer(t, "chain-b", svc("b"), "PEER_ADDR="+cAddr)
	bAddr := b.line(t)

	reportPath := filepath.Join(t.TempDir(), "report.json")
	metricsAddr := freePort(t)
	pw := startPropwatch(t, bin, "--quiet", "--report", reportPath, "--metrics-addr", metricsAddr)
	if got := startPeer(t, "chain-a", svc("a"), "PEER_ADDR="+bAddr).line(t); got != "done" {
		t.Fatalf("entry client: %q", got)
	}
	time.Sleep(time.Second) // the name delay, and the sends' classification
	metrics := scrape(t, "http://"+metricsAddr+"/metrics")
	pw.stop(t)
	raw, rep, pairs := pw.report(t, reportPath, "http", tag)

	type want struct {
		src, dst                              string
		requests, continued, newRoot, dropped uint64
	}
	for _, w := range []want{
		{svc("a"), svc("b"), chainRequests, 0, 0, 0},
		{svc("b"), svc("c"), chainRequests, chainSame, chainDetached, chainNone},
	} {
		p, ok := pairs[[2]string{w.src, w.dst}]
		if !ok {
			t.Errorf("no pair %s -> %s", w.src, w.dst)
			continue
		}
		if p.Requests != w.requests || p.Continued != w.continued || p.BrokenChain != w.newRoot+w.dropped ||
			p.BrokenChainReasons["new_root"] != w.newRoot || p.BrokenChainReasons["dropped"] != w.dropped {
			t.Errorf("%s -> %s: %d requests, %d continued, %d broken %v; want %d, %d, new_root %d, dropped %d",
				w.src, w.dst, p.Requests, p.Continued, p.BrokenChain, p.BrokenChainReasons,
				w.requests, w.continued, w.newRoot, w.dropped)
		}
	}
	if len(pairs) != 2 {
		t.Errorf("%d pairs of this test, want 2: %v", len(pairs), pairs)
	}
	// b is a Go program (this test binary): more new roots than drops,
	// so Go's fix first, and the HTTP client's for the drops.
	if p := pairs[[2]string{svc("b"), svc("c")}]; p.Hint != "go.pass_ctx" ||
		p.Hints["new_root"] != "go.pass_ctx" || p.Hints["dropped"] != "http.inject_headers" || len(p.Hints) != 2 {
		t.Errorf("b -> c: hint %q, hints %v; want go.pass_ctx, dropped: http.inject_headers", p.Hint, p.Hints)
	}
	if p := pairs[[2]string{svc("a"), svc("b")}]; p.Hint != "" || p.Hints != nil {
		t.Errorf("a -> b broke nothing but has hint %q, hints %v", p.Hint, p.Hints)
	}
	services := servicesOf(rep, tag)
	if rt := services[svc("b")].Runtime; rt != "go" {
		t.Errorf("service b runs %q, want go", rt)
	}
	wantB := report.ReportService{Service: svc("b"), TracedReceived: chainRequests, SentContinued: chainSame,
		SentNewRoot: chainDetached, SentDropped: chainNone,
		BrokenPairs: []report.ReportPairKey{{Source: svc("b"), Destination: svc("c"), Protocol: "http"}}}
	if got := services[svc("b")]; !sameService(got, wantB) {
		t.Errorf("service b %+v, want %+v", got, wantB)
	}
	// c received the requests that carried context; a sent, unclassified.
	if got := services[svc("c")]; got.TracedReceived != chainSame+chainDetached || got.SentContinued+got.SentNewRoot+got.SentDropped != 0 {
		t.Errorf("service c %+v", got)
	}
	if got, ok := services[svc("a")]; ok {
		t.Errorf("entry client listed: %+v", got)
	}
	for _, series := range []string{
		fmt.Sprintf(`propwatch_chain_continued_total{destination=%q,destination_namespace="",protocol="http",source=%q,source_namespace="",tls="false"} %d`, svc("c"), svc("b"), chainSame),
		fmt.Sprintf(`propwatch_chain_broken_total{destination=%q,destination_namespace="",protocol="http",reason="new_root",source=%q,source_namespace="",tls="false"} %d`, svc("c"), svc("b"), chainDetached),
		fmt.Sprintf(`propwatch_chain_broken_total{destination=%q,destination_namespace="",protocol="http",reason="dropped",source=%q,source_namespace="",tls="false"} %d`, svc("c"), svc("b"), chainNone),
		fmt.Sprintf(`propwatch_chain_broken_total{destination=%q,destination_namespace="",protocol="http",reason="new_root",source=%q,source_namespace="",tls="false"} 0`, svc("b"), svc("a")),
	} {
		if !strings.Contains(metrics, series) {
			t.Errorf("metrics lack %s", series)
		}
	}
	// No trace id comes out, anywhere, and no path of the executables
	// the runtimes were told from (the peers run this test binary).
	exeDir := filepath.Dir(os.Args[0])
	for name, out := range map[string]string{"report": string(raw), "metrics": metrics, "log": pw.log.String()} {
		if strings.Contains(out, chainTracePrefix[:8]) {
			t.Errorf("%s contains a trace id", name)
		}
		if strings.Contains(out, exeDir) {
			t.Errorf("%s contains the peers' executable path", name)
		}
	}
}

// TestObserveChainKafka: consumers of records carrying context produce
// onward with the record's context, a fresh one, and none; the producer
// of those records, an entry point, breaks nothing.
func TestObserveChainKafka(t *testing.T) {
	privtest.RequireBPF(t)
	bin := buildPropwatch(t)
	tag := fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	svc := func(name string) string { return "e2e-" + name + "-" + tag }

	broker := startPeer(t, "kafka-broker", svc("broker"))
	addr := broker.line(t)
	reportPath := filepath.Join(t.TempDir(), "report.json")
	pw := startPropwatch(t, bin, "--quiet", "--report", reportPath)

	const n = 6
	if got := startPeer(t, "kafka-producer", svc("source"), "PEER_ADDR="+addr, "KAFKA_TOPIC=chain-in",
		"KAFKA_CODEC=none", "KAFKA_HEADERS=valid", fmt.Sprintf("KAFKA_N=%d", n)).line(t); got != "done" {
		t.Fatalf("producer: %q", got)
	}
	for _, mode := range []string{"same", "fresh", "none"} {
		if got := startPeer(t, "kafka-consumer", svc("relay-"+mode), "PEER_ADDR="+addr, "KAFKA_TOPIC=chain-in",
			"KAFKA_TO=chain-out", "KAFKA_RELAY_CONTEXT="+mode, fmt.Sprintf("KAFKA_N=%d", n)).line(t); got != "done" {
			t.Fatalf("relay %s: %q", mode, got)
		}
	}
	time.Sleep(time.Second)
	pw.stop(t)
	raw, rep, pairs := pw.report(t, reportPath, "kafka", tag)

	type want struct {
		src, dst                                      string
		records, missing, continued, newRoot, dropped uint64
	}
	wants := []want{
		{svc("source"), "chain-in", n, 0, 0, 0, 0},
		{svc("relay-same"), "chain-out", n, 0, n, 0, 0},
		{svc("relay-fresh"), "chain-out", n, 0, 0, n, 0},
		{svc("relay-none"), "chain-out", n, n, 0, 0, n},
	}
	for _, mode := range []string{"same", "fresh", "none"} {
		wants = append(wants, want{"chain-in", svc("relay-" + mode), n, 0, 0, 0, 0})
	}
	for _, w := range wants {
		p, ok := pairs[[2]string{w.src, w.dst}]
		if !ok {
			t.Errorf("no pair %s -> %s", w.src, w.dst)
			continue
		}
		if p.Requests != w.records || p.MissingContext != w.missing || p.Continued != w.continued ||
			p.BrokenChainReasons["new_root"] != w.newRoot || p.BrokenChainReasons["dropped"] != w.dropped {
			t.Errorf("%s -> %s: %d records, %d missing, %d continued, broken %v; want %d, %d, %d, new_root %d, dropped %d",
				w.src, w.dst, p.Requests, p.MissingContext, p.Continued, p.BrokenChainReasons,
				w.records, w.missing, w.continued, w.newRoot, w.dropped)
		}
	}
	if len(pairs) != len(wants) {
		t.Errorf("%d kafka pairs of this test, want %d", len(pairs), len(wants))
	}
	services := servicesOf(rep, tag)
	for mode, w := range map[string][3]uint64{"same": {n, 0, 0}, "fresh": {0, n, 0}, "none": {0, 0, n}} {
		got := services[svc("relay-"+mode)]
		if got.TracedReceived != n || got.SentContinued != w[0] || got.SentNewRoot != w[1] || got.SentDropped != w[2] {
			t.Errorf("service relay-%s %+v, want received %d, sent %v", mode, got, n, w)
		}
	}
	if got, ok := services[svc("source")]; ok {
		t.Errorf("entry producer listed: %+v", got)
	}
	// The relays' traced input was all records: a fresh trace means the
	// consumer did not extract, none that the producer did not inject.
	for mode, want := range map[string]string{"same": "", "fresh": "kafka.extract_headers", "none": "kafka.inject_headers"} {
		if p := pairs[[2]string{svc("relay-" + mode), "chain-out"}]; p.Hint != want {
			t.Errorf("relay-%s -> chain-out: hint %q, want %q", mode, p.Hint, want)
		}
	}
	for name, out := range map[string]string{"report": string(raw), "log": pw.log.String()} {
		if strings.Contains(out, "4bf92f35") {
			t.Errorf("%s contains the records' trace id", name)
		}
	}
}

// servicesOf returns the report's services named with tag, by name.
func servicesOf(rep report.Report, tag string) map[string]report.ReportService {
	out := map[string]report.ReportService{}
	for _, s := range rep.Services {
		if strings.HasSuffix(s.Service, tag) {
			out[s.Service] = s
		}
	}
	return out
}

func sameService(a, b report.ReportService) bool {
	if len(a.BrokenPairs) != len(b.BrokenPairs) {
		return false
	}
	for i := range a.BrokenPairs {
		if a.BrokenPairs[i] != b.BrokenPairs[i] {
			return false
		}
	}
	a.BrokenPairs, b.BrokenPairs = nil, nil
	return a.Service == b.Service && a.TracedReceived == b.TracedReceived && a.SentContinued == b.SentContinued &&
		a.SentNewRoot == b.SentNewRoot && a.SentDropped == b.SentDropped
}
