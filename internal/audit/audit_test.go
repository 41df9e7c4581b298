package audit

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/propwatch/propwatch/internal/report"
)

// TestBuild: the merge's pairs carry the nodes that saw them, worst
// first; a merged input counts all its hosts; a host given twice is
// named; the inputs that did not answer are kept in order.
func TestBuild(t *testing.T) {
	r := nodeReports()
	ab, err := report.Merge(r[0], r[1])
	if err != nil {
		t.Fatal(err)
	}
	a, err := Build([]Input{
		{Source: "ab.json", Report: ab},
		{Source: "x", Err: errors.New("down")},
		{Source: "c.json", Report: r[2]},
		{Source: "b-again.json", Report: r[1]},
		{Source: "y", Err: errors.New("404")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Missing) != 2 || a.Missing[0].Source != "x" || a.Missing[1].Source != "y" {
		t.Errorf("missing %v", a.Missing)
	}
	if strings.Join(a.Duplicates, ",") != "node-b" {
		t.Errorf("duplicates %v", a.Duplicates)
	}
	if a.Nodes[0].Host != "merged (node-a, node-b)" || a.Nodes[1].Host != "node-c" || len(a.Nodes) != 3 {
		t.Errorf("nodes %+v", a.Nodes)
	}
	var order []string
	for _, p := range a.Pairs {
		order = append(order, p.Source+">"+p.Destination+" "+p.Severity()+" "+strings.Join(p.Nodes, ","))
	}
	want := []string{
		"payments>fraud bad node-c",             // 50% oversized
		"checkout>inventory bad node-a,node-b",  // 100+0 of 600 missing: 16.7%
		"checkout>orders low node-a,node-b",     // 4 of 600; a merged input counts all its hosts
		"web>checkout low node-a,node-b,node-c", // 1 of 2250 oversized, PII
		"fraud>payments ok node-c",
	}
	if strings.Join(order, "\n") != strings.Join(want, "\n") {
		t.Errorf("pairs:\n%s\nwant\n%s", strings.Join(order, "\n"), strings.Join(want, "\n"))
	}
	if _, err := Build([]Input{{Source: "x", Err: errors.New("down")}}); err == nil {
		t.Error("Build of nothing answered")
	}
}

// TestSeverity: the classes' bounds.
func TestSeverity(t *testing.T) {
	for _, c := range []struct {
		miss, broken uint64
		want         string
	}{{0, 0, SeverityOK}, {1, 0, SeverityLow}, {9, 0, SeverityLow}, {10, 0, SeverityWarn}, {0, 99, SeverityWarn}, {0, 100, SeverityBad}, {1000, 0, SeverityBad}} {
		p := Pair{ReportPair: pair("a", "b", "http", 1000, c.miss, c.broken, 0, nil)}
		if got := p.Severity(); got != c.want {
			t.Errorf("%d missing, %d broken of 1000: %s, want %s", c.miss, c.broken, got, c.want)
		}
	}
}

// TestPageEscapes: names from a crafted report file are text on the page,
// never markup.
func TestPageEscapes(t *testing.T) {
	evil := `"><script>alert(1)</script><x y="`
	r := nodeReports()[0]
	r.Host = evil
	r.Pairs = append(r.Pairs, pair(evil, "javascript:alert(1)", "http", 5, 5, 0, 0, map[string]uint64{evil: 1}))
	a, err := Build([]Input{{Source: evil, Report: r}, {Source: evil + "2", Err: errors.New(evil)}})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := a.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if strings.Contains(page, "<script>alert") || strings.Contains(page, `"><x`) || strings.Count(page, "<script>") != 1 {
		t.Errorf("a name became markup")
	}
	if fetching.MatchString(page) {
		t.Errorf("the page fetches %q", fetching.FindString(page))
	}
}

// TestCollectTargets: a target's label names its input, and a target that
// failed before it was read is an input that did not answer, unread.
func TestCollectTargets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s", r.URL.Path)
	}))
	defer srv.Close()
	in := CollectTargets(context.Background(), srv.Client(), []Target{
		{Location: srv.URL + "/report", Label: "node n9 (pod p9)", Err: errors.New("pod is pending")},
		{Location: "/nonexistent/report.json", Label: "node n8"},
	})
	if in[0].Source != "node n9 (pod p9)" || in[0].Err == nil || in[0].Err.Error() != "pod is pending" {
		t.Errorf("failed target: %+v", in[0])
	}
	if in[1].Source != "node n8" || in[1].Err == nil {
		t.Errorf("labelled file: %+v", in[1])
	}
}
