package report

import (
	"bytes"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/propwatch/propwatch/internal/chain"
	"github.com/propwatch/propwatch/internal/parse"
)

// chainAggregator: checkout received 10 traced requests from web and sent
// inventory 4 continued, 3 new roots and 2 dropped; a Kafka record it
// produced is classified after it was recorded.
func chainAggregator() *Aggregator {
	a := NewAggregator(AggregatorConfig{})
	in, out := PairKey{Source: "web", Destination: "checkout", Protocol: "http"}, PairKey{Source: "checkout", Destination: "inventory", Protocol: "http"}
	valid := parse.Verdict{Context: parse.Valid}
	for range 10 {
		a.RecordChain(in, &valid, ChainEvent{Received: true})
	}
	for _, c := range []struct {
		o chain.Outcome
		n int
	}{{chain.Continued, 4}, {chain.NewRoot, 3}, {chain.Dropped, 2}, {chain.None, 5}} {
		for range c.n {
			a.RecordChain(out, &valid, ChainEvent{Outcome: c.o})
		}
	}
	kafka := PairKey{Source: "checkout", Destination: "orders", Protocol: "kafka"}
	a.Record(kafka, &parse.Verdict{})
	a.Chain(kafka, chain.Dropped)
	a.AddChainEvictions(7)
	return a
}

func TestChainCounts(t *testing.T) {
	s := chainAggregator().Snapshot()
	var out PairStats
	for _, p := range s.Pairs {
		if p.Source == "checkout" && p.Destination == "inventory" {
			out = p
		}
	}
	if out.Requests != 14 || out.Continued != 4 || out.NewRoot != 3 || out.Dropped != 2 || out.BrokenChain() != 5 {
		t.Errorf("checkout -> inventory %+v", out)
	}
	if len(s.Services) != 1 {
		t.Fatalf("services %+v", s.Services)
	}
	sv := s.Services[0]
	if sv.Service != "checkout" || sv.TracedReceived != 10 || sv.Continued != 4 || sv.NewRoot != 3 || sv.Dropped != 3 ||
		len(sv.BrokenPairs) != 2 || sv.BrokenPairs[0] != (PairKey{Source: "checkout", Destination: "inventory", Protocol: "http"}) ||
		sv.BrokenPairs[1] != (PairKey{Source: "checkout", Destination: "orders", Protocol: "kafka"}) {
		t.Errorf("service %+v", sv)
	}
	if s.ChainEvictions != 7 {
		t.Errorf("evictions %d", s.ChainEvictions)
	}
}

func TestChainReportAndMerge(t *testing.T) {
	r := NewReport("node-1", t0, t1, chainAggregator().Snapshot(), nil)
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	compact := strings.Join(strings.Fields(buf.String()), "")
	for _, want := range []string{
		`"continued":4,"broken_chain":5,"broken_chain_reasons":{"dropped":2,"new_root":3}`,
		`"services":[{"service":"checkout","namespace":"","traced_received":10,"sent_continued":4,"sent_new_root":3,"sent_dropped":3,` +
			`"broken_pairs":[{"source":"checkout","destination":"inventory","protocol":"http","source_namespace":"","destination_namespace":"","tls":false},` +
			`{"source":"checkout","destination":"orders","protocol":"kafka","source_namespace":"","destination_namespace":"","tls":false}],"runtime":"unknown"}]`,
		`"chain_evictions":7`,
	} {
		if !strings.Contains(compact, want) {
			t.Errorf("report lacks %s:\n%s", want, buf.String())
		}
	}
	back, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	other := NewReport("node-2", t0, t1, Snapshot{Services: []ServiceStats{{Service: "billing", NewRoot: 1,
		BrokenPairs: []PairKey{{Source: "billing", Destination: "ledger", Protocol: "http"}}}}, ChainEvictions: 1}, nil)
	m, err := Merge(back, r, other)
	if err != nil {
		t.Fatal(err)
	}
	if m.ChainEvictions != 15 || len(m.Services) != 2 || m.Services[0].Service != "billing" {
		t.Fatalf("merged %d evictions, services %+v", m.ChainEvictions, m.Services)
	}
	if c := m.Services[1]; c.TracedReceived != 20 || c.SentContinued != 8 || c.SentNewRoot != 6 || c.SentDropped != 6 || len(c.BrokenPairs) != 2 {
		t.Errorf("merged checkout %+v", c)
	}
	for _, p := range m.Pairs {
		if p.Destination == "inventory" && (p.Continued != 8 || p.BrokenChain != 10 ||
			p.BrokenChainReasons[ChainNewRoot] != 6 || p.BrokenChainReasons[ChainDropped] != 4) {
			t.Errorf("merged pair %+v", p)
		}
	}
}

func TestChainMetrics(t *testing.T) {
	srv := httptest.NewServer(Handler(NewCollector(chainAggregator(), KernelCounters{})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`propwatch_chain_continued_total{destination="inventory",destination_namespace="",protocol="http",source="checkout",source_namespace="",tls="false"} 4`,
		`propwatch_chain_broken_total{destination="inventory",destination_namespace="",protocol="http",reason="new_root",source="checkout",source_namespace="",tls="false"} 3`,
		`propwatch_chain_broken_total{destination="inventory",destination_namespace="",protocol="http",reason="dropped",source="checkout",source_namespace="",tls="false"} 2`,
		`propwatch_chain_broken_total{destination="orders",destination_namespace="",protocol="kafka",reason="dropped",source="checkout",source_namespace="",tls="false"} 1`,
		`propwatch_chain_evictions_total 7`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestLiveBrokenFirst: a pair with every request carrying context but
// half of them breaking the chain sorts above one missing a tenth.
func TestLiveBrokenFirst(t *testing.T) {
	a := chainAggregator()
	recordN(a, PairKey{Source: "mid", Destination: "api", Protocol: "http"}, 1, parse.Missing)
	recordN(a, PairKey{Source: "mid", Destination: "api", Protocol: "http"}, 9, parse.Valid)
	var buf bytes.Buffer
	l := NewLive(&buf, true, t0)
	if err := l.Render(a.Snapshot(), nil, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(ansi.ReplaceAllString(buf.String(), ""), "\n")
	var order []string
	for _, ln := range lines[3:] {
		if f := strings.Fields(ln); len(f) > 6 {
			order = append(order, f[0]+">"+f[2]+":"+f[6])
		}
	}
	// checkout -> orders: 1 of 1 dropped; checkout -> inventory 5 of 14
	// broken; mid 1 of 10 missing; web -> checkout nothing.
	if got := strings.Join(order, " "); got != "checkout>orders:1 checkout>inventory:5 mid>api:0 web>checkout:0" {
		t.Errorf("rows (pair:BROKEN) %s", got)
	}
}

// TestChainServicesBounded: services are capped like pairs, and folded
// pairs still count under their real services.
func TestChainServicesBounded(t *testing.T) {
	a := NewAggregator(AggregatorConfig{MaxPairs: 2})
	v := parse.Verdict{}
	for _, src := range []string{"s1", "s2", "s3", "s4\x1b[31m"} {
		a.RecordChain(PairKey{Source: src, Destination: "db", Protocol: "http"}, &v, ChainEvent{Outcome: chain.Dropped})
	}
	s := a.Snapshot()
	var names []string
	var dropped uint64
	for _, sv := range s.Services {
		names = append(names, sv.Service)
		dropped += sv.Dropped
	}
	if got := strings.Join(names, ","); got != "(overflow),s1,s2" || dropped != 4 {
		t.Errorf("services %s, %d dropped", got, dropped)
	}
}
