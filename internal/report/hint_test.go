package report

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/propwatch/propwatch/internal/chain"
	"github.com/propwatch/propwatch/internal/hint"
	"github.com/propwatch/propwatch/internal/parse"
)

// TestHints: a broken pair's fixes come from its sender's runtime, its
// protocol and the reason; a service whose traced input was only Kafka
// records is told to extract them.
func TestHints(t *testing.T) {
	a := chainAggregator() // checkout: 3 new roots and 2 dropped to inventory, 1 dropped to orders
	a.Runtime("", "checkout", hint.Go)
	a.Runtime("", "web", hint.Node)
	a.Runtime("", "ignored", hint.Unknown)
	valid := parse.Verdict{Context: parse.Valid}
	// relay consumes traced records and produces with fresh traces.
	for range 4 {
		a.RecordChain(PairKey{Source: "in", Destination: "relay", Protocol: "kafka"}, &valid, ChainEvent{Received: true})
	}
	a.RecordChain(PairKey{Source: "relay", Destination: "out", Protocol: "kafka"}, &valid, ChainEvent{Outcome: chain.NewRoot})
	a.Runtime("", "relay", hint.JVM)
	// mixed runs two runtimes.
	a.Runtime("", "mixed", hint.Python)
	a.Runtime("", "mixed", hint.Node)
	a.RecordChain(PairKey{Source: "web", Destination: "mixed", Protocol: "http"}, &valid, ChainEvent{Received: true})
	a.RecordChain(PairKey{Source: "mixed", Destination: "db", Protocol: "http"}, &valid, ChainEvent{Outcome: chain.NewRoot})

	s := a.Snapshot()
	for _, c := range []struct {
		src, dst               string
		newRoot, dropped, best hint.Code
	}{
		{"checkout", "inventory", hint.GoPassCtx, hint.HTTPInject, hint.GoPassCtx},
		{"checkout", "orders", "", hint.KafkaInject, hint.KafkaInject},
		{"relay", "out", hint.KafkaExtract, "", hint.KafkaExtract},
		{"mixed", "db", hint.CodeUnknown, "", hint.CodeUnknown},
		{"web", "checkout", "", "", ""},
	} {
		p := pairOf(t, s, PairKey{Source: c.src, Destination: c.dst, Protocol: protocolOf(c.dst)})
		if p.NewRootHint != c.newRoot || p.DroppedHint != c.dropped || p.Hint() != c.best {
			t.Errorf("%s -> %s: hints %q %q, hint %q; want %q %q, %q", c.src, c.dst,
				p.NewRootHint, p.DroppedHint, p.Hint(), c.newRoot, c.dropped, c.best)
		}
	}
	runtimes := map[string]hint.Runtime{}
	for _, sv := range s.Services {
		runtimes[sv.Service] = sv.Runtime
	}
	want := map[string]hint.Runtime{"checkout": hint.Go, "relay": hint.JVM, "mixed": hint.Mixed, "out": hint.Unknown,
		"db": hint.Unknown, "mid": hint.Unknown}
	for name, rt := range runtimes {
		if want[name] != rt {
			t.Errorf("service %s runs %v, want %v", name, rt, want[name])
		}
	}
	if _, ok := a.runtimes[serviceKey{name: "ignored"}]; ok {
		t.Error("an unknown runtime was remembered")
	}
}

// TestHintDominant: a pair's hint is for the reason that broke more of
// its requests, new_root on a tie.
func TestHintDominant(t *testing.T) {
	for _, c := range []struct {
		newRoot, dropped uint64
		want             hint.Code
	}{{3, 2, hint.GoPassCtx}, {2, 3, hint.HTTPInject}, {2, 2, hint.GoPassCtx}, {0, 1, hint.HTTPInject}, {0, 0, ""}} {
		p := PairStats{NewRoot: c.newRoot, Dropped: c.dropped, NewRootHint: hint.GoPassCtx, DroppedHint: hint.HTTPInject}
		if got := p.Hint(); got != c.want {
			t.Errorf("%d new roots, %d dropped: %q, want %q", c.newRoot, c.dropped, got, c.want)
		}
	}
}

// TestRuntimesBounded: runtimes are remembered for as many services as
// there may be pairs.
func TestRuntimesBounded(t *testing.T) {
	a := NewAggregator(AggregatorConfig{MaxPairs: 2})
	for _, s := range []string{"a", "b", "c", "a"} {
		a.Runtime("", s, hint.Go)
	}
	a.Runtime("", "b", hint.Node)
	if len(a.runtimes) != 2 || a.runtimes[serviceKey{name: "a"}] != hint.Go || a.runtimes[serviceKey{name: "b"}] != hint.Mixed {
		t.Errorf("runtimes %v", a.runtimes)
	}
}

func TestHintReport(t *testing.T) {
	a := chainAggregator()
	a.Runtime("", "checkout", hint.Go)
	r := NewReport("node-1", t0, t1, a.Snapshot(), nil)
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	compact := strings.Join(strings.Fields(buf.String()), "")
	for _, want := range []string{
		`"broken_chain_reasons":{"dropped":2,"new_root":3},"hint":"go.pass_ctx","hints":{"dropped":"http.inject_headers","new_root":"go.pass_ctx"}}`,
		`"broken_chain_reasons":{"dropped":1,"new_root":0},"hint":"kafka.inject_headers","hints":{"dropped":"kafka.inject_headers"}}`,
		`"protocol":"kafka","source_namespace":"","destination_namespace":"","tls":false}],"runtime":"go"}]`,
		`"broken_chain_reasons":{"dropped":0,"new_root":0}}`, // web -> checkout: no hint
	} {
		if !strings.Contains(compact, want) {
			t.Errorf("report lacks %s:\n%s", want, buf.String())
		}
	}
	back, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Pairs, r.Pairs) || back.Services[0].Runtime != "go" {
		t.Errorf("read back differs:\n%+v\n%+v", back.Pairs, r.Pairs)
	}
}

// TestHintMerge: hosts whose processes of a service run different
// runtimes name different fixes for its pair; the merged pair takes,
// per reason, the fix of the hosts whose requests it broke most, and
// whatever the order of the inputs.
func TestHintMerge(t *testing.T) {
	host := func(name string, rt hint.Runtime, newRoot, dropped int) Report {
		a := NewAggregator(AggregatorConfig{})
		a.Runtime("", "checkout", rt)
		k := PairKey{Source: "checkout", Destination: "inventory", Protocol: "http"}
		v := parse.Verdict{}
		for range newRoot {
			a.RecordChain(k, &v, ChainEvent{Outcome: chain.NewRoot})
		}
		for range dropped {
			a.RecordChain(k, &v, ChainEvent{Outcome: chain.Dropped})
		}
		return NewReport(name, t0, t1, a.Snapshot(), nil)
	}
	goHost, nodeHost, javaHost := host("h1", hint.Go, 3, 0), host("h2", hint.Node, 2, 2), host("h3", hint.JVM, 2, 0)
	old := host("h4", hint.Unknown, 1, 1)
	old.Pairs[0].Hint, old.Pairs[0].Hints, old.Services[0].Runtime = "", nil, "" // a report from before hints

	for _, c := range []struct {
		in      []Report
		hints   map[string]string
		hint    string
		runtime string
	}{
		// Go broke 3 new roots, Node 2: Go's fix; only Node dropped.
		{[]Report{goHost, nodeHost}, map[string]string{"new_root": "go.pass_ctx", "dropped": "http.inject_headers"}, "go.pass_ctx", "mixed"},
		// Node 2, the JVM 2: the smaller code; dropped 2 < 4 new roots.
		{[]Report{nodeHost, javaHost}, map[string]string{"new_root": "java.context_wrap", "dropped": "http.inject_headers"}, "java.context_wrap", "mixed"},
		// A report without hints votes for nothing, its counts still sum.
		{[]Report{old, goHost}, map[string]string{"new_root": "go.pass_ctx"}, "go.pass_ctx", "go"},
		// The old reports drop, new roots still dominate; their drops name no fix.
		{[]Report{old, old, javaHost}, map[string]string{"new_root": "java.context_wrap"}, "java.context_wrap", "jvm"},
	} {
		for _, in := range [][]Report{c.in, reversed(c.in)} {
			m, err := Merge(in...)
			if err != nil {
				t.Fatal(err)
			}
			p := m.Pairs[0]
			if p.Hint != c.hint || !reflect.DeepEqual(p.Hints, c.hints) || m.Services[0].Runtime != c.runtime {
				t.Errorf("merged %v: hint %q, hints %v, runtime %q; want %q, %v, %q", hosts(in),
					p.Hint, p.Hints, m.Services[0].Runtime, c.hint, c.hints, c.runtime)
			}
		}
	}
}

// protocolOf is the protocol of TestHints' pairs, by destination.
func protocolOf(dst string) string {
	if dst == "orders" || dst == "out" {
		return "kafka"
	}
	return "http"
}

func reversed(in []Report) []Report {
	out := make([]Report, len(in))
	for i, r := range in {
		out[len(in)-1-i] = r
	}
	return out
}

func hosts(in []Report) []string {
	var out []string
	for _, r := range in {
		out = append(out, r.Host)
	}
	return out
}

// TestLiveHintAndBaggageRate: the live view gives a broken pair its fix in
// words, and every pair the baggage bytes a second it carried since the
// previous frame (since the start for the first).
func TestLiveHintAndBaggageRate(t *testing.T) {
	a := chainAggregator()
	a.Runtime("", "checkout", hint.Go)
	bag := func(n, bytes int) {
		v := parse.Verdict{Context: parse.Valid}
		v.Baggage.Headers, v.Baggage.Bytes = 1, bytes
		for range n {
			a.Record(PairKey{Source: "web", Destination: "checkout", Protocol: "http"}, &v)
		}
	}
	row := func(out, prefix string) []string {
		for _, ln := range strings.Split(ansi.ReplaceAllString(out, ""), "\n") {
			if strings.HasPrefix(ln, prefix) {
				return strings.Fields(ln)
			}
		}
		t.Fatalf("no row %s in:\n%s", prefix, out)
		return nil
	}
	var term, plain bytes.Buffer
	lt, lp := NewLive(&term, true, t0), NewLive(&plain, false, t0)
	lt.SetSize(200, 40)
	render := func(at time.Duration) {
		term.Reset()
		plain.Reset()
		for _, l := range []*Live{lt, lp} {
			if err := l.Render(a.Snapshot(), nil, t0.Add(at)); err != nil {
				t.Fatal(err)
			}
		}
	}

	bag(10, 1000) // 10,000 bytes in the first 10 s
	render(10 * time.Second)
	if f := row(term.String(), "checkout → inventory"); strings.Join(f[12:], " ") != "0 pass ctx into goroutines" {
		t.Errorf("checkout -> inventory row %q", f)
	}
	if f := row(term.String(), "checkout → orders"); strings.Join(f[12:], " ") != "0 inject context into record headers" {
		t.Errorf("checkout -> orders row %q", f)
	}
	if f := row(term.String(), "web → checkout"); len(f) != 13 || f[12] != "1.0k" {
		t.Errorf("web -> checkout row %q: want 1.0k baggage bytes a second and no fix", f)
	}
	for _, want := range []string{
		`source=checkout destination=inventory protocol=http requests=14 new_requests=14 ` +
			`missing=0 missing_pct=0.0 invalid=0 invalid_pct=0.0 oversized=0 at_risk=0 pii=0 suspect_keys=0 truncated=0 coverage_gaps=0 ` +
			`continued=4 broken=5 broken.new_root=3 broken.dropped=2 baggage_bytes_per_second=0.0 hint=go.pass_ctx fix="pass ctx into goroutines"` + "\n",
		`source=web destination=checkout protocol=http requests=20 new_requests=20 `,
		`baggage_bytes_per_second=1000.0` + "\n",
	} {
		if !strings.Contains(plain.String(), want) {
			t.Errorf("plain lines lack %s:\n%s", want, plain.String())
		}
	}

	bag(5, 4000) // 20,000 bytes in the next 4 s: the rate of that interval
	render(14 * time.Second)
	if f := row(term.String(), "web → checkout"); f[12] != "5.0k" {
		t.Errorf("second frame: %s baggage bytes a second, want 5.0k", f[12])
	}
	if !strings.Contains(plain.String(), "new_requests=5 ") || !strings.Contains(plain.String(), "baggage_bytes_per_second=5000.0\n") {
		t.Errorf("second frame lines:\n%s", plain.String())
	}
	render(20 * time.Second)
	if f := row(term.String(), "web → checkout"); f[12] != "0" {
		t.Errorf("idle frame: %s baggage bytes a second, want 0", f[12])
	}
}

func TestBytesRate(t *testing.T) {
	for r, want := range map[float64]string{0: "0", 999.4: "999", 999.5: "1.0k", 1500: "1.5k", 999949: "999.9k",
		999950: "1.0M", 2.5e9: "2.5G", 7e12: "7000.0G"} {
		if got := bytesRate(r); got != want {
			t.Errorf("bytesRate(%v) = %q, want %q", r, got, want)
		}
	}
}
