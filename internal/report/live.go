package report

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// defaultLiveRows is how many pairs the table shows when the terminal's
// size is unknown.
const defaultLiveRows = 20

// Live renders the observer's live view, either as a table redrawn in
// place on a terminal or as periodic key=value lines for logs.
type Live struct {
	w          io.Writer
	isTerminal bool
	started    time.Time
	// cols, rows override the terminal's size when set (SetSize).
	cols, rows int
	// last holds each pair's counts at the previous render, so that the
	// plain view writes only pairs that changed, and both show the
	// baggage bytes a second since then; lastAt is when that was.
	last   map[PairKey]liveCounts
	lastAt time.Time
	buf    bytes.Buffer
}

// NewLive returns a Live writing to w. isTerminal chooses the table (see
// IsTerminal); started is when observation began, for the uptime.
func NewLive(w io.Writer, isTerminal bool, started time.Time) *Live {
	return &Live{w: w, isTerminal: isTerminal, started: started, last: map[PairKey]liveCounts{}, lastAt: started}
}

// liveCounts are the counts of a pair that tell whether it changed: every
// other count moves with one of them. The continuity counts are apart
// because a Kafka record's is counted a moment after the record. baggage
// is the sum of its baggage bytes, whose growth is the rate shown.
type liveCounts struct{ requests, gaps, chain, baggage uint64 }

func countsOf(p *PairStats) liveCounts {
	return liveCounts{p.Requests, p.GapTotal(), p.Continued + p.BrokenChain(), p.BaggageBytes.Sum}
}

// baggageRate is the baggage bytes a second pair p carried between the
// previous render (or the start, for the first) and now: what the bloat
// costs every hop that parses, stores and forwards it now, which a rate
// since the start would smooth away. A pair first seen since the previous
// render carried all its bytes in that interval.
func (l *Live) baggageRate(p *PairStats, now time.Time) float64 {
	d := now.Sub(l.lastAt).Seconds()
	if d <= 0 {
		return 0
	}
	prev := l.last[p.Key()].baggage
	if p.BaggageBytes.Sum < prev {
		return 0
	}
	return float64(p.BaggageBytes.Sum-prev) / d
}

// remember keeps the counts of this render for the next one.
func (l *Live) remember(s *Snapshot, now time.Time) {
	seen := make(map[PairKey]liveCounts, len(s.Pairs))
	for i := range s.Pairs {
		seen[s.Pairs[i].Key()] = countsOf(&s.Pairs[i])
	}
	l.last, l.lastAt = seen, now
}

// IsTerminal reports whether w is a terminal, which NewLive's isTerminal
// should say.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// SetSize fixes the table's size in columns and rows instead of asking the
// terminal; zero means unknown.
func (l *Live) SetSize(cols, rows int) { l.cols, l.rows = cols, rows }

// Render writes one frame: the whole table on a terminal, otherwise a
// summary line and one line per pair whose counts changed since the last
// Render. Each frame is written with a single Write.
func (l *Live) Render(s Snapshot, lost map[string]uint64, now time.Time) error {
	l.buf.Reset()
	if l.isTerminal {
		l.table(s, lost, now)
	} else {
		l.lines(s, lost, now)
	}
	l.remember(&s, now)
	if l.buf.Len() == 0 {
		return nil
	}
	_, err := l.w.Write(l.buf.Bytes())
	return err
}

// size returns the terminal's size, 0 where unknown.
func (l *Live) size() (cols, rows int) {
	if l.cols > 0 || l.rows > 0 {
		return l.cols, l.rows
	}
	if f, ok := l.w.(interface{ Fd() uintptr }); ok {
		if c, r, err := term.GetSize(int(f.Fd())); err == nil {
			return c, r
		}
	}
	return 0, 0
}

// Terminal control: cursor home, erase to end of line, erase below. The
// frame overwrites the previous one line by line instead of clearing the
// screen first, which is what makes a full clear flicker.
const (
	ansiHome      = "\x1b[H"
	ansiEraseLine = "\x1b[K"
	ansiEraseDown = "\x1b[J"
)

const pairHeader = "SOURCE → DESTINATION"

// table writes the terminal frame.
func (l *Live) table(s Snapshot, lost map[string]uint64, now time.Time) {
	cols, rows := l.size()
	pairs := slices.Clone(s.Pairs)
	slices.SortFunc(pairs, worstFirst)
	header := wrapParts(summaryParts(s, lost, now.Sub(l.started)), cols)

	// Below the summary come a blank line and the column titles; the last
	// screen line stays free so that the final newline never scrolls.
	fit := defaultLiveRows
	if rows > 0 {
		fit = max(rows-len(header)-3, 1)
	}
	more := 0
	if len(pairs) > fit {
		more = len(pairs) - (fit - 1)
		pairs = pairs[:fit-1]
	}

	// fmt pads %s by runes, which is what the terminal shows for the
	// names sanitizing leaves (wide CJK runes aside).
	// The FIX column is last and gets what is left of the line: the
	// pair's name goes first.
	const fixed = 1 + protoWidth + 5*(1+10) + 4*(1+8) + 1
	width := utf8.RuneCountInString(pairHeader)
	for i := range pairs {
		width = max(width, utf8.RuneCountInString(pairName(&pairs[i])))
	}
	if cols > 0 {
		width = min(width, max(cols-fixed, utf8.RuneCountInString(pairHeader)))
	} else {
		width = min(width, defaultPairWidth)
	}

	l.buf.WriteString(ansiHome)
	for _, h := range header {
		l.line(h, cols)
	}
	l.line("", cols)
	l.line(fmt.Sprintf("%-*s %-*s %10s %10s %8s %10s %10s %8s %8s %8s %10s  %s", width,
		pairHeader, protoWidth, "PROTO", "REQS", "MISSING %", "BROKEN", "INVALID %", "OVERSIZED", "PII", "TRUNC", "GAPS", "BAGGAGE/s", "FIX"), cols)
	for i := range pairs {
		p := &pairs[i]
		l.line(fmt.Sprintf("%-*s %-*s %10d %10s %8d %10s %10d %8d %8d %8d %10s  %s", width,
			pairCell(p, width), protoWidth, cut(ShownProtocol(p.Protocol, p.TLS), protoWidth), p.Requests, pct(p.MissingContext, p.Requests), p.BrokenChain(),
			pct(p.InvalidContext, p.Requests), p.OversizedBaggage, p.PIITotal(), p.Truncated, p.GapTotal(),
			bytesRate(l.baggageRate(p, now)), p.Hint().Words()), cols)
	}
	if more > 0 {
		l.line(fmt.Sprintf("… %d more pairs", more), cols)
	}
	l.buf.WriteString(ansiEraseDown)
}

// line writes one table line, cut to the terminal width so that it never
// wraps, and erases what the previous frame left after it.
func (l *Live) line(s string, cols int) {
	s = strings.TrimRight(s, " ") // a row without a FIX
	if cols > 0 {
		s = cut(s, cols-1)
	}
	l.buf.WriteString(s)
	l.buf.WriteString(ansiEraseLine)
	l.buf.WriteByte('\n')
}

// summaryParts are the pieces of the table's header line.
func summaryParts(s Snapshot, lost map[string]uint64, uptime time.Duration) []string {
	var reqs, gaps uint64
	for i := range s.Pairs {
		reqs += s.Pairs[i].Requests
		gaps += s.Pairs[i].GapTotal()
	}
	pairs := fmt.Sprintf("pairs %d", len(s.Pairs))
	if s.FoldedPairs > 0 {
		pairs += fmt.Sprintf(" (%d folded)", s.FoldedPairs)
	}
	return []string{
		"propwatch", "up " + uptime.Round(time.Second).String(), fmt.Sprintf("requests %d", reqs), pairs,
		fmt.Sprintf("coverage gaps %d", gaps),
		countsText("lost events", lost), countsText("parse failures", s.ParseFailures),
	}
}

// wrapParts joins parts with two spaces into lines that fit cols (one
// line when cols is unknown); a part never splits.
func wrapParts(parts []string, cols int) []string {
	var lines []string
	cur := ""
	for _, p := range parts {
		switch {
		case cur == "":
			cur = p
		case cols > 0 && utf8.RuneCountInString(cur)+2+utf8.RuneCountInString(p) > cols-1:
			lines = append(lines, cur)
			cur = p
		default:
			cur += "  " + p
		}
	}
	return append(lines, cur)
}

// countsText returns "title N (reason n, …)", reasons sorted.
func countsText(title string, m map[string]uint64) string {
	var b strings.Builder
	var total uint64
	for _, n := range m {
		total += n
	}
	fmt.Fprintf(&b, "%s %d", title, total)
	if total == 0 {
		return b.String()
	}
	b.WriteString(" (")
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", sanitizeLabel(k), m[k])
	}
	b.WriteString(")")
	return b.String()
}

// worstFirst orders pairs by the worse of their missing-context and
// broken-chain rates, then invalid-context rate, then request count, all
// descending; the key breaks ties so that rows do not swap places between
// frames.
func worstFirst(a, b PairStats) int {
	if c := cmpRate(worstCount(&b), b.Requests, worstCount(&a), a.Requests); c != 0 {
		return c
	}
	if c := cmpRate(b.InvalidContext, b.Requests, a.InvalidContext, a.Requests); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Requests, a.Requests); c != 0 {
		return c
	}
	return comparePairs(a, b)
}

// worstCount is the larger of a pair's missing-context and broken-chain
// counts: over one denominator, the worse of the two rates.
func worstCount(p *PairStats) uint64 { return max(p.MissingContext, p.BrokenChain()) }

// cmpRate compares n1/d1 with n2/d2 exactly (a zero denominator is a zero
// rate), without the rounding of float division.
func cmpRate(n1, d1, n2, d2 uint64) int {
	if d1 == 0 {
		n1, d1 = 0, 1
	}
	if d2 == 0 {
		n2, d2 = 0, 1
	}
	hi1, lo1 := bits.Mul64(n1, d2)
	hi2, lo2 := bits.Mul64(n2, d1)
	if c := cmp.Compare(hi1, hi2); c != 0 {
		return c
	}
	return cmp.Compare(lo1, lo2)
}

// bytesRate formats bytes a second for a table cell: whole bytes below
// 1000, then one decimal with k, M or G (powers of 1000), as network rates
// are read.
func bytesRate(r float64) string {
	if r < 999.5 {
		return strconv.FormatFloat(r, 'f', 0, 64)
	}
	for _, unit := range []string{"k", "M", "G"} {
		r /= 1000
		if r < 999.95 || unit == "G" {
			return strconv.FormatFloat(r, 'f', 1, 64) + unit
		}
	}
	return ""
}

// pct formats n/d as a percentage with one decimal.
func pct(n, d uint64) string {
	if d == 0 {
		return "-"
	}
	return strconv.FormatFloat(100*float64(n)/float64(d), 'f', 1, 64)
}

// protoWidth is the PROTO column's: "http2+tls" and "kafka+tls" fit.
const protoWidth = 9

func pairName(p *PairStats) string { return sourceName(p) + " → " + destinationName(p) }

// sourceName and destinationName are the pair's ends as shown: with their
// namespace in a cluster (QualifiedName).
func sourceName(p *PairStats) string { return QualifiedName(p.SourceNamespace, p.Source) }

func destinationName(p *PairStats) string {
	return QualifiedName(p.DestinationNamespace, p.Destination)
}

// defaultPairWidth caps the pair column when the terminal width is unknown.
const defaultPairWidth = 80

// pairCell is the pair's name in at most width runes. When it must be cut,
// source and destination share the room, so that neither disappears.
func pairCell(p *PairStats, width int) string {
	name := pairName(p)
	if utf8.RuneCountInString(name) <= width {
		return name
	}
	avail := width - utf8.RuneCountInString(" → ")
	if avail < 2 {
		return cut(name, width)
	}
	src, dst := sourceName(p), destinationName(p)
	ns, nd := utf8.RuneCountInString(src), utf8.RuneCountInString(dst)
	half := avail / 2
	switch {
	case nd < avail-half:
		ns = avail - nd
	case ns < half:
		nd = avail - ns
	default:
		ns, nd = half, avail-half
	}
	return cut(src, ns) + " → " + cut(dst, nd)
}

// cut shortens s to at most n runes, marking the cut with "…".
func cut(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, k := 0, 0
	for k < n-1 {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		k++
	}
	return s[:i] + "…"
}

// lines writes the plain frame: a summary line and a line per changed
// pair, in key=value form with a fixed key order so that it greps well.
func (l *Live) lines(s Snapshot, lost map[string]uint64, now time.Time) {
	b := &l.buf
	ts := now.UTC().Format(time.RFC3339)
	var reqs, gaps uint64
	for i := range s.Pairs {
		reqs += s.Pairs[i].Requests
		gaps += s.Pairs[i].GapTotal()
	}
	fmt.Fprintf(b, "time=%s kind=summary uptime=%s requests=%d pairs=%d folded_pairs=%d coverage_gaps=%d",
		ts, now.Sub(l.started).Round(time.Second), reqs, len(s.Pairs), s.FoldedPairs, gaps)
	writeKV(b, "lost_events", lost)
	writeKV(b, "parse_failures", s.ParseFailures)
	b.WriteByte('\n')

	for i := range s.Pairs {
		p := &s.Pairs[i]
		cur := countsOf(p)
		prev, ok := l.last[p.Key()]
		if ok && prev == cur {
			continue // every count moves with these: nothing changed
		}
		fmt.Fprintf(b, "time=%s kind=pair source=%s destination=%s protocol=%s requests=%d new_requests=%d"+
			" missing=%d missing_pct=%s invalid=%d invalid_pct=%s oversized=%d at_risk=%d pii=%d suspect_keys=%d truncated=%d coverage_gaps=%d"+
			" continued=%d broken=%d broken.new_root=%d broken.dropped=%d baggage_bytes_per_second=%s",
			ts, logValue(p.Source), logValue(p.Destination), logValue(p.Protocol), p.Requests, p.Requests-prev.requests,
			p.MissingContext, pct(p.MissingContext, p.Requests), p.InvalidContext, pct(p.InvalidContext, p.Requests),
			p.OversizedBaggage, p.AtRiskBaggage, p.PIITotal(), p.SuspectKeys, p.Truncated, cur.gaps,
			p.Continued, p.BrokenChain(), p.NewRoot, p.Dropped,
			strconv.FormatFloat(l.baggageRate(p, now), 'f', 1, 64))
		if p.SourceNamespace != "" || p.DestinationNamespace != "" {
			fmt.Fprintf(b, " source_namespace=%s destination_namespace=%s",
				logValue(p.SourceNamespace), logValue(p.DestinationNamespace))
		}
		if p.TLS {
			// Only when set, as the namespaces: socket pairs' lines
			// stay as they were.
			b.WriteString(" tls=true")
		}
		if h := p.Hint(); h != "" {
			// The code to grep, and the words a reader acts on.
			fmt.Fprintf(b, " hint=%s fix=%s", h, strconv.Quote(h.Words()))
		}
		b.WriteByte('\n')
	}
}

// writeKV writes " title=N title.reason=n …", reasons sorted.
func writeKV(b *bytes.Buffer, title string, m map[string]uint64) {
	var total uint64
	for _, n := range m {
		total += n
	}
	fmt.Fprintf(b, " %s=%d", title, total)
	for _, k := range sortedKeys(m) {
		fmt.Fprintf(b, " %s.%s=%d", title, logKey(k), m[k])
	}
}

// logValue quotes v when a reader splitting on spaces and '=' would
// misread it.
func logValue(v string) string {
	if v == "" || strings.ContainsAny(v, " =\"\\") {
		return strconv.Quote(v)
	}
	return v
}

// logKey makes a reason usable inside a key.
func logKey(k string) string {
	k = sanitizeLabel(k)
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '=' || r == '"' {
			return '_'
		}
		return r
	}, k)
}

func sortedKeys(m map[string]uint64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
