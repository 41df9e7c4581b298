//go:build linux

package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/propwatch/propwatch/internal/privtest"
	"github.com/propwatch/propwatch/internal/report"
)

// TestAuditLiveAgent: a real agent (`propwatch run`) watches a client and
// a server on this host; while it runs, `propwatch audit` reads its
// /report and two other nodes' report files, and the merge counts the
// agent's pair exactly, next to the files' sums. No planted value reaches
// the audit's JSON or HTML.
func TestAuditLiveAgent(t *testing.T) {
	privtest.RequireBPF(t)
	bin := buildPropwatch(t)
	tag := fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	svc := func(name string) string { return "e2e-audit-" + name + "-" + tag }

	server := startPeer(t, "server", svc("inventory"))
	addr := server.line(t)
	metricsAddr := freePort(t)
	pw := startPropwatch(t, bin, "--quiet", "--metrics-addr", metricsAddr)
	client := startPeer(t, "client", svc("checkout"), "PEER_ADDR="+addr)
	if got := client.line(t); got != "done" {
		t.Fatalf("client peer: %q", got)
	}
	time.Sleep(time.Second) // the last requests through the ring buffer

	reports := fleet(t)
	dir := t.TempDir()
	a := writeReportFile(t, dir, reports[0])
	b := writeReportFile(t, dir, reports[1])
	page := filepath.Join(dir, "audit.html")
	code, out, errOut := runCLI(t, nil, "audit", "--json", "--html", page, a, b, "http://"+metricsAddr)
	if code != exitOK {
		t.Fatalf("audit: exit %d: %s", code, errOut)
	}
	merged, err := report.ReadJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if !slices.Contains(merged.Hosts, host) || !slices.Contains(merged.Hosts, "node-a") || len(merged.Hosts) != 3 {
		t.Errorf("hosts %v, want node-a, node-b and %s", merged.Hosts, host)
	}
	var live, web report.ReportPair
	for _, p := range merged.Pairs {
		switch {
		case p.Source == svc("checkout") && p.Destination == svc("inventory"):
			live = p
		case p.Source == "web" && p.Destination == "checkout":
			web = p
		}
	}
	check := func(what string, got, want uint64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %d, want %d", what, got, want)
		}
	}
	check("agent pair requests", live.Requests, mixRequests)
	check("agent pair missing_context", live.MissingContext, mixMissing)
	check("agent pair invalid_context", live.InvalidContext, mixInvalid)
	check("agent pair pii email", live.PIIByKind["email"], mixPII)
	check("web -> checkout requests (files)", web.Requests, 6)
	check("web -> checkout missing_context (files)", web.MissingContext, 1)

	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), `data-source="`+svc("checkout")+`"`) {
		t.Error("the page lacks the agent's pair")
	}
	for name, text := range map[string]string{"json": out, "html": string(html), "stderr": errOut} {
		for _, planted := range []string{plantedEmail, "planted.canary", plantedCard, "4BF92F35"} {
			if strings.Contains(text, planted) {
				t.Errorf("audit %s contains planted value %q", name, planted)
			}
		}
	}
	pw.stop(t)
}
