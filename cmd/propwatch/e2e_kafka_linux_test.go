//go:build linux

package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/propwatch/propwatch/internal/privtest"
)

// kafkaProducerCase is one producer process of TestObserveKafka.
type kafkaProducerCase struct {
	name, topic, codec, headers string
	n                           int
	old                         bool // Kafka 0.11 protocol: Produce v3, Fetch v5
}

// TestObserveKafka: real processes produce to and consume from a
// Kafka-protocol broker (kfake) over loopback, with every codec, with and
// without headers, at old and current protocol versions, and kcat (a
// librdkafka client) as a second, independent one; `propwatch run` counts
// every record of every producer -> topic and topic -> consumer pair
// exactly, and no planted value comes out.
func TestObserveKafka(t *testing.T) {
	privtest.RequireBPF(t)
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("PROPWATCH_REQUIRE_BPF") == "1" {
			t.Fatal("kcat is not installed (apt-get install kcat); CI installs it")
		}
		t.Skip("kcat is not installed (apt-get install kcat)")
	}
	bin := buildPropwatch(t)
	tag := fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	svc := func(name string) string { return "e2e-" + name + "-" + tag }

	broker := startPeer(t, "kafka-broker", svc("broker"))
	addr := broker.line(t)

	before := capturePrograms(t)
	reportPath := filepath.Join(t.TempDir(), "report.json")
	pw := startPropwatch(t, bin, "--quiet", "--report", reportPath)

	producers := []kafkaProducerCase{
		{"p-gzip", "orders", "gzip", "valid", 20, false},
		{"p-snappy", "orders", "snappy", "none", 15, false},
		{"p-lz4", "payments", "lz4", "pii", 10, false},
		{"p-zstd", "payments", "zstd", "valid", 12, false},
		{"p-none", "audit", "none", "valid", 8, false},
		{"p-old", "legacy", "gzip", "valid", 6, true},
	}
	for _, p := range producers {
		env := []string{"PEER_ADDR=" + addr, "KAFKA_TOPIC=" + p.topic, "KAFKA_CODEC=" + p.codec,
			"KAFKA_HEADERS=" + p.headers, fmt.Sprintf("KAFKA_N=%d", p.n)}
		if p.old {
			env = append(env, "KAFKA_OLD=1")
		}
		if got := startPeer(t, "kafka-producer", svc(p.name), env...).line(t); got != "done" {
			t.Fatalf("producer %s: %q", p.name, got)
		}
	}
	for _, c := range []struct {
		name, topic string
		n           int
		old         bool
	}{
		{"c-orders", "orders", 35, false},
		{"c-payments", "payments", 22, true},
		{"c-audit", "audit", 8, false},
	} {
		env := []string{"PEER_ADDR=" + addr, "KAFKA_TOPIC=" + c.topic, fmt.Sprintf("KAFKA_N=%d", c.n)}
		if c.old {
			env = append(env, "KAFKA_OLD=1")
		}
		if got := startPeer(t, "kafka-consumer", svc(c.name), env...).line(t); got != "done" {
			t.Fatalf("consumer %s: %q", c.name, got)
		}
	}

	// Continuity: a consumer of audit that produces onward, dropping the
	// context: its records reach shipments without any.
	if got := startPeer(t, "kafka-consumer", svc("relay"), "PEER_ADDR="+addr, "KAFKA_TOPIC=audit",
		"KAFKA_TO=shipments", "KAFKA_N=8").line(t); got != "done" {
		t.Fatalf("relay: %q", got)
	}

	// Hostile traffic on the broker's port: it must cost nothing but
	// counted failures and gaps, and move no count of any pair above.
	if got := startPeer(t, "kafka-bad", svc("bad"), "PEER_ADDR="+addr).line(t); got != "done" {
		t.Fatalf("bad peer: %q", got)
	}

	// kcat: five records with a traceparent, snappy, then read back. kcat
	// produces what it read once its input ends, and exits after the
	// records are acknowledged, which outlasts propwatch's naming of it.
	const kcatN = 5
	prod := startKcat(t, kcat, svc("kcat-prod"), "-P", "-b", addr, "-t", "kcat-in", "-z", "snappy",
		"-H", "traceparent="+strings.TrimSpace(strings.TrimPrefix(validTP, "traceparent:")))
	for i := range kcatN {
		fmt.Fprintf(prod.stdin, "kcat record %d\n", i)
	}
	prod.stdin.Close()
	if err := prod.cmd.Wait(); err != nil {
		t.Fatalf("kcat producer: %v", err)
	}
	cons := startKcat(t, kcat, svc("kcat-cons"), "-C", "-u", "-b", addr, "-t", "kcat-in", "-o", "beginning", "-f", "%s\n")
	for range kcatN {
		cons.line(t)
	}
	// kcat -C goes on long-polling after the last record: stop it before
	// propwatch, or propwatch may stop in the middle of an empty Fetch
	// response and rightly report that frame as cut (kafka.frame_truncated).
	cons.cmd.Process.Signal(syscall.SIGTERM)
	io.Copy(io.Discard, cons.stdout)
	cons.cmd.Wait()

	time.Sleep(time.Second)
	pw.stop(t)
	raw, rep, pairs := pw.report(t, reportPath, "kafka", tag)
	// kcat's producer exits once its records are acknowledged, which on a
	// slow machine (the matrix's emulated guests) can come before propwatch
	// has read the broker's event that names it: it is then named by the
	// command name the kernel saw send, as the README says of processes
	// gone before their first event is read: its sending thread's,
	// librdkafka's "rdk:broker1", or "kcat". Its records count all the same.
	for _, p := range rep.Pairs {
		fallback := p.Source == "kcat" || strings.HasPrefix(p.Source, "rdk:")
		if !fallback || p.Destination != "kcat-in" || p.Protocol != "kafka" {
			continue
		}
		if _, named := pairs[[2]string{svc("kcat-prod"), "kcat-in"}]; named {
			t.Errorf("kcat's records on two pairs: named and by command (%d)", p.Requests)
		}
		t.Logf("kcat's producer exited before it was named: its pair is %s -> kcat-in", p.Source)
		pairs[[2]string{svc("kcat-prod"), "kcat-in"}] = p
	}
	for k, p := range pairs {
		t.Logf("%s -> %s: %d records, %d missing, %d invalid, pii %v, gaps %v", k[0], k[1], p.Requests, p.MissingContext, p.InvalidContext, p.PIIByKind, p.CoverageGaps)
	}

	type want struct {
		src, dst                string
		records, missing, email uint64
	}
	wants := []want{
		{svc("kcat-prod"), "kcat-in", kcatN, 0, 0},
		{"kcat-in", svc("kcat-cons"), kcatN, 0, 0},
		{"orders", svc("c-orders"), 35, 15, 0},
		{"payments", svc("c-payments"), 22, 0, 10},
		{"audit", svc("c-audit"), 8, 0, 0},
		{"audit", svc("relay"), 8, 0, 0},
		{svc("relay"), "shipments", 8, 8, 0},
	}
	for _, p := range producers {
		w := want{svc(p.name), p.topic, uint64(p.n), 0, 0}
		switch p.headers {
		case "none":
			w.missing = w.records
		case "pii":
			w.email = w.records
		}
		wants = append(wants, w)
	}
	for _, w := range wants {
		p, ok := pairs[[2]string{w.src, w.dst}]
		if !ok {
			t.Errorf("no pair %s -> %s", w.src, w.dst)
			continue
		}
		if p.Requests != w.records || p.MissingContext != w.missing || p.PIIByKind["email"] != w.email ||
			p.InvalidContext != 0 || len(p.CoverageGaps) != 0 {
			t.Errorf("%s -> %s: %d records, %d missing, %d invalid, %d emails, gaps %v; want %d, %d, 0, %d, none",
				w.src, w.dst, p.Requests, p.MissingContext, p.InvalidContext, p.PIIByKind["email"], p.CoverageGaps,
				w.records, w.missing, w.email)
		}
	}
	// The relay received traced records and dropped their context: every
	// record it produced breaks the chain; the producers, entry points,
	// break nothing.
	for k, p := range pairs {
		want := uint64(0)
		if k == [2]string{svc("relay"), "shipments"} {
			want = 8
		}
		if p.BrokenChainReasons["dropped"] != want || p.BrokenChain != want || p.Continued != 0 {
			t.Errorf("%s -> %s: continued %d, broken %v; want dropped %d", k[0], k[1], p.Continued, p.BrokenChainReasons, want)
		}
	}
	// The bad peer's garbage Produce is a pair with no record, only gaps
	// or failures; its other frames, failures only.
	var badGaps uint64
	for k, p := range pairs {
		if k[0] == svc("bad") {
			if p.Requests != 0 {
				t.Errorf("bad peer: %d records on %s -> %s", p.Requests, k[0], k[1])
			}
			for _, n := range p.CoverageGaps {
				badGaps += n
			}
			delete(pairs, k)
		}
	}
	var failures uint64
	for _, n := range rep.ParseFailures {
		failures += n
	}
	if badGaps+failures == 0 {
		t.Errorf("the bad peer's frames were counted nowhere: no gap, no parse failure")
	}
	t.Logf("bad peer: %d gaps, parse failures %v", badGaps, rep.ParseFailures)
	if len(pairs) != len(wants) {
		t.Errorf("%d kafka pairs of this test, want %d", len(pairs), len(wants))
	}
	for name, out := range map[string]string{"report": string(raw), "log": pw.log.String()} {
		if strings.Contains(out, plantedEmail) || strings.Contains(out, "planted.canary") {
			t.Errorf("%s contains the planted email", name)
		}
	}
	for id, name := range leftLoaded(t, before) {
		t.Errorf("program %d %s still loaded after exit", id, name)
	}
}

// startKcat runs kcat with a service name; it runs until the test ends
// (or its input does), so that propwatch can name it from its environment.
func startKcat(t *testing.T, kcat, service string, args ...string) *peer {
	t.Helper()
	return startProcess(t, exec.Command(kcat, args...), service)
}
