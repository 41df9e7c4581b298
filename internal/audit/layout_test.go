package audit

import (
	"fmt"
	"strings"
	"testing"
)

// TestLayout: every service is one box inside the map, no two boxes
// overlap, every pair is one edge, and the layers follow the pairs: a
// service is right of those that send to it, but for the pair that
// closes a cycle.
func TestLayout(t *testing.T) {
	pairs := fleetAudit(t).Pairs
	// A self pair, a long name, and many services in one layer.
	pairs = append(pairs, Pair{ReportPair: pair("fraud", "fraud", "http", 3, 3, 0, 0, nil)})
	pairs = append(pairs, Pair{ReportPair: pair("web", strings.Repeat("very-long-service-name-", 4), "http", 3, 0, 0, 0, nil)})
	for i := range 12 {
		pairs = append(pairs, Pair{ReportPair: pair("inventory", fmt.Sprintf("db-%02d", i), "http", uint64(i), 0, 0, 0, nil)})
	}
	m := layout(pairs)
	if len(m.Edges) != len(pairs) {
		t.Errorf("%d edges for %d pairs", len(m.Edges), len(pairs))
	}
	if len(m.Nodes) != 6+1+12 {
		t.Errorf("%d services", len(m.Nodes))
	}
	at := map[string]mapNode{}
	for i, a := range m.Nodes {
		at[a.Name] = a
		if a.X < 0 || a.Y < 0 || a.X+a.W > m.Width || a.Y+a.H > m.Height {
			t.Errorf("%s at %.0f,%.0f %.0fx%.0f outside the %.0fx%.0f map", a.Name, a.X, a.Y, a.W, a.H, m.Width, m.Height)
		}
		for _, b := range m.Nodes[i+1:] {
			if a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H {
				t.Errorf("%s and %s overlap", a.Name, b.Name)
			}
		}
		if len([]rune(a.Label)) > maxLabel {
			t.Errorf("label %q too long", a.Label)
		}
	}
	for _, e := range []string{"web checkout", "checkout inventory", "inventory db-05", "fraud payments"} {
		f := strings.Fields(e)
		if at[f[0]].X >= at[f[1]].X {
			t.Errorf("%s is not left of %s", f[0], f[1])
		}
	}
	// The worst edges come last, drawn on top.
	if last := m.Edges[len(m.Edges)-1]; last.Severity != SeverityBad {
		t.Errorf("last edge %s", last.Severity)
	}
	for _, e := range m.Edges {
		if !strings.HasPrefix(e.D, "M") || strings.Contains(e.D, "NaN") || e.Width < minWidth || e.Width > minWidth+widthSpan {
			t.Errorf("edge %s -> %s: %q width %.1f", e.P.Source, e.P.Destination, e.D, e.Width)
		}
	}
}
