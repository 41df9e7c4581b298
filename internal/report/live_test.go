package report

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/propwatch/propwatch/internal/parse"
	"github.com/propwatch/propwatch/internal/parse/reason"
)

func recordN(a *Aggregator, k PairKey, n int, ctx parse.Context) {
	v := parse.Verdict{Context: ctx}
	var code reason.Code
	if ctx == parse.Invalid {
		code = "traceparent.bad_hex"
	}
	for range n {
		record(a, k, &v, code)
	}
}

func liveAggregator() *Aggregator {
	a := NewAggregator(AggregatorConfig{})
	// good: 0% missing, 100 requests; worst: 50% missing; mid: 10% missing,
	// tie: 10% missing and more requests; inv: 0% missing, 20% invalid.
	recordN(a, PairKey{Source: "good", Destination: "api", Protocol: "http"}, 100, parse.Valid)
	recordN(a, PairKey{Source: "worst", Destination: "api", Protocol: "http"}, 5, parse.Missing)
	recordN(a, PairKey{Source: "worst", Destination: "api", Protocol: "http"}, 5, parse.Valid)
	recordN(a, PairKey{Source: "mid", Destination: "api", Protocol: "http"}, 1, parse.Missing)
	recordN(a, PairKey{Source: "mid", Destination: "api", Protocol: "http"}, 9, parse.Valid)
	recordN(a, PairKey{Source: "tie", Destination: "api", Protocol: "http"}, 2, parse.Missing)
	recordN(a, PairKey{Source: "tie", Destination: "api", Protocol: "http"}, 18, parse.Valid)
	recordN(a, PairKey{Source: "inv", Destination: "api", Protocol: "http"}, 1, parse.Invalid)
	recordN(a, PairKey{Source: "inv", Destination: "api", Protocol: "http"}, 4, parse.Valid)
	a.ParseFailure("http.not_http")
	return a
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")

func TestLiveTerminal(t *testing.T) {
	var buf bytes.Buffer
	started := t0
	l := NewLive(&buf, true, started)
	if err := l.Render(liveAggregator().Snapshot(), map[string]uint64{"ringbuf_full": 3}, started.Add(65*time.Second)); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "\x1b[H") || !strings.HasSuffix(out, "\x1b[J") {
		t.Errorf("frame does not start at home and erase below: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(ansi.ReplaceAllString(out, ""), "\n"), "\n")
	header := lines[0]
	for _, want := range []string{"up 1m5s", "requests 145", "pairs 5", "lost events 3 (ringbuf_full 3)", "parse failures 1 (http.not_http 1)"} {
		if !strings.Contains(header, want) {
			t.Errorf("header %q lacks %q", header, want)
		}
	}
	if f := strings.Fields(lines[2]); strings.Join(f, " ") != "SOURCE → DESTINATION PROTO REQS MISSING % BROKEN INVALID % OVERSIZED PII TRUNC GAPS BAGGAGE/s FIX" {
		t.Errorf("column titles %q", lines[2])
	}
	wantRows := [][]string{
		{"worst", "→", "api", "http", "10", "50.0", "0", "0.0", "0", "0", "0", "0", "0"},
		{"tie", "→", "api", "http", "20", "10.0", "0", "0.0", "0", "0", "0", "0", "0"},
		{"mid", "→", "api", "http", "10", "10.0", "0", "0.0", "0", "0", "0", "0", "0"},
		{"inv", "→", "api", "http", "5", "0.0", "0", "20.0", "0", "0", "0", "0", "0"},
		{"good", "→", "api", "http", "100", "0.0", "0", "0.0", "0", "0", "0", "0", "0"},
	}
	rows := lines[3:]
	if len(rows) != len(wantRows) {
		t.Fatalf("%d rows, want %d:\n%s", len(rows), len(wantRows), strings.Join(lines, "\n"))
	}
	for i, want := range wantRows {
		if got := strings.Join(strings.Fields(rows[i]), " "); got != strings.Join(want, " ") {
			t.Errorf("row %d = %q, want %q", i, got, strings.Join(want, " "))
		}
	}
	// Columns line up: every row has PROTO where the title has it.
	col := len([]rune(lines[2][:strings.Index(lines[2], "PROTO")]))
	for _, r := range rows {
		if !strings.HasPrefix(string([]rune(r)[col:]), "http ") {
			t.Errorf("misaligned row %q", r)
		}
	}
}

func TestLiveTerminalFitsRows(t *testing.T) {
	a := NewAggregator(AggregatorConfig{})
	for i := range 50 {
		recordN(a, PairKey{Source: fmt.Sprintf("svc-%02d", i), Destination: "db", Protocol: "http"}, i+1, parse.Valid)
	}
	for _, tc := range []struct {
		cols, rows, wantPairs, wantMore int
	}{
		{0, 0, 19, 31},    // size unknown: 20 lines of pairs, the last says how many more
		{200, 15, 10, 40}, // 15 - 3 header lines - 1 free line = 11 lines
		{60, 15, 9, 41},   // the summary wraps to two lines
		{200, 100, 50, 0}, // everything fits
	} {
		var buf bytes.Buffer
		l := NewLive(&buf, true, t0)
		l.SetSize(tc.cols, tc.rows)
		if err := l.Render(a.Snapshot(), nil, t0); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(ansi.ReplaceAllString(buf.String(), ""), "\n"), "\n")
		pairs, more := 0, 0
		for _, ln := range lines {
			if strings.HasPrefix(ln, "svc-") {
				pairs++
			}
			fmt.Sscanf(ln, "… %d more pairs", &more)
			if tc.cols > 0 && len([]rune(ln)) > tc.cols-1 {
				t.Errorf("rows=%d: line wider than the terminal: %q", tc.rows, ln)
			}
		}
		if pairs != tc.wantPairs || more != tc.wantMore {
			t.Errorf("rows=%d: %d pair rows and %d more, want %d and %d", tc.rows, pairs, more, tc.wantPairs, tc.wantMore)
		}
		if tc.rows > 0 && len(lines) >= tc.rows {
			t.Errorf("rows=%d: frame of %d lines scrolls", tc.rows, len(lines))
		}
		// Busiest first among equal (zero) missing rates, right under the
		// column titles.
		for i, ln := range lines {
			if strings.HasPrefix(ln, "SOURCE") {
				if !strings.HasPrefix(lines[i+1], "svc-49 → db") {
					t.Errorf("first row %q, want svc-49", lines[i+1])
				}
				break
			}
		}
	}
}

func TestLivePlain(t *testing.T) {
	var buf bytes.Buffer
	a := liveAggregator()
	l := NewLive(&buf, false, t0)
	if err := l.Render(a.Snapshot(), map[string]uint64{"ringbuf_full": 3}, t0.Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines, want summary + 5 pairs:\n%s", len(lines), buf.String())
	}
	if want := "time=2026-03-01T10:00:10Z kind=summary uptime=10s requests=145 pairs=5 folded_pairs=0 coverage_gaps=0 lost_events=3 lost_events.ringbuf_full=3 parse_failures=1 parse_failures.http.not_http=1"; lines[0] != want {
		t.Errorf("summary\n got  %s\n want %s", lines[0], want)
	}
	if want := "time=2026-03-01T10:00:10Z kind=pair source=worst destination=api protocol=http requests=10 new_requests=10 missing=5 missing_pct=50.0 invalid=0 invalid_pct=0.0 oversized=0 at_risk=0 pii=0 suspect_keys=0 truncated=0 coverage_gaps=0 continued=0 broken=0 broken.new_root=0 broken.dropped=0 baggage_bytes_per_second=0.0"; lines[5] != want {
		t.Errorf("pair line\n got  %s\n want %s", lines[5], want)
	}
	for _, ln := range lines {
		if strings.Contains(ln, "\x1b") {
			t.Errorf("plain output has escapes: %q", ln)
		}
	}

	// Next tick: only the pair that moved gets a line.
	buf.Reset()
	recordN(a, PairKey{Source: "mid", Destination: "api", Protocol: "http"}, 2, parse.Missing)
	record(a, PairKey{Source: "new svc", Destination: "a=b", Protocol: "http"}, &parse.Verdict{}, "")
	if err := l.Render(a.Snapshot(), nil, t0.Add(20*time.Second)); err != nil {
		t.Fatal(err)
	}
	lines = strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want summary + 2 changed pairs:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[1], `kind=pair source=mid destination=api protocol=http requests=12 new_requests=2 missing=3 missing_pct=25.0`) {
		t.Errorf("changed pair line %q", lines[1])
	}
	if !strings.Contains(lines[2], `source="new svc" destination="a=b" protocol=http requests=1`) {
		t.Errorf("quoted names %q", lines[2])
	}
	// Nothing changed: the summary alone.
	buf.Reset()
	if err := l.Render(a.Snapshot(), nil, t0.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Errorf("%d lines when nothing changed", n)
	}
}

func TestLiveHostileNames(t *testing.T) {
	a := NewAggregator(AggregatorConfig{})
	record(a, PairKey{Source: "evil\x1b]0;title\x07", Destination: "\x1b[2Jx", Protocol: "http"}, &parse.Verdict{}, "")
	for _, isTerm := range []bool{true, false} {
		var buf bytes.Buffer
		l := NewLive(&buf, isTerm, t0)
		if err := l.Render(a.Snapshot(), map[string]uint64{"r\x1b[1m": 1}, t0); err != nil {
			t.Fatal(err)
		}
		stripped := ansi.ReplaceAllString(buf.String(), "")
		if strings.ContainsAny(stripped, "\x1b\x07") {
			t.Errorf("terminal=%v: control bytes reached the output: %q", isTerm, buf.String())
		}
	}
}

func TestCmpRate(t *testing.T) {
	for _, tc := range []struct {
		n1, d1, n2, d2 uint64
		want           int
	}{
		{1, 3, 1, 3, 0}, {1, 3, 2, 6, 0}, {1, 2, 1, 3, 1}, {0, 0, 0, 5, 0},
		{1 << 63, 1<<64 - 1, 1, 2, 1}, {1<<64 - 1, 1<<64 - 1, 1, 1, 0}, {3, 0, 1, 10, -1},
	} {
		if got := cmpRate(tc.n1, tc.d1, tc.n2, tc.d2); got != tc.want {
			t.Errorf("cmpRate(%d/%d, %d/%d) = %d, want %d", tc.n1, tc.d1, tc.n2, tc.d2, got, tc.want)
		}
	}
}

func TestPairCell(t *testing.T) {
	long := strings.Repeat("s", 50)
	for _, tc := range []struct {
		src, dst string
		width    int
		want     string
	}{
		{"web", "api", 20, "web → api"},
		{long, "api", 20, long[:13] + "… → api"},
		{"web", long, 20, "web → " + long[:13] + "…"},
		{long, long, 21, long[:8] + "… → " + long[:8] + "…"},
		{long, long, 3, "ss…"},
	} {
		p := PairStats{Source: tc.src, Destination: tc.dst}
		got := pairCell(&p, tc.width)
		if got != tc.want {
			t.Errorf("pairCell(%q, %q, %d) = %q, want %q", tc.src, tc.dst, tc.width, got, tc.want)
		}
		if n := len([]rune(got)); n > tc.width {
			t.Errorf("pairCell is %d runes wide, want at most %d", n, tc.width)
		}
	}
}
