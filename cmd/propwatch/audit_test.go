package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/propwatch/propwatch/internal/parse"
	"github.com/propwatch/propwatch/internal/parse/http1"
	"github.com/propwatch/propwatch/internal/parse/w3c"
	"github.com/propwatch/propwatch/internal/report"
)

const (
	cleanHead   = "GET / HTTP/1.1\r\nHost: x\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n"
	missingHead = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
)

// recorded is n requests of one head on one pair.
type recorded struct {
	src, dst string
	head     string
	n        int
}

// nodeReport judges the heads as a node would and returns its report.
func nodeReport(t *testing.T, host string, lost uint64, reqs ...recorded) report.Report {
	t.Helper()
	agg := report.NewAggregator(report.AggregatorConfig{MaxPairs: 100})
	an := parse.NewAnalyzer(parse.Options{Baggage: w3c.DefaultBaggageLimits()})
	for _, r := range reqs {
		for range r.n {
			var h http1.Head
			if h.Parse([]byte(r.head)) == http1.StatusNotHTTP {
				t.Fatalf("head of %s -> %s is not HTTP", r.src, r.dst)
			}
			agg.Record(report.PairKey{Source: r.src, Destination: r.dst, Protocol: "http"}, an.Head(&h))
		}
	}
	start := time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC)
	var lostBy map[string]uint64
	if lost > 0 {
		lostBy = map[string]uint64{"ringbuf_full": lost}
	}
	return report.NewReport(host, start, start.Add(time.Hour), agg.Snapshot(), lostBy)
}

// fleet is three nodes' reports, the PII canary head among their requests.
func fleet(t *testing.T) []report.Report {
	canary := canaryHead + "\r\n\r\n"
	return []report.Report{
		nodeReport(t, "node-a", 0,
			recorded{"web", "checkout", cleanHead, 3}, recorded{"web", "checkout", missingHead, 1},
			recorded{"checkout", "inventory", missingHead, 2}),
		nodeReport(t, "node-b", 5,
			recorded{"web", "checkout", cleanHead, 2}, recorded{"checkout", "inventory", canary, 1}),
		nodeReport(t, "node-c", 0,
			recorded{"web", "checkout", missingHead, 1}, recorded{"payments", "fraud", canary, 1}),
	}
}

func writeReportFile(t *testing.T, dir string, r report.Report) string {
	t.Helper()
	path := filepath.Join(dir, r.Host+".json")
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// serveReport serves r at /report as a running agent does.
func serveReport(t *testing.T, r report.Report) string {
	t.Helper()
	srv := httptest.NewServer(report.HandlerWithReport(func() report.Report { return r }))
	t.Cleanup(srv.Close)
	return srv.URL
}

func jsonOf(t *testing.T, r report.Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestAuditMergesFilesAndURLs: two report files and one agent's /report
// URL merge to exactly what report.Merge makes of the three, with the
// sums counted by hand; the table names the worst pairs and their nodes.
func TestAuditMergesFilesAndURLs(t *testing.T) {
	reports := fleet(t)
	dir := t.TempDir()
	a := writeReportFile(t, dir, reports[0])
	b := writeReportFile(t, dir, reports[1])
	c := serveReport(t, reports[2]) // no path: /report is read

	code, out, errOut := runCLI(t, nil, "audit", "--json", a, b, c)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got, err := report.ReadJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	want, err := report.Merge(reports...)
	if err != nil {
		t.Fatal(err)
	}
	if out != jsonOf(t, want) {
		t.Errorf("audit --json is not report.Merge of the inputs:\n%s\nwant\n%s", out, jsonOf(t, want))
	}
	if got.Host != report.MergedHost || strings.Join(got.Hosts, ",") != "node-a,node-b,node-c" || got.LostEvents != 5 {
		t.Errorf("merged host %q, hosts %v, lost %d", got.Host, got.Hosts, got.LostEvents)
	}
	sums := map[string][3]uint64{ // requests, missing, invalid
		"web->checkout":       {7, 2, 0},
		"checkout->inventory": {3, 2, 1},
		"payments->fraud":     {1, 0, 1},
	}
	if len(got.Pairs) != len(sums) {
		t.Errorf("%d pairs, want %d", len(got.Pairs), len(sums))
	}
	for _, p := range got.Pairs {
		w := sums[p.Source+"->"+p.Destination]
		if p.Requests != w[0] || p.MissingContext != w[1] || p.InvalidContext != w[2] {
			t.Errorf("%s -> %s: requests %d missing %d invalid %d, want %v", p.Source, p.Destination,
				p.Requests, p.MissingContext, p.InvalidContext, w)
		}
		var pii uint64
		for _, n := range p.PIIByKind {
			pii += n
		}
		if (p.Source != "web") != (pii > 0) {
			t.Errorf("%s -> %s: pii %v", p.Source, p.Destination, p.PIIByKind)
		}
	}

	code, table, errOut := runCLI(t, nil, "audit", a, b, c)
	if code != exitOK || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(table, "\n")
	if !strings.HasPrefix(lines[0], "propwatch audit: 3 nodes (node-a, node-b, node-c)") {
		t.Errorf("summary: %q", lines[0])
	}
	// Worst first: checkout -> inventory misses 2 of 3, payments ->
	// fraud breaks 1 of 1, web -> checkout misses 2 of 7.
	for i, want := range []string{"payments -> fraud", "checkout -> inventory", "web -> checkout"} {
		if l := lines[3+i]; !strings.HasPrefix(l, want) {
			t.Errorf("table line %d: %q, want %s first", 3+i, l, want)
		}
	}
	for _, want := range []string{"node-a,node-b\n", "node-a,node-b,node-c\n", "node-c\n"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks nodes %q:\n%s", want, table)
		}
	}
}

// TestAuditInputsThatDoNotAnswer: an agent that is down, one that answers
// 404, a file that is missing and one that is not a report are named on
// stderr (a URL's password redacted); the others are still merged, and
// the exit status says the audit is partial. With no input answering,
// nothing is merged.
func TestAuditInputsThatDoNotAnswer(t *testing.T) {
	reports := fleet(t)
	dir := t.TempDir()
	a := writeReportFile(t, dir, reports[0])
	c := serveReport(t, reports[2]) + "/report"
	down := httptest.NewServer(nil)
	downURL := strings.Replace(down.URL, "http://", "http://ops:s3cret@", 1)
	down.Close()
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	junk := filepath.Join(dir, "junk.json")
	os.WriteFile(junk, []byte(`{"schema":"other/v9","host":"s3cret"}`), 0o644)
	absent := filepath.Join(dir, "absent.json")

	code, out, errOut := runCLI(t, nil, "audit", "--json", a, downURL, c, notFound.URL+"/report", absent, junk)
	if code != exitProblem {
		t.Fatalf("exit %d, want %d: %s", code, exitProblem, errOut)
	}
	got, err := report.ReadJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := report.Merge(reports[0], reports[2])
	if out != jsonOf(t, want) {
		t.Errorf("partial audit is not the merge of the inputs that answered")
	}
	if strings.Join(got.Hosts, ",") != "node-a,node-c" {
		t.Errorf("hosts %v", got.Hosts)
	}
	for _, w := range []string{"ops:xxxxx@", "HTTP 404", absent, junk, "4 of 6 inputs did not answer"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
	if strings.Contains(errOut, "s3cret") {
		t.Errorf("stderr shows a password or a report's content:\n%s", errOut)
	}

	code, table, _ := runCLI(t, nil, "audit", a, downURL)
	if code != exitProblem || !strings.Contains(table, "1 input did not answer") || !strings.Contains(table, "did not answer: ") {
		t.Errorf("table of a partial audit (exit %d):\n%s", code, table)
	}
	if code, _, errOut := runCLI(t, nil, "audit", downURL, absent); code != exitUsage || !strings.Contains(errOut, "no input answered") {
		t.Errorf("nothing answered: exit %d, %s", code, errOut)
	}
	if code, _, _ := runCLI(t, nil, "audit"); code != exitUsage {
		t.Errorf("no input: exit %d", code)
	}
}

// TestAuditNeverShowsValues: the canary request's values are in no output
// of audit: table, JSON, HTML page, stderr.
func TestAuditNeverShowsValues(t *testing.T) {
	reports := fleet(t)
	dir := t.TempDir()
	a := writeReportFile(t, dir, reports[0])
	b := writeReportFile(t, dir, reports[1])
	c := serveReport(t, reports[2])
	page := filepath.Join(dir, "audit.html")
	outputs := map[string]string{}
	for _, flags := range [][]string{{}, {"--json"}, {"--html", page, "--top", "0"}} {
		args := append(append([]string{"audit"}, flags...), a, b, c)
		code, out, errOut := runCLI(t, nil, args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d: %s", flags, code, errOut)
		}
		outputs[strings.Join(flags, " ")+" stdout"] = out
		outputs[strings.Join(flags, " ")+" stderr"] = errOut
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	outputs["html"] = string(html)
	for _, p := range []string{"web", "checkout", "inventory", "payments", "fraud"} {
		if !strings.Contains(outputs["html"], `data-source="`+p+`"`) && !strings.Contains(outputs["html"], `data-destination="`+p+`"`) {
			t.Errorf("page lacks service %s", p)
		}
	}
	for name, out := range outputs {
		for _, c := range canaries {
			if strings.Contains(out, c) {
				t.Errorf("%s contains canary %q", name, c)
			}
		}
	}
}
