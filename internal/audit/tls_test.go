package audit

import (
	"html"
	"regexp"
	"strings"
	"testing"
)

// TestTLSPairs: a pair read at a TLS library stays apart from the same
// ends' socket pair through the merge, with the nodes that saw it; the
// table shows its protocol as http+tls, and the page marks its edge and
// row (data-tls, a dashed arrow) and names it so in the edge's title.
func TestTLSPairs(t *testing.T) {
	r := nodeReports()
	tls := pair("checkout", "inventory", "http", 50, 25, 0, 0, nil)
	tls.TLS = true
	r[2].Pairs = append(r[2].Pairs, tls)
	var in []Input
	for _, rep := range r {
		in = append(in, Input{Source: rep.Host + ".json", Report: rep})
	}
	a, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	var plainRow, tlsRow *Pair
	for i := range a.Pairs {
		p := &a.Pairs[i]
		if p.Source != "checkout" || p.Destination != "inventory" {
			continue
		}
		if p.TLS {
			tlsRow = p
		} else {
			plainRow = p
		}
	}
	if plainRow == nil || tlsRow == nil {
		t.Fatalf("pairs %+v", a.Pairs)
	}
	if plainRow.Requests != 500 || strings.Join(plainRow.Nodes, ",") != "node-a,node-b" {
		t.Errorf("socket pair: %d requests on %v", plainRow.Requests, plainRow.Nodes)
	}
	if tlsRow.Requests != 50 || strings.Join(tlsRow.Nodes, ",") != "node-c" {
		t.Errorf("tls pair: %d requests on %v", tlsRow.Requests, tlsRow.Nodes)
	}

	var text strings.Builder
	if err := a.WriteText(&text, 0); err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, ln := range strings.Split(text.String(), "\n") {
		if f := strings.Fields(ln); len(f) > 4 && f[0] == "checkout" && f[2] == "inventory" {
			rows[f[3]] = strings.Join(f[4:], " ")
		}
	}
	if rows["http"] != "500 20.0% 5.0% - 0 - node-a,node-b" || rows["http+tls"] != "50 50.0% - - 0 - node-c" {
		t.Errorf("table rows %q:\n%s", rows, text.String())
	}

	var page strings.Builder
	if err := a.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	edges := regexp.MustCompile(`<path class="edge"[^>]*data-source="checkout" data-destination="inventory"[^>]*><title>[^<]*</title>`).FindAllString(page.String(), -1)
	if len(edges) != 2 {
		t.Fatalf("%d checkout → inventory edges, want 2", len(edges))
	}
	var tlsEdges int
	for _, e := range edges {
		if strings.Contains(e, `data-tls="true"`) {
			tlsEdges++
			if !strings.Contains(html.UnescapeString(e), "(http+tls): 50 requests") {
				t.Errorf("tls edge's title: %s", e)
			}
		} else if !strings.Contains(e, `data-tls="false"`) || !strings.Contains(e, "(http): 500 requests") {
			t.Errorf("socket edge: %s", e)
		}
	}
	if tlsEdges != 1 {
		t.Errorf("%d tls edges, want 1", tlsEdges)
	}
	if n := strings.Count(page.String(), `<tr class="pair" data-source="checkout" data-destination="inventory" data-protocol="http" data-tls="true"`); n != 1 {
		t.Errorf("%d tls rows, want 1", n)
	}
	if !strings.Contains(page.String(), `path.edge[data-tls="true"] { stroke-dasharray`) {
		t.Error("tls edges are not drawn apart")
	}
}
