package report

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/propwatch/propwatch/internal/chain"
	"github.com/propwatch/propwatch/internal/hint"
	"github.com/propwatch/propwatch/internal/parse"
)

// TestNamespaces: in a cluster two namespaces may each run a service of one
// name; their pairs, services and runtimes stay apart in the snapshot, the
// report, a merge and the metrics, and people see "namespace/name".
func TestNamespaces(t *testing.T) {
	a := NewAggregator(AggregatorConfig{})
	shop := PairKey{Source: "checkout", Destination: "inventory", Protocol: "http", SourceNamespace: "shop", DestinationNamespace: "shop"}
	staging := PairKey{Source: "checkout", Destination: "inventory", Protocol: "http", SourceNamespace: "staging", DestinationNamespace: "staging"}
	host := PairKey{Source: "checkout", Destination: "inventory", Protocol: "http"}
	recordN(a, shop, 3, parse.Missing)
	recordN(a, staging, 2, parse.Valid)
	recordN(a, host, 1, parse.Valid)
	a.Runtime("shop", "checkout", hint.Go)
	a.Runtime("staging", "checkout", hint.Node)
	v := parse.Verdict{Context: parse.Valid}
	a.RecordChain(shop, &v, ChainEvent{Outcome: chain.NewRoot})

	s := a.Snapshot()
	if len(s.Pairs) != 3 {
		t.Fatalf("%d pairs, want 3: %+v", len(s.Pairs), s.Pairs)
	}
	if p := pairOf(t, s, shop); p.Requests != 4 || p.MissingContext != 3 || p.NewRoot != 1 || p.NewRootHint != hint.GoPassCtx {
		t.Errorf("shop pair %+v", p)
	}
	if p := pairOf(t, s, staging); p.Requests != 2 || p.MissingContext != 0 {
		t.Errorf("staging pair %+v", p)
	}
	var svcs []string
	for _, sv := range s.Services {
		svcs = append(svcs, QualifiedName(sv.Namespace, sv.Service)+":"+sv.Runtime.String())
	}
	if got := strings.Join(svcs, " "); got != "shop/checkout:go" {
		t.Errorf("services %s", got)
	}

	r := NewReport("node-1", t0, t1, s, nil)
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	compact := strings.Join(strings.Fields(buf.String()), "")
	for _, want := range []string{
		`"source":"checkout","destination":"inventory","protocol":"http","source_namespace":"shop","destination_namespace":"shop","tls":false,"requests":4,`,
		`"source":"checkout","destination":"inventory","protocol":"http","source_namespace":"","destination_namespace":"","tls":false,"requests":1,`,
		`"service":"checkout","namespace":"shop","traced_received":0,"sent_continued":0,"sent_new_root":1`,
	} {
		if !strings.Contains(compact, want) {
			t.Errorf("report lacks %s", want)
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
	if len(m.Pairs) != 3 {
		t.Fatalf("merged %d pairs", len(m.Pairs))
	}
	for _, p := range m.Pairs {
		if p.Key() == shop && (p.Requests != 8 || p.SourceName() != "shop/checkout" || p.DestinationName() != "shop/inventory") {
			t.Errorf("merged shop pair %+v", p)
		}
		if p.Key() == host && p.SourceName() != "checkout" {
			t.Errorf("off-cluster pair shown as %q", p.SourceName())
		}
	}

	rec := httptest.NewRecorder()
	Handler(NewCollector(a, KernelCounters{})).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`propwatch_requests_total{destination="inventory",destination_namespace="shop",protocol="http",source="checkout",source_namespace="shop",tls="false"} 4`,
		`propwatch_requests_total{destination="inventory",destination_namespace="staging",protocol="http",source="checkout",source_namespace="staging",tls="false"} 2`,
		`propwatch_requests_total{destination="inventory",destination_namespace="",protocol="http",source="checkout",source_namespace="",tls="false"} 1`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	sp := pairOf(t, s, shop)
	if got := pairName(&sp); got != "shop/checkout → shop/inventory" {
		t.Errorf("live view names the shop pair %q", got)
	}
}
