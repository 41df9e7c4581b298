package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/propwatch/propwatch/internal/parse"
	"github.com/propwatch/propwatch/internal/parse/formats"
	"github.com/propwatch/propwatch/internal/parse/http1"
	"github.com/propwatch/propwatch/internal/parse/pii"
	"github.com/propwatch/propwatch/internal/parse/reason"
	"github.com/propwatch/propwatch/internal/parse/w3c"
)

var (
	pairAB = PairKey{Source: "frontend", Destination: "checkout", Protocol: "http"}
	pairAC = PairKey{Source: "frontend", Destination: "cart", Protocol: "http"}
)

const validTP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// judge runs the real engine over a request head and returns a copy of the
// verdict (the analyzer's one is reused by its next call).
func judge(t testing.TB, head string) parse.Verdict {
	t.Helper()
	var h http1.Head
	h.Parse([]byte(strings.ReplaceAll(head, "\n", "\r\n")))
	v := *parse.NewAnalyzer(parse.Options{}).Head(&h)
	v.Reasons = append(reason.List(nil), v.Reasons...)
	return v
}

func zeroPII() map[string]uint64 {
	m := map[string]uint64{}
	for _, k := range pii.AllKinds() {
		m[k.String()] = 0
	}
	return m
}

func pairOf(t *testing.T, s Snapshot, k PairKey) PairStats {
	t.Helper()
	for _, p := range s.Pairs {
		if p.Key() == k {
			return p
		}
	}
	t.Fatalf("pair %v not in snapshot", k)
	return PairStats{}
}

type recorded struct {
	k      PairKey
	v      parse.Verdict
	reason reason.Code
}

func TestAggregatorCounts(t *testing.T) {
	clean := parse.Verdict{Context: parse.Valid, Formats: formats.W3C}
	missing := parse.Verdict{Context: parse.Missing}
	invalid := parse.Verdict{Context: parse.Invalid, Formats: formats.W3C | formats.B3,
		Reasons: reason.List{"traceparent.version_invalid", "b3.invalid"}}
	bag := parse.Verdict{Context: parse.Valid, Formats: formats.W3C,
		Baggage: w3c.BaggageStats{Headers: 2, Members: 70, Bytes: 5000, Oversized: true, AtRisk: true},
		Reasons: reason.List{"baggage.oversized_members"}, SuspectKeys: 2}
	bag.PII[pii.Email] = 2
	bag.PII[pii.JWT] = 1
	small := parse.Verdict{Context: parse.Valid, Baggage: w3c.BaggageStats{Headers: 1, Members: 1, Bytes: 100}}
	cut := parse.Verdict{Context: parse.Missing, Truncated: true, Reasons: reason.List{parse.ContextFieldCut}}

	tests := []struct {
		name  string
		input []recorded
		want  map[PairKey]PairStats
	}{
		{
			name:  "clean requests",
			input: []recorded{{pairAB, clean, ""}, {pairAB, clean, ""}, {pairAB, clean, ""}},
			want: map[PairKey]PairStats{pairAB: {
				Requests: 3, Formats: map[string]uint64{"w3c": 3},
			}},
		},
		{
			name:  "missing and invalid",
			input: []recorded{{pairAB, missing, ""}, {pairAB, invalid, "traceparent.version_invalid"}, {pairAB, invalid, ""}, {pairAB, clean, "ignored.when_valid"}},
			want: map[PairKey]PairStats{pairAB: {
				Requests: 4, MissingContext: 1, InvalidContext: 2,
				InvalidReasons: map[string]uint64{"traceparent.version_invalid": 1, ReasonUnknown: 1},
				Defects:        map[string]uint64{"traceparent.version_invalid": 2, "b3.invalid": 2},
				Formats:        map[string]uint64{"w3c": 3, "b3": 2},
			}},
		},
		{
			name:  "baggage, pii and suspect keys",
			input: []recorded{{pairAB, bag, ""}, {pairAB, small, ""}, {pairAB, clean, ""}},
			want: map[PairKey]PairStats{pairAB: {
				Requests: 3, OversizedBaggage: 1, AtRiskBaggage: 1, MaxBaggageBytes: 5000,
				BaggageBytes: Histogram{Counts: [NumBuckets]uint64{0: 1, 6: 1}, Sum: 5100, Count: 2},
				Defects:      map[string]uint64{"baggage.oversized_members": 1},
				PIIByKind:    map[string]uint64{"email": 2, "jwt": 1},
				SuspectKeys:  2, Formats: map[string]uint64{"w3c": 2},
			}},
		},
		{
			name:  "truncated heads and two pairs",
			input: []recorded{{pairAB, cut, ""}, {pairAC, cut, ""}, {pairAC, clean, ""}},
			want: map[PairKey]PairStats{
				pairAB: {Requests: 1, MissingContext: 1, Truncated: 1, Defects: map[string]uint64{"context.field_truncated": 1}},
				pairAC: {Requests: 2, MissingContext: 1, Truncated: 1, Defects: map[string]uint64{"context.field_truncated": 1}, Formats: map[string]uint64{"w3c": 1}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAggregator(AggregatorConfig{})
			for _, r := range tt.input {
				record(a, r.k, &r.v, r.reason)
			}
			s := a.Snapshot()
			if len(s.Pairs) != len(tt.want) {
				t.Fatalf("got %d pairs, want %d", len(s.Pairs), len(tt.want))
			}
			for k, want := range tt.want {
				want.Source, want.Destination, want.Protocol = k.Source, k.Destination, k.Protocol
				want.InvalidReasons = orEmpty(want.InvalidReasons)
				want.Defects = orEmpty(want.Defects)
				want.Formats = orEmpty(want.Formats)
				p := zeroPII()
				maps.Copy(p, want.PIIByKind)
				want.PIIByKind = p
				got := pairOf(t, s, k)
				if diff := diffPair(got, want); diff != "" {
					t.Errorf("pair %v: %s", k, diff)
				}
				var sum uint64
				for _, n := range got.InvalidReasons {
					sum += n
				}
				if sum != got.InvalidContext {
					t.Errorf("InvalidReasons sum to %d, InvalidContext is %d", sum, got.InvalidContext)
				}
			}
		})
	}
}

func orEmpty(m map[string]uint64) map[string]uint64 {
	if m == nil {
		return map[string]uint64{}
	}
	return m
}

// diffPair names the first fields that differ, or returns "".
func diffPair(got, want PairStats) string {
	var d []string
	g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want)
	if g != w { // fmt prints maps sorted, so this is an exact comparison
		d = append(d, "\n got  "+g+"\n want "+w)
	}
	return strings.Join(d, "")
}

// TestAggregatorEngine drives the real engine end to end.
func TestAggregatorEngine(t *testing.T) {
	heads := []string{
		"GET / HTTP/1.1\nHost: a\ntraceparent: " + validTP + "\nbaggage: user=alice@example.com,tenant=7\n\n",
		"GET / HTTP/1.1\nHost: a\n\n",
		"GET / HTTP/1.1\nHost: a\ntraceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01\n\n",
		"GET / HTTP/1.1\nHost: a\nb3: 4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1\n\n",
	}
	a := NewAggregator(AggregatorConfig{})
	for _, h := range heads {
		v := judge(t, h)
		var code reason.Code
		if v.Context == parse.Invalid {
			code = v.Reasons[0]
		}
		record(a, pairAB, &v, code)
	}
	p := pairOf(t, a.Snapshot(), pairAB)
	if p.Requests != 4 || p.MissingContext != 1 || p.InvalidContext != 1 {
		t.Errorf("requests/missing/invalid = %d/%d/%d, want 4/1/1", p.Requests, p.MissingContext, p.InvalidContext)
	}
	if p.InvalidReasons["traceparent.trace_id_zero"] != 1 {
		t.Errorf("InvalidReasons = %v", p.InvalidReasons)
	}
	if p.PIIByKind["email"] != 1 || p.Formats["w3c"] != 2 || p.Formats["b3"] != 1 {
		t.Errorf("pii %v formats %v", p.PIIByKind, p.Formats)
	}
	if p.BaggageBytes.Count != 1 || p.MaxBaggageBytes != len("user=alice@example.com,tenant=7") {
		t.Errorf("baggage histogram %+v max %d", p.BaggageBytes, p.MaxBaggageBytes)
	}
}

func TestParseFailures(t *testing.T) {
	a := NewAggregator(AggregatorConfig{})
	a.ParseFailure("http.not_http")
	a.ParseFailure("http.not_http")
	a.ParseFailure("conn.evicted")
	a.ParseFailure("bad\x1b[2Jreason")
	for i := range 200 {
		a.ParseFailure(fmt.Sprintf("r%d", i))
	}
	s := a.Snapshot()
	if s.ParseFailures["http.not_http"] != 2 || s.ParseFailures["conn.evicted"] != 1 || s.ParseFailures["bad?[2Jreason"] != 1 {
		t.Errorf("ParseFailures = %v", s.ParseFailures)
	}
	if len(s.ParseFailures) > maxFailureReasons {
		t.Errorf("%d distinct reasons kept, want at most %d", len(s.ParseFailures), maxFailureReasons)
	}
	var total uint64
	for _, n := range s.ParseFailures {
		total += n
	}
	if total != 204 {
		t.Errorf("total failures %d, want 204", total)
	}
}

func TestOverflowFolding(t *testing.T) {
	a := NewAggregator(AggregatorConfig{MaxPairs: 3})
	v := parse.Verdict{Context: parse.Missing}
	for i := range 3 {
		record(a, PairKey{Source: fmt.Sprint("s", i), Destination: "d", Protocol: "http"}, &v, "")
	}
	// Five more distinct pairs, two of them twice; and a known pair again.
	for i := 3; i < 8; i++ {
		record(a, PairKey{Source: fmt.Sprint("s", i), Destination: "d", Protocol: "http"}, &v, "")
	}
	record(a, PairKey{Source: "s3", Destination: "d", Protocol: "http"}, &v, "")
	record(a, PairKey{Source: "s4", Destination: "d", Protocol: "http"}, &v, "")
	record(a, PairKey{Source: "s0", Destination: "d", Protocol: "http"}, &v, "")
	// A pair that calls itself the overflow pair is folded too.
	record(a, PairKey{Source: OverflowName, Destination: OverflowName, Protocol: "http"}, &v, "")
	// Another protocol gets its own overflow pair.
	record(a, PairKey{Source: "s9", Destination: "d", Protocol: "kafka"}, &v, "")

	s := a.Snapshot()
	if len(s.Pairs) != 5 {
		t.Fatalf("%d pairs, want 3 + 2 overflow: %+v", len(s.Pairs), s.Pairs)
	}
	if got := pairOf(t, s, PairKey{Source: "s0", Destination: "d", Protocol: "http"}).Requests; got != 2 {
		t.Errorf("s0 requests %d, want 2", got)
	}
	over := pairOf(t, s, PairKey{Source: OverflowName, Destination: OverflowName, Protocol: "http"})
	if over.Requests != 8 || over.MissingContext != 8 {
		t.Errorf("overflow pair %+v, want 8 requests", over)
	}
	if got := pairOf(t, s, PairKey{Source: OverflowName, Destination: OverflowName, Protocol: "kafka"}).Requests; got != 1 {
		t.Errorf("kafka overflow requests %d, want 1", got)
	}
	if s.FoldedRequests != 9 || s.FoldedPairs != 7 {
		t.Errorf("folded requests %d pairs %d, want 9 and 7", s.FoldedRequests, s.FoldedPairs)
	}
}

func TestOverflowProtocolsBounded(t *testing.T) {
	a := NewAggregator(AggregatorConfig{MaxPairs: 1})
	v := parse.Verdict{}
	for i := range 50 {
		record(a, PairKey{Source: "s", Destination: "d", Protocol: fmt.Sprint("p", i)}, &v, "")
	}
	if got := a.Len(); got > 1+maxOverflowProtocols+1 {
		t.Errorf("table has %d entries with 50 protocols, want at most %d", got, maxOverflowProtocols+2)
	}
	var total uint64
	for _, p := range a.Snapshot().Pairs {
		total += p.Requests
	}
	if total != 50 {
		t.Errorf("%d requests counted, want 50", total)
	}
}

// TestPairTableBounded records 100k distinct pairs: the table must stay at
// MaxPairs real pairs plus the one overflow pair, and the folded count
// must be close to the truth while using bounded memory.
func TestPairTableBounded(t *testing.T) {
	const n = 100_000
	a := NewAggregator(AggregatorConfig{})
	v := parse.Verdict{Context: parse.Valid}
	for i := range n {
		record(a, PairKey{Source: fmt.Sprint("source-", i), Destination: "destination", Protocol: "http"}, &v, "")
	}
	if got, want := a.Len(), defaultMaxPairs+1; got != want {
		t.Errorf("pair table has %d entries, want %d", got, want)
	}
	s := a.Snapshot()
	if len(s.Pairs) != defaultMaxPairs+1 {
		t.Errorf("snapshot has %d pairs", len(s.Pairs))
	}
	if !slices.IsSortedFunc(s.Pairs, comparePairs) {
		t.Error("snapshot pairs are not sorted by key")
	}
	if s.FoldedRequests != n-defaultMaxPairs {
		t.Errorf("FoldedRequests = %d, want %d", s.FoldedRequests, n-defaultMaxPairs)
	}
	want := float64(n - defaultMaxPairs)
	if got := float64(s.FoldedPairs); got < want*0.96 || got > want*1.04 {
		t.Errorf("FoldedPairs = %v, want %v within 4%%", got, want)
	}
	if a.folded.exact != nil {
		t.Error("the exact set of folded keys was kept past its bound")
	}
	// The count is a counter: it must never go down between snapshots.
	prev := s.FoldedPairs
	for i := range 1000 {
		record(a, PairKey{Source: fmt.Sprint("again-", i), Destination: "destination", Protocol: "http"}, &v, "")
		if i%100 == 0 {
			if got := a.Snapshot().FoldedPairs; got < prev {
				t.Fatalf("FoldedPairs went down from %d to %d", prev, got)
			} else {
				prev = got
			}
		}
	}
}

func TestFoldedExactThenEstimated(t *testing.T) {
	var f foldedSet
	for i := range exactFolded {
		f.add(PairKey{Source: fmt.Sprint(i), Destination: "d", Protocol: "http"})
		f.add(PairKey{Source: fmt.Sprint(i), Destination: "d", Protocol: "http"}) // repeats count once
	}
	if got := f.count(); got != exactFolded {
		t.Errorf("count %d, want exactly %d", got, exactFolded)
	}
	for i := exactFolded; i < 3*exactFolded; i++ {
		f.add(PairKey{Source: fmt.Sprint(i), Destination: "d", Protocol: "http"})
	}
	if got := f.count(); got < 3*exactFolded*97/100 || got > 3*exactFolded*103/100 {
		t.Errorf("estimate %d, want about %d", got, 3*exactFolded)
	}
}

func TestSanitizedNames(t *testing.T) {
	long := strings.Repeat("a", 300)
	tests := []struct {
		in, want string
	}{
		{"checkout", "checkout"},
		{"", EmptyName},
		{"évènement-服务", "évènement-服务"},
		{"\x1b[2J\x1b[Hpwned", "?[2J?[Hpwned"},
		{"a\nb\tc\x00d\x7f", "a?b?c?d?"},
		{"bad\xff\xfeutf8", "bad??utf8"},
		{"rtl\u202eevil", "rtl?evil"},
		{long, long[:MaxLabelBytes]},
		{strings.Repeat("é", 100), strings.Repeat("é", MaxLabelBytes/2)},
	}
	for _, tt := range tests {
		got := sanitizeLabel(tt.in)
		if got != tt.want {
			t.Errorf("sanitizeLabel(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if !labelOK(got) {
			t.Errorf("sanitizeLabel(%q) = %q, which is not clean", tt.in, got)
		}
	}

	// Hostile names end up sanitized in the snapshot, and raw names that
	// sanitize alike share one pair, so label sets stay unique.
	a := NewAggregator(AggregatorConfig{})
	v := parse.Verdict{}
	record(a, PairKey{Source: "web\x1b[31m", Destination: "db\n", Protocol: "http"}, &v, "")
	record(a, PairKey{Source: "web\x1b[32m", Destination: "db\r", Protocol: "http"}, &v, "")
	record(a, PairKey{Source: long + "x", Destination: "db", Protocol: "http"}, &v, "")
	record(a, PairKey{Source: long + "y", Destination: "db", Protocol: "http"}, &v, "")
	s := a.Snapshot()
	if len(s.Pairs) != 3 {
		t.Fatalf("%d pairs, want 3: %+v", len(s.Pairs), s.Pairs)
	}
	if p := pairOf(t, s, PairKey{Source: "web?[31m", Destination: "db?", Protocol: "http"}); p.Requests != 1 {
		t.Errorf("web?[31m requests %d", p.Requests)
	}
	if p := pairOf(t, s, PairKey{Source: long[:MaxLabelBytes], Destination: "db", Protocol: "http"}); p.Requests != 2 {
		t.Errorf("long name requests %d, want 2", p.Requests)
	}
	for _, p := range s.Pairs {
		for _, name := range []string{p.Source, p.Destination, p.Protocol} {
			if !labelOK(name) || len(name) > MaxLabelBytes {
				t.Errorf("unsanitized name %q", name)
			}
		}
	}
}

// TestSnapshotIsDeepCopy checks that a snapshot does not move when the
// aggregator does, and the other way round.
func TestSnapshotIsDeepCopy(t *testing.T) {
	a := NewAggregator(AggregatorConfig{})
	v := parse.Verdict{Context: parse.Invalid, Reasons: reason.List{"x.y"}}
	record(a, pairAB, &v, "x.y")
	s := a.Snapshot()
	s.Pairs[0].Defects["x.y"] = 100
	s.Pairs[0].InvalidReasons["x.y"] = 100
	s.ParseFailures["z"] = 1
	record(a, pairAB, &v, "x.y")
	s2 := a.Snapshot()
	p := s2.Pairs[0]
	if p.Defects["x.y"] != 2 || p.InvalidReasons["x.y"] != 2 || len(s2.ParseFailures) != 0 {
		t.Errorf("snapshot shares state: %+v %v", p, s2.ParseFailures)
	}
	if s.Pairs[0].Requests != 1 {
		t.Errorf("old snapshot moved: %d requests", s.Pairs[0].Requests)
	}
}

func TestCodesPerPairBounded(t *testing.T) {
	a := NewAggregator(AggregatorConfig{})
	for i := range 500 {
		v := parse.Verdict{Reasons: reason.List{reason.Code(fmt.Sprint("f.c", i))}}
		record(a, pairAB, &v, "")
	}
	p := a.Snapshot().Pairs[0]
	if len(p.Defects) > maxCodesPerPair {
		t.Errorf("%d distinct codes kept", len(p.Defects))
	}
	var sum uint64
	for _, n := range p.Defects {
		sum += n
	}
	if sum != 500 || p.Defects[ReasonOther] == 0 {
		t.Errorf("defects sum %d, other %d", sum, p.Defects[ReasonOther])
	}
}

func TestAggregatorConcurrent(t *testing.T) {
	a := NewAggregator(AggregatorConfig{MaxPairs: 50})
	const workers, per = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := parse.Verdict{Context: parse.Invalid, Reasons: reason.List{"traceparent.version_invalid"},
				Formats: formats.W3C, Baggage: w3c.BaggageStats{Headers: 1, Bytes: 300}}
			v.PII[pii.Email] = 1
			for i := range per {
				record(a, PairKey{Source: fmt.Sprint("s", (w*per+i)%100), Destination: "d", Protocol: "http"}, &v, "traceparent.version_invalid")
				if i%500 == 0 {
					a.ParseFailure("http.not_http")
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // snapshots and scrapes race the writers
		defer wg.Done()
		c := NewCollector(a, KernelCounters{})
		for range 20 {
			s := a.Snapshot()
			for _, p := range s.Pairs {
				if p.InvalidContext != p.InvalidReasons["traceparent.version_invalid"] {
					t.Errorf("inconsistent snapshot: %+v", p)
					return
				}
			}
			drain(c)
		}
	}()
	wg.Wait()
	s := a.Snapshot()
	var reqs, email uint64
	for _, p := range s.Pairs {
		reqs += p.Requests
		email += p.PIIByKind["email"]
		if p.Requests != p.InvalidContext || p.Requests != p.BaggageBytes.Count || p.Requests != p.Formats["w3c"] {
			t.Errorf("pair %v: inconsistent counts %+v", p.Key(), p)
		}
	}
	if reqs != workers*per || email != workers*per {
		t.Errorf("requests %d, email %d, want %d", reqs, email, workers*per)
	}
	if s.FoldedRequests == 0 || s.FoldedPairs != 50 {
		t.Errorf("folded %d requests, %d pairs; want 50 pairs", s.FoldedRequests, s.FoldedPairs)
	}
	if s.ParseFailures["http.not_http"] != workers*per/500 {
		t.Errorf("parse failures %v", s.ParseFailures)
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	a := NewAggregator(AggregatorConfig{MaxPairs: 1})
	v := judge(t, "GET / HTTP/1.1\nHost: a\ntraceparent: "+validTP+"\nbaggage: tenant=7\n\n")
	bad := parse.Verdict{Context: parse.Invalid, Reasons: reason.List{"traceparent.version_invalid"}}
	record(a, pairAB, &v, "")
	record(a, pairAB, &bad, "traceparent.version_invalid")
	record(a, pairAC, &v, "") // folded: creates the overflow pair
	for _, tc := range []struct {
		name string
		k    PairKey
		v    *parse.Verdict
		code reason.Code
	}{
		{"existing pair", pairAB, &v, ""},
		{"existing pair, known defect", pairAB, &bad, "traceparent.version_invalid"},
		{"folded pair", pairAC, &v, ""},
	} {
		if n := testing.AllocsPerRun(1000, func() { record(a, tc.k, tc.v, tc.code) }); n != 0 {
			t.Errorf("%s: %v allocs per Record, want 0", tc.name, n)
		}
	}
}

// record counts v with its context reason set to code, as the engine would
// have set it.
func record(a *Aggregator, k PairKey, v *parse.Verdict, code reason.Code) {
	c := *v
	c.ContextReason = code
	a.Record(k, &c)
}
