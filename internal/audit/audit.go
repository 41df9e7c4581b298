// Package audit is the fleet-wide audit: it collects the reports of
// several propwatch nodes (report files, or the /report endpoint of
// running agents), merges them with report.Merge, and tells which pairs
// of the fleet are worst, which nodes saw them, and which inputs did not
// answer. It writes the audit as a terminal table (WriteText) and as one
// self-contained HTML page (WriteHTML).
package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/propwatch/propwatch/internal/report"
)

// MaxReportBytes bounds what is read of one input: a report of a
// thousand pairs is a few MiB.
const MaxReportBytes = 256 << 20

// Input is one report the audit was asked to read: a file or a URL.
type Input struct {
	// Source is the file or URL as given, a URL's password redacted.
	Source string
	// Report is the report read, when Err is nil.
	Report report.Report
	// Err says why the input did not answer; its text holds no report
	// bytes.
	Err error
}

// IsURL tells whether a source is an http:// or https:// URL rather than
// a file.
func IsURL(source string) bool {
	s := strings.ToLower(source)
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// Target is one input to read: a file or a URL (Location), shown as
// Label when it has one; Err, when set, says why it cannot be read at all
// (an agent's pod that is not running).
type Target struct {
	Location, Label string
	Err             error
}

// Collect reads every source, URLs concurrently with client, and returns
// one Input per source in their order. A URL without a path (or with
// "/") is an agent's metrics address: its /report is read.
func Collect(ctx context.Context, client *http.Client, sources []string) []Input {
	targets := make([]Target, len(sources))
	for i, src := range sources {
		targets[i].Location = src
	}
	return CollectTargets(ctx, client, targets)
}

// CollectTargets is Collect for targets: each Input's Source is the
// target's Label when it has one.
func CollectTargets(ctx context.Context, client *http.Client, targets []Target) []Input {
	inputs := make([]Input, len(targets))
	var wg sync.WaitGroup
	for i, tg := range targets {
		src := tg.Location
		inputs[i].Source = cmp.Or(tg.Label, src)
		if tg.Err != nil {
			inputs[i].Err = tg.Err
			continue
		}
		if !IsURL(src) {
			inputs[i].Report, inputs[i].Err = readFile(src)
			continue
		}
		u, err := url.Parse(src)
		if err != nil {
			inputs[i].Err = errors.New("not a valid URL")
			continue
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/report"
		}
		if tg.Label == "" {
			inputs[i].Source = u.Redacted()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			inputs[i].Report, inputs[i].Err = readURL(ctx, client, u)
		}()
	}
	wg.Wait()
	return inputs
}

func readFile(path string) (report.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return report.Report{}, err
	}
	defer f.Close()
	return report.ReadJSON(io.LimitReader(f, MaxReportBytes))
}

func readURL(ctx context.Context, client *http.Client, u *url.URL) (report.Report, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return report.Report{}, errors.New("not a valid URL")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		// url.Error repeats the URL, password included: keep the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return report.Report{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Not the body: it may be anything.
		return report.Report{}, fmt.Errorf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return report.ReadJSON(io.LimitReader(resp.Body, MaxReportBytes))
}

// Audit is the merged view of the inputs that answered.
type Audit struct {
	// Merged is report.Merge of the inputs that answered.
	Merged report.Report
	// Pairs are Merged's pairs, worst first (see Pair.Worst).
	Pairs []Pair
	// Nodes are the inputs that answered, in the order given.
	Nodes []Node
	// Missing are the inputs that did not answer, in the order given.
	Missing []Input
	// Duplicates name the hosts whose report was given more than once
	// (their counts are summed as often), sorted.
	Duplicates []string
}

// Pair is one merged pair with the nodes that saw it.
type Pair struct {
	report.ReportPair
	// Nodes are the hosts whose reports held the pair, sorted (the hosts
	// of a merged input all count as having seen its pairs).
	Nodes []string
}

// Node is the coverage of one input that answered.
type Node struct {
	// Host is the report's host ("merged (a, b)" for a merged report),
	// Source the input it came from.
	Host, Source string
	Report       *report.Report
	// Requests sums the requests of its pairs; Gaps and GapRecords its
	// pairs' coverage gaps and the records they hid; KernelErrors and
	// ParseFailures its counts of those, all reasons.
	Requests, Gaps, GapRecords, KernelErrors, ParseFailures uint64
}

// Build merges the inputs that answered. It fails when none did, or
// when report.Merge does.
func Build(inputs []Input) (*Audit, error) {
	a := &Audit{}
	var reports []report.Report
	seen := map[string]int{}
	nodes := map[report.PairKey][]string{}
	for i := range inputs {
		in := &inputs[i]
		if in.Err != nil {
			a.Missing = append(a.Missing, *in)
			continue
		}
		reports = append(reports, in.Report)
		hosts := in.Report.Hosts
		if len(hosts) == 0 {
			hosts = []string{cmp.Or(in.Report.Host, in.Source)}
		}
		for _, h := range hosts {
			if seen[h]++; seen[h] == 2 {
				a.Duplicates = append(a.Duplicates, h)
			}
		}
		n := Node{Host: hosts[0], Source: in.Source, Report: &inputs[i].Report}
		if len(in.Report.Hosts) > 0 {
			n.Host = report.MergedHost + " (" + strings.Join(in.Report.Hosts, ", ") + ")"
		}
		for _, p := range in.Report.Pairs {
			n.Requests += p.Requests
			n.GapRecords += p.CoverageGapRecords
			n.Gaps += sum(p.CoverageGaps)
			k := p.Key()
			nodes[k] = append(nodes[k], hosts...)
		}
		n.KernelErrors = sum(in.Report.KernelErrors)
		n.ParseFailures = sum(in.Report.ParseFailures)
		a.Nodes = append(a.Nodes, n)
	}
	if len(reports) == 0 {
		return nil, errors.New("no input answered")
	}
	merged, err := report.Merge(reports...)
	if err != nil {
		return nil, err
	}
	a.Merged = merged
	slices.Sort(a.Duplicates)
	for _, p := range merged.Pairs {
		hs := nodes[p.Key()]
		slices.Sort(hs)
		a.Pairs = append(a.Pairs, Pair{ReportPair: p, Nodes: slices.Compact(hs)})
	}
	slices.SortStableFunc(a.Pairs, worstFirst)
	return a, nil
}

// Requests sums the requests of every merged pair.
func (a *Audit) Requests() uint64 {
	var n uint64
	for _, p := range a.Pairs {
		n += p.Requests
	}
	return n
}

// Defective counts the pairs with any defect (see Pair.Defective).
func (a *Audit) Defective() int {
	n := 0
	for _, p := range a.Pairs {
		if p.Defective() {
			n++
		}
	}
	return n
}

func sum(m map[string]uint64) uint64 {
	var n uint64
	for _, c := range m {
		n += c
	}
	return n
}

// rate is n of d, 0 when d is.
func rate(n, d uint64) float64 {
	if d == 0 {
		return 0
	}
	return min(1, float64(n)/float64(d))
}

// MissingRate is the share of the pair's requests without trace context.
func (p *Pair) MissingRate() float64 { return rate(p.MissingContext, p.Requests) }

// InvalidRate is the share of the pair's requests with unusable context.
func (p *Pair) InvalidRate() float64 { return rate(p.InvalidContext, p.Requests) }

// BrokenRate is the share of the pair's requests that split their trace
// at the sender (continuity), over its requests as the live view counts
// it.
func (p *Pair) BrokenRate() float64 { return rate(p.BrokenChain, p.Requests) }

// OversizedRate is the share of the pair's requests with oversized
// baggage.
func (p *Pair) OversizedRate() float64 { return rate(p.OversizedBaggage, p.Requests) }

// Worst is the worst of the pair's missing, invalid, broken and
// oversized rates: what its edge on the service map is coloured by.
func (p *Pair) Worst() float64 {
	return max(p.MissingRate(), p.InvalidRate(), p.BrokenRate(), p.OversizedRate())
}

// PII is the number of PII findings of all kinds.
func (p *Pair) PII() uint64 { return sum(p.PIIByKind) }

// PIIKinds lists the kinds of PII found, sorted, "kind:count" each.
func (p *Pair) PIIKinds() []string {
	var out []string
	for k, n := range p.PIIByKind {
		if n > 0 {
			out = append(out, fmt.Sprintf("%s:%d", k, n))
		}
	}
	slices.Sort(out)
	return out
}

// Defective tells whether the pair had requests without context, with
// unusable context, that broke the chain, with oversized baggage, or
// carrying PII.
func (p *Pair) Defective() bool {
	return p.MissingContext+p.InvalidContext+p.BrokenChain+p.OversizedBaggage+p.PII() > 0
}

// worstFirst orders pairs by worst rate, then PII findings, then
// requests, all descending, then by name.
func worstFirst(a, b Pair) int {
	if c := cmp.Compare(b.Worst(), a.Worst()); c != 0 {
		return c
	}
	if c := cmp.Compare(b.PII(), a.PII()); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Requests, a.Requests); c != 0 {
		return c
	}
	return cmp.Or(strings.Compare(a.Source, b.Source), strings.Compare(a.Destination, b.Destination),
		strings.Compare(a.Protocol, b.Protocol))
}

// Severity classes of a pair, by its worst rate: what the service map's
// edges and the table's rows are coloured by.
const (
	SeverityOK   = "ok"   // no defect rate above zero
	SeverityLow  = "low"  // worst rate under 1%
	SeverityWarn = "warn" // under 10%
	SeverityBad  = "bad"  // 10% or more
)

// Colors are the colours of the severity classes on the HTML page.
var Colors = map[string]string{
	SeverityOK:   "#2f9e44",
	SeverityLow:  "#d4a000",
	SeverityWarn: "#f76707",
	SeverityBad:  "#e03131",
}

// Severity classes the pair by its worst rate.
func (p *Pair) Severity() string {
	switch w := p.Worst(); {
	case w == 0:
		return SeverityOK
	case w < 0.01:
		return SeverityLow
	case w < 0.10:
		return SeverityWarn
	}
	return SeverityBad
}
