package audit

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// The service map's geometry, in SVG user units (pixels at 100%).
const (
	boxH      = 28.0 // a service's box
	rowH      = 56.0 // between the tops of two boxes of one layer
	layerGap  = 150.0
	margin    = 24.0
	charW     = 7.0 // of the 12px sans-serif labels, roughly
	maxLabel  = 28  // runes of a service name shown; the whole in its title
	minWidth  = 1.5 // an edge's stroke, for the least volume
	widthSpan = 5.0 // added for the most
)

// mapNode is one service on the map.
type mapNode struct {
	Name, Label      string
	X, Y, W, H       float64
	TextX, TextY     float64
	Requests, Worsts int // pairs it sends or receives, and of those not ok
}

// mapEdge is one pair on the map.
type mapEdge struct {
	P        *Pair
	D        string // the SVG path
	Color    string
	Severity string
	Width    float64
}

// serviceMap is the laid-out map.
type serviceMap struct {
	Width, Height float64
	Nodes         []mapNode
	Edges         []mapEdge
}

// layout places services in layers, left to right along the pairs'
// direction: a service's layer is the longest path to it from a service
// nothing sends to, cycles broken where a depth-first walk in name order
// closes them. Within a layer services are ordered by the mean position
// of their senders in the layers before, then by name.
func layout(pairs []Pair) serviceMap {
	names := []string{}
	succ := map[string][]string{}
	for _, p := range pairs {
		src, dst := p.SourceName(), p.DestinationName()
		names = append(names, src, dst)
		if src != dst {
			succ[src] = append(succ[src], dst)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	for k, v := range succ {
		slices.Sort(v)
		succ[k] = slices.Compact(v)
	}

	// Depth-first, in name order: edges to a service on the stack close a
	// cycle and are left out; the rest, in reverse post-order, are a
	// topological order.
	state := map[string]int{} // 1 on the stack, 2 done
	var post []string
	dag := map[string][]string{} // predecessors kept
	var visit func(string)
	visit = func(n string) {
		state[n] = 1
		for _, m := range succ[n] {
			switch state[m] {
			case 0:
				dag[m] = append(dag[m], n)
				visit(m)
			case 2:
				dag[m] = append(dag[m], n)
			}
		}
		state[n] = 2
		post = append(post, n)
	}
	for _, n := range names {
		if state[n] == 0 {
			visit(n)
		}
	}
	layer := map[string]int{}
	layers := 0
	for i := len(post) - 1; i >= 0; i-- {
		n := post[i]
		for _, pred := range dag[n] {
			layer[n] = max(layer[n], layer[pred]+1)
		}
		layers = max(layers, layer[n]+1)
	}

	byLayer := make([][]string, layers)
	for _, n := range names {
		byLayer[layer[n]] = append(byLayer[layer[n]], n)
	}
	pos := map[string]float64{}
	for l, ns := range byLayer {
		bary := map[string]float64{}
		for _, n := range ns {
			sum, cnt := 0.0, 0
			for _, pred := range dag[n] {
				sum += pos[pred]
				cnt++
			}
			bary[n] = math.Inf(1)
			if cnt > 0 {
				bary[n] = sum / float64(cnt)
			}
		}
		if l > 0 {
			slices.SortStableFunc(ns, func(a, b string) int {
				switch {
				case bary[a] < bary[b]:
					return -1
				case bary[a] > bary[b]:
					return 1
				}
				return strings.Compare(a, b)
			})
		}
		for i, n := range ns {
			pos[n] = float64(i)
		}
	}

	// Geometry.
	maxW, maxRows := 60.0, 1
	labels := map[string]string{}
	for _, n := range names {
		labels[n] = shorten(n)
		maxW = max(maxW, float64(utf8.RuneCountInString(labels[n]))*charW+20)
	}
	for _, ns := range byLayer {
		maxRows = max(maxRows, len(ns))
	}
	colW := maxW + layerGap
	m := serviceMap{
		Width:  2*margin + float64(max(layers-1, 0))*colW + maxW,
		Height: 2*margin + float64(maxRows-1)*rowH + boxH + 40, // room for loops above
	}
	at := map[string]*mapNode{}
	for l, ns := range byLayer {
		top := margin + 40 + float64(maxRows-len(ns))*rowH/2
		for i, n := range ns {
			w := float64(utf8.RuneCountInString(labels[n]))*charW + 20
			x := margin + float64(l)*colW + (maxW-w)/2
			y := top + float64(i)*rowH
			m.Nodes = append(m.Nodes, mapNode{Name: n, Label: labels[n], X: x, Y: y, W: w, H: boxH,
				TextX: x + w/2, TextY: y + boxH/2 + 4})
		}
	}
	for i := range m.Nodes {
		at[m.Nodes[i].Name] = &m.Nodes[i]
	}

	var most uint64 = 1
	for _, p := range pairs {
		most = max(most, p.Requests)
	}
	parallel := map[[2]string]int{}
	for i := range pairs {
		p := &pairs[i]
		src, dst := p.SourceName(), p.DestinationName()
		s, d := at[src], at[dst]
		key := [2]string{min(src, dst), max(src, dst)}
		k := parallel[key]
		parallel[key]++
		sev := p.Severity()
		e := mapEdge{P: p, Color: Colors[sev], Severity: sev,
			Width: minWidth + widthSpan*math.Log1p(float64(p.Requests))/math.Log1p(float64(most))}
		off := float64(k) * 14
		switch {
		case s == d:
			x, y := s.X+s.W-12-off/2, s.Y
			e.D = fmt.Sprintf("M%.1f,%.1f C%.1f,%.1f %.1f,%.1f %.1f,%.1f", x, y, x+24, y-40-off, x-44, y-40-off, x-20, y)
		case layer[dst] > layer[src]:
			x1, y1 := s.X+s.W, s.Y+boxH/2+off/3
			x2, y2 := d.X, d.Y+boxH/2+off/3
			c := (x2 - x1) / 2
			e.D = fmt.Sprintf("M%.1f,%.1f C%.1f,%.1f %.1f,%.1f %.1f,%.1f", x1, y1, x1+c, y1+off, x2-c, y2+off, x2, y2)
		default: // back to an earlier layer or within one: around the top
			x1, y1 := s.X+s.W/2+off/2, s.Y
			x2, y2 := d.X+d.W/2+off/2, d.Y
			top := max(min(y1, y2)-40-off-math.Abs(x1-x2)/8, 4)
			e.D = fmt.Sprintf("M%.1f,%.1f C%.1f,%.1f %.1f,%.1f %.1f,%.1f", x1, y1, x1, top, x2, top, x2, y2)
		}
		m.Edges = append(m.Edges, e)
		s.Requests++
		d.Requests++
		if sev != SeverityOK {
			s.Worsts++
			d.Worsts++
		}
	}
	// The worst edges are drawn last, on top.
	rank := map[string]int{SeverityOK: 0, SeverityLow: 1, SeverityWarn: 2, SeverityBad: 3}
	slices.SortStableFunc(m.Edges, func(a, b mapEdge) int { return rank[a.Severity] - rank[b.Severity] })
	return m
}

// shorten cuts a service name to maxLabel runes for its box.
func shorten(s string) string {
	if utf8.RuneCountInString(s) <= maxLabel {
		return s
	}
	r := []rune(s)
	return string(r[:maxLabel-1]) + "…"
}
