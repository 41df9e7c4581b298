package report

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/propwatch/propwatch/internal/chain"
	"github.com/propwatch/propwatch/internal/parse"
)

// tlsAggregator counts one pair read twice: 3 requests from socket bytes
// and 2 read at the TLS library, one of those a new root.
func tlsAggregator() (a *Aggregator, plain, tls PairKey) {
	a = NewAggregator(AggregatorConfig{})
	plain = PairKey{Source: "checkout", Destination: "inventory", Protocol: "http"}
	tls = plain
	tls.TLS = true
	recordN(a, plain, 3, parse.Missing)
	recordN(a, tls, 1, parse.Valid)
	v := parse.Verdict{Context: parse.Valid}
	a.RecordChain(tls, &v, ChainEvent{Outcome: chain.NewRoot})
	return a, plain, tls
}

// TestTLSPairs: requests read at a TLS library are a pair of their own
// beside the same ends' socket requests, in the snapshot (socket first),
// the report (a tls field on every pair and broken pair), a merge and a
// report written before the field.
func TestTLSPairs(t *testing.T) {
	a, plain, tls := tlsAggregator()
	s := a.Snapshot()
	if len(s.Pairs) != 2 {
		t.Fatalf("%d pairs, want 2: %+v", len(s.Pairs), s.Pairs)
	}
	if s.Pairs[0].TLS || !s.Pairs[1].TLS {
		t.Errorf("pairs not socket first: %+v", s.Pairs)
	}
	if p := pairOf(t, s, plain); p.Requests != 3 || p.MissingContext != 3 || p.NewRoot != 0 {
		t.Errorf("socket pair %+v", p)
	}
	if p := pairOf(t, s, tls); p.Requests != 2 || p.MissingContext != 0 || p.NewRoot != 1 {
		t.Errorf("tls pair %+v", p)
	}

	r := NewReport("node-1", t0, t1, s, nil)
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	compact := strings.Join(strings.Fields(buf.String()), "")
	for _, want := range []string{
		`"protocol":"http","source_namespace":"","destination_namespace":"","tls":false,"requests":3,`,
		`"protocol":"http","source_namespace":"","destination_namespace":"","tls":true,"requests":2,`,
		`"broken_pairs":[{"source":"checkout","destination":"inventory","protocol":"http","source_namespace":"","destination_namespace":"","tls":true}]`,
	} {
		if !strings.Contains(compact, want) {
			t.Errorf("report lacks %s:\n%s", want, compact)
		}
	}

	back, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Merge(back, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Pairs) != 2 {
		t.Fatalf("merged %d pairs, want 2: %+v", len(m.Pairs), m.Pairs)
	}
	for _, p := range m.Pairs {
		switch p.Key() {
		case plain:
			if p.TLS || p.Requests != 6 {
				t.Errorf("merged socket pair %+v", p)
			}
		case tls:
			if !p.TLS || p.Requests != 4 || p.BrokenChainReasons[ChainNewRoot] != 2 {
				t.Errorf("merged tls pair %+v", p)
			}
		default:
			t.Errorf("merged pair %v", p.Key())
		}
	}
	if len(m.Services) != 1 || len(m.Services[0].BrokenPairs) != 1 || !m.Services[0].BrokenPairs[0].TLS {
		t.Errorf("merged services %+v", m.Services)
	}

	// A report from before the field: its pairs were read from sockets,
	// and merge with today's socket pair.
	old := strings.NewReader(`{"schema":"propwatch.report/v1","host":"node-0","pairs":[
		{"source":"checkout","destination":"inventory","protocol":"http","requests":5}]}`)
	prev, err := ReadJSON(old)
	if err != nil {
		t.Fatal(err)
	}
	m, err = Merge(prev, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Pairs) != 2 || m.Pairs[0].Key() != plain || m.Pairs[0].Requests != 8 || m.Pairs[1].Requests != 2 {
		t.Errorf("merge with an old report: %+v", m.Pairs)
	}
}

// TestTLSMetrics: every per-pair series has a tls label, "true" on the
// pair read at a TLS library and "false" on the socket's.
func TestTLSMetrics(t *testing.T) {
	a, _, _ := tlsAggregator()
	rec := httptest.NewRecorder()
	Handler(NewCollector(a, KernelCounters{})).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	const labels = `destination="inventory",destination_namespace="",protocol="http",source="checkout",source_namespace=""`
	for _, want := range []string{
		`propwatch_requests_total{` + labels + `,tls="false"} 3`,
		`propwatch_requests_total{` + labels + `,tls="true"} 2`,
		`propwatch_context_missing_total{` + labels + `,tls="false"} 3`,
		`propwatch_context_missing_total{` + labels + `,tls="true"} 0`,
		`propwatch_chain_broken_total{destination="inventory",destination_namespace="",protocol="http",reason="new_root",source="checkout",source_namespace="",tls="true"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.Contains(line, `source="checkout"`) && !strings.Contains(line, `,tls="`) {
			t.Errorf("series without a tls label: %s", line)
		}
	}
}

// TestTLSLive: the live table marks the TLS pair's protocol "http+tls" in
// a column wide enough for every protocol so marked; the plain lines add
// tls=true to its line only.
func TestTLSLive(t *testing.T) {
	a, _, _ := tlsAggregator()
	k := PairKey{Source: "orders", Destination: "payments-topic", Protocol: "kafka", TLS: true}
	recordN(a, k, 1, parse.Valid)
	var buf bytes.Buffer
	l := NewLive(&buf, true, t0)
	if err := l.Render(a.Snapshot(), nil, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(ansi.ReplaceAllString(buf.String(), ""), "\n"), "\n")
	want := [][]string{
		{"checkout", "→", "inventory", "http", "3", "100.0"},
		{"checkout", "→", "inventory", "http+tls", "2", "0.0"},
		{"orders", "→", "payments-topic", "kafka+tls", "1", "0.0"},
	}
	rows := lines[3:]
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d:\n%s", len(rows), len(want), strings.Join(lines, "\n"))
	}
	col := len([]rune(lines[2][:strings.Index(lines[2], "PROTO")]))
	reqs := len([]rune(lines[2][:strings.Index(lines[2], "REQS")+len("REQS")]))
	for i, w := range want {
		if got := strings.Fields(rows[i])[:len(w)]; strings.Join(got, " ") != strings.Join(w, " ") {
			t.Errorf("row %d = %q, want %q", i, rows[i], strings.Join(w, " "))
		}
		r := []rune(rows[i])
		if !strings.HasPrefix(string(r[col:]), w[3]+" ") || r[reqs-1] != []rune(w[4])[0] {
			t.Errorf("row %d misaligned: %q", i, rows[i])
		}
	}

	buf.Reset()
	l = NewLive(&buf, false, t0)
	if err := l.Render(a.Snapshot(), nil, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	var tlsLines, plainLines int
	for _, ln := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		switch {
		case !strings.Contains(ln, "kind=pair"):
		case strings.HasSuffix(ln, " tls=true") || strings.Contains(ln, " tls=true "):
			tlsLines++
		case strings.Contains(ln, "tls="):
			t.Errorf("socket pair line with tls: %s", ln)
		default:
			plainLines++
		}
	}
	if tlsLines != 2 || plainLines != 1 {
		t.Errorf("%d tls and %d socket pair lines, want 2 and 1:\n%s", tlsLines, plainLines, buf.String())
	}
}
