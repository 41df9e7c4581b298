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

	"golang.org/x/net/http2/hpack"

	"github.com/propwatch/propwatch/internal/privtest"
)

// TestObserveHTTP2: a Go h2c client (net/http with unencrypted HTTP/2,
// prior knowledge) sends a mix to a Go h2c server over loopback on one
// connection seen from its preface; `propwatch run` counts the pair
// exactly (protocol http2), and no planted value comes out.
func TestObserveHTTP2(t *testing.T) {
	privtest.RequireBPF(t)
	bin := buildPropwatch(t)
	tag := fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	svc := func(name string) string { return "e2e-" + name + "-" + tag }

	server := startPeer(t, "h2-server", svc("h2srv"))
	addr := server.line(t)
	reportPath := filepath.Join(t.TempDir(), "report.json")
	args := []string{"--quiet", "--report", reportPath}
	if h := os.Getenv("PROPWATCH_E2E_HOOKS"); h != "" {
		args = append(args, "--hooks", h) // one hook set by hand
	}
	pw := startPropwatch(t, bin, args...)
	if got := startPeer(t, "h2-client", svc("h2cli"), "PEER_ADDR="+addr).line(t); got != "done" {
		t.Fatalf("client: %q", got)
	}
	time.Sleep(time.Second)
	pw.stop(t)
	raw, rep, pairs := pw.report(t, reportPath, "http2", tag)
	for k, p := range pairs {
		t.Logf("%s -> %s: %d requests, %d missing, %d invalid, %d oversized, %d truncated, pii %v, gaps %v",
			k[0], k[1], p.Requests, p.MissingContext, p.InvalidContext, p.OversizedBaggage, p.Truncated, p.PIIByKind, p.CoverageGaps)
	}
	t.Logf("parse failures %v, kernel errors %v", rep.ParseFailures, rep.KernelErrors)
	p, ok := pairs[[2]string{svc("h2cli"), svc("h2srv")}]
	if !ok || len(pairs) != 1 {
		t.Fatalf("want one pair %s -> %s, got %v", svc("h2cli"), svc("h2srv"), pairs)
	}
	if p.Requests != h2Requests || p.MissingContext != h2Missing+h2Split || p.InvalidContext != h2Invalid ||
		p.OversizedBaggage != h2Oversized || p.Truncated != h2Split || p.PIIByKind["email"] != h2PII ||
		len(p.CoverageGaps) != 0 {
		t.Errorf("pair: %+v", p)
	}
	// Values Huffman-coded (all the others) and one sent raw: each
	// request with baggage had it read, and read right (no syntax defect).
	if hpack.HuffmanEncodeLength(h2LiteralBaggage[len("sym="):]) <= uint64(len(h2LiteralBaggage)-len("sym=")) {
		t.Fatal("the literal case's value would be Huffman-coded: pick symbols with longer codes")
	}
	if n := p.BaggageBytes.Count; n != h2PII+h2Oversized+h2Literal {
		t.Errorf("%d requests with baggage read, want %d", n, h2PII+h2Oversized+h2Literal)
	}
	for code := range p.Defects {
		if strings.HasPrefix(code, "baggage.") && !strings.HasPrefix(code, "baggage.oversized") {
			t.Errorf("baggage read wrong: defect %s", code)
		}
	}
	// A server's SETTINGS, PING and WINDOW_UPDATE frames read like Kafka
	// Produce requests: none may be taken for one, but for the server's
	// first write, which can come before the preface is read
	// (maxNotKafkaPerPreface).
	for code, n := range rep.ParseFailures {
		if strings.HasPrefix(code, "kafka.") && n > 0 && (code != "kafka.not_kafka" || n > maxNotKafkaPerPreface) {
			t.Errorf("HTTP/2 taken for Kafka: %s %d", code, n)
		}
	}
	for _, p := range rep.Pairs {
		if p.Protocol == "kafka" {
			t.Errorf("HTTP/2 taken for Kafka: pair %+v", p)
		}
	}
	for _, planted := range []string{plantedEmail, plantedCard} {
		if strings.Contains(string(raw), planted) || strings.Contains(pw.log.String(), planted) {
			t.Errorf("planted value %q came out", planted)
		}
	}
}
