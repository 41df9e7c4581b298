package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/propwatch/propwatch/internal/hint"
)

// ReportSchema names the layout of Report. A change that would break a
// reader gets a new version.
const ReportSchema = "propwatch.report/v1"

// MergedHost is the Host of a report merged from several hosts' reports;
// Hosts then lists them.
const MergedHost = "merged"

// Report is the JSON report the host observer writes when it stops, and
// what fleet-wide audits merge. Its field names are part of propwatch's
// output contract.
type Report struct {
	Schema string `json:"schema"`
	Host   string `json:"host"`
	// Hosts lists the hosts of a merged report, sorted; it is absent from a
	// single host's report.
	Hosts   []string  `json:"hosts,omitempty"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
	// LostEvents sums LostByReason: events the capture dropped, which make
	// every count below a lower bound.
	LostEvents   uint64            `json:"lost_events"`
	LostByReason map[string]uint64 `json:"lost_by_reason"`
	// KernelErrors counts, by site, the times the kernel side could not
	// keep state (a failed map update): a head split across calls, a
	// Kafka response or a loopback sender may then go unrecognised.
	KernelErrors map[string]uint64 `json:"kernel_errors"`
	// NameFallbacks counts the processes in a container of no pod the
	// Kubernetes API server had listed, named by their process names
	// instead (API server unreachable, or the pod not listed yet); 0 off
	// cluster. Added to v1 without breaking readers.
	NameFallbacks  uint64            `json:"name_fallbacks"`
	ParseFailures  map[string]uint64 `json:"parse_failures"`
	FoldedPairs    uint64            `json:"folded_pairs"`
	FoldedRequests uint64            `json:"folded_requests"`
	Pairs          []ReportPair      `json:"pairs"`
	// Services are the continuity counts of each local service, sorted by
	// name; ChainEvictions the received trace ids forgotten to the caps
	// before their window ended (each may have made a continued request
	// a new root). Both were added to v1 without breaking readers.
	Services       []ReportService `json:"services"`
	ChainEvictions uint64          `json:"chain_evictions"`
}

// ReportService is one local service's continuity; see ServiceStats.
type ReportService struct {
	Service string `json:"service"`
	// Namespace is its Kubernetes namespace, "" off-cluster.
	Namespace      string `json:"namespace"`
	TracedReceived uint64 `json:"traced_received"`
	SentContinued  uint64 `json:"sent_continued"`
	SentNewRoot    uint64 `json:"sent_new_root"`
	SentDropped    uint64 `json:"sent_dropped"`
	// BrokenPairs are the pairs it sent new roots or dropped context on.
	BrokenPairs []ReportPairKey `json:"broken_pairs"`
	// Runtime is what its processes run, told from their executables:
	// "go", "node", "jvm", "python", "mixed" (several) or "unknown".
	// Added to v1 without breaking readers; never a path.
	Runtime string `json:"runtime"`
}

// ReportPairKey names a pair in a report.
type ReportPairKey struct {
	Source               string `json:"source"`
	Destination          string `json:"destination"`
	Protocol             string `json:"protocol"`
	SourceNamespace      string `json:"source_namespace"`
	DestinationNamespace string `json:"destination_namespace"`
	TLS                  bool   `json:"tls"`
}

// ReportPair is one service pair of a Report; see PairStats for the meaning
// of each count.
type ReportPair struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	Protocol    string `json:"protocol"`
	// SourceNamespace and DestinationNamespace are the Kubernetes
	// namespaces of the ends, "" off-cluster (see PairKey).
	SourceNamespace      string `json:"source_namespace"`
	DestinationNamespace string `json:"destination_namespace"`
	// TLS is true when the requests were read as plaintext at a TLS
	// library, false for socket bytes (see PairKey). A report older than
	// the field reads as false, which is what it saw: added to v1
	// without breaking readers.
	TLS              bool              `json:"tls"`
	Requests         uint64            `json:"requests"`
	MissingContext   uint64            `json:"missing_context"`
	InvalidContext   uint64            `json:"invalid_context"`
	InvalidReasons   map[string]uint64 `json:"invalid_reasons"`
	Defects          map[string]uint64 `json:"defects"`
	OversizedBaggage uint64            `json:"oversized_baggage"`
	AtRiskBaggage    uint64            `json:"at_risk_baggage"`
	MaxBaggageBytes  int               `json:"max_baggage_bytes"`
	BaggageBytes     ReportHistogram   `json:"baggage_bytes"`
	PIIByKind        map[string]uint64 `json:"pii_by_kind"`
	SuspectKeys      uint64            `json:"suspect_keys"`
	Formats          map[string]uint64 `json:"formats"`
	Truncated        uint64            `json:"truncated"`
	// CoverageGaps and CoverageGapRecords are absent when the pair had no
	// gap (every HTTP pair): they were added to v1 without breaking
	// readers.
	CoverageGaps       map[string]uint64 `json:"coverage_gaps,omitempty"`
	CoverageGapRecords uint64            `json:"coverage_gap_records,omitempty"`
	// Continued, BrokenChain and BrokenChainReasons ({"new_root": N,
	// "dropped": N}, summing to BrokenChain) classify the requests a local
	// process that had received traced input sent on this pair.
	Continued          uint64            `json:"continued"`
	BrokenChain        uint64            `json:"broken_chain"`
	BrokenChainReasons map[string]uint64 `json:"broken_chain_reasons"`
	// Hint names the fix for the reason that broke most of them (new_root
	// on a tie), Hints the fix for each reason that broke any ({"new_root":
	// "go.pass_ctx", "dropped": "http.inject_headers"}), as stable codes
	// (package hint). Both are absent on a pair that broke nothing: they
	// were added to v1 without breaking readers.
	Hint  string            `json:"hint,omitempty"`
	Hints map[string]string `json:"hints,omitempty"`
}

// ReportHistogram is a histogram as reports print it.
type ReportHistogram struct {
	Buckets Buckets `json:"buckets"`
	Sum     uint64  `json:"sum"`
	Count   uint64  `json:"count"`
}

// Buckets are cumulative bucket counts, the Prometheus way: entry i counts
// the observations at or below BaggageBuckets[i], the last one ("+Inf")
// all of them. In JSON it is an object keyed by bound ("128", …, "+Inf"),
// written in bound order.
type Buckets [NumBuckets]uint64

// MarshalJSON writes the buckets as an object in bound order.
func (b Buckets) MarshalJSON() ([]byte, error) {
	out := make([]byte, 0, 16*NumBuckets)
	out = append(out, '{')
	for i, n := range b {
		if i > 0 {
			out = append(out, ',')
		}
		out = strconv.AppendQuote(out, bucketLabel(i))
		out = append(out, ':')
		out = strconv.AppendUint(out, n, 10)
	}
	return append(out, '}'), nil
}

// UnmarshalJSON reads what MarshalJSON writes. A bound other than those of
// BaggageBuckets is an error: buckets of different bounds cannot be merged.
func (b *Buckets) UnmarshalJSON(data []byte) error {
	var m map[string]uint64
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	*b = Buckets{}
	for label, n := range m {
		i := bucketIndex(label)
		if i < 0 {
			return errBucket
		}
		b[i] = n
	}
	return nil
}

func bucketIndex(label string) int {
	for i := range NumBuckets {
		if bucketLabel(i) == label {
			return i
		}
	}
	return -1
}

// NewReport builds the report of one host's observation from started to
// ended. lost counts the events the capture dropped, by reason; it may be
// nil.
func NewReport(host string, started, ended time.Time, s Snapshot, lost map[string]uint64) Report {
	r := Report{
		Schema:         ReportSchema,
		Host:           host,
		Started:        started.UTC().Round(0),
		Ended:          ended.UTC().Round(0),
		LostByReason:   sanitizeCounts(lost),
		ParseFailures:  copyCounts(s.ParseFailures),
		FoldedPairs:    s.FoldedPairs,
		FoldedRequests: s.FoldedRequests,
		Pairs:          make([]ReportPair, 0, len(s.Pairs)),
	}
	for _, n := range lost {
		r.LostEvents += n
	}
	for i := range s.Pairs {
		r.Pairs = append(r.Pairs, reportPair(&s.Pairs[i]))
	}
	sortReportPairs(r.Pairs)
	r.Services = make([]ReportService, 0, len(s.Services))
	for _, sv := range s.Services {
		rs := ReportService{Service: sv.Service, Namespace: sv.Namespace, TracedReceived: sv.TracedReceived,
			SentContinued: sv.Continued, SentNewRoot: sv.NewRoot, SentDropped: sv.Dropped,
			BrokenPairs: make([]ReportPairKey, 0, len(sv.BrokenPairs)), Runtime: sv.Runtime.String()}
		for _, k := range sv.BrokenPairs {
			rs.BrokenPairs = append(rs.BrokenPairs, ReportPairKey(k))
		}
		r.Services = append(r.Services, rs)
	}
	r.ChainEvictions = s.ChainEvictions
	return r
}

func reportPair(p *PairStats) ReportPair {
	rp := ReportPair{
		Source: p.Source, Destination: p.Destination, Protocol: p.Protocol,
		SourceNamespace: p.SourceNamespace, DestinationNamespace: p.DestinationNamespace,
		TLS:      p.TLS,
		Requests: p.Requests, MissingContext: p.MissingContext, InvalidContext: p.InvalidContext,
		InvalidReasons:   copyCounts(p.InvalidReasons),
		Defects:          copyCounts(p.Defects),
		OversizedBaggage: p.OversizedBaggage,
		AtRiskBaggage:    p.AtRiskBaggage,
		MaxBaggageBytes:  p.MaxBaggageBytes,
		BaggageBytes: ReportHistogram{
			Buckets: Buckets(p.BaggageBytes.Cumulative()),
			Sum:     p.BaggageBytes.Sum,
			Count:   p.BaggageBytes.Count,
		},
		PIIByKind:   copyCounts(p.PIIByKind),
		SuspectKeys: p.SuspectKeys,
		Formats:     copyCounts(p.Formats),
		Truncated:   p.Truncated,

		CoverageGapRecords: p.GapRecords,

		Continued:          p.Continued,
		BrokenChain:        p.BrokenChain(),
		BrokenChainReasons: map[string]uint64{ChainNewRoot: p.NewRoot, ChainDropped: p.Dropped},
	}
	if len(p.CoverageGaps) > 0 {
		rp.CoverageGaps = copyCounts(p.CoverageGaps)
	}
	if h := p.Hint(); h != "" {
		rp.Hint = string(h)
		rp.Hints = map[string]string{}
		if p.NewRootHint != "" {
			rp.Hints[ChainNewRoot] = string(p.NewRootHint)
		}
		if p.DroppedHint != "" {
			rp.Hints[ChainDropped] = string(p.DroppedHint)
		}
	}
	return rp
}

// WriteJSON writes r as indented JSON, pairs sorted by source, destination
// and protocol, maps as objects (never null).
func (r Report) WriteJSON(w io.Writer) error {
	r.LostByReason = nonNil(r.LostByReason)
	r.KernelErrors = nonNil(r.KernelErrors)
	r.ParseFailures = nonNil(r.ParseFailures)
	pairs := make([]ReportPair, len(r.Pairs))
	for i, p := range r.Pairs {
		p.InvalidReasons = nonNil(p.InvalidReasons)
		p.Defects = nonNil(p.Defects)
		p.PIIByKind = nonNil(p.PIIByKind)
		p.Formats = nonNil(p.Formats)
		p.BrokenChainReasons = nonNil(p.BrokenChainReasons)
		pairs[i] = p
	}
	sortReportPairs(pairs)
	r.Pairs = pairs
	services := make([]ReportService, len(r.Services))
	for i, sv := range r.Services {
		if sv.BrokenPairs == nil {
			sv.BrokenPairs = []ReportPairKey{}
		}
		if sv.Runtime == "" {
			sv.Runtime = hint.Unknown.String() // a report older than the field
		}
		services[i] = sv
	}
	sortServices(services)
	r.Services = services

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	// Names are sanitized but may hold '<' or '&'; the report is not HTML.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// ReadJSON reads a report written by WriteJSON. A report of another schema
// is an error, so that a merge never mixes layouts.
func ReadJSON(rd io.Reader) (Report, error) {
	var r Report
	if err := json.NewDecoder(rd).Decode(&r); err != nil {
		return Report{}, decodeError(err)
	}
	if r.Schema != ReportSchema {
		return Report{}, errSchema
	}
	return r, nil
}

// decodeError describes a decoding error by position and field only:
// encoding/json's messages quote the offending input.
func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("report: invalid JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Errorf("report: field %q has the wrong type", typ.Field)
	case errors.Is(err, errBucket), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("report: %w", err)
	}
	return errors.New("report: invalid JSON report")
}

var errBucket = errors.New("baggage_bytes has a bucket bound propwatch does not use")

var errSchema = errors.New("report: not a " + ReportSchema + " report")

// Merge combines the reports of several hosts (or of several runs) into
// one: counts are summed per pair, maxima are maxed, maps are unioned with
// their counts summed, and the time span covers every input. The result's
// Host is MergedHost and Hosts lists every distinct host, those of merged
// inputs included.
//
// A pair's hints are decided again: for each reason, the code of the
// hosts whose requests it broke most (hosts whose processes run different
// runtimes name different fixes; see hintVotes), and its hint is that of
// the reason that broke most in all.
//
// FoldedPairs is summed, so it over-counts a pair folded on several hosts:
// the per-host sets of folded pairs are not kept. Merge fails on a report
// of another schema.
func Merge(reports ...Report) (Report, error) {
	out := Report{
		Schema:        ReportSchema,
		Host:          MergedHost,
		LostByReason:  map[string]uint64{},
		KernelErrors:  map[string]uint64{},
		ParseFailures: map[string]uint64{},
	}
	index := map[PairKey]int{}
	services := map[serviceKey]int{}
	var votes hintVotes
	for i := range reports {
		r := &reports[i]
		if r.Schema != ReportSchema {
			return Report{}, errSchema
		}
		if len(r.Hosts) > 0 {
			out.Hosts = append(out.Hosts, r.Hosts...)
		} else if r.Host != "" {
			out.Hosts = append(out.Hosts, r.Host)
		}
		if out.Started.IsZero() || (!r.Started.IsZero() && r.Started.Before(out.Started)) {
			out.Started = r.Started
		}
		if r.Ended.After(out.Ended) {
			out.Ended = r.Ended
		}
		out.LostEvents += r.LostEvents
		addCounts(out.LostByReason, r.LostByReason)
		addCounts(out.KernelErrors, r.KernelErrors)
		out.NameFallbacks += r.NameFallbacks
		addCounts(out.ParseFailures, r.ParseFailures)
		out.FoldedPairs += r.FoldedPairs
		out.FoldedRequests += r.FoldedRequests
		out.ChainEvictions += r.ChainEvictions
		for _, sv := range r.Services {
			sk := serviceKey{sv.Namespace, sv.Service}
			j, ok := services[sk]
			if !ok {
				services[sk] = len(out.Services)
				out.Services = append(out.Services, ReportService{Service: sv.Service, Namespace: sv.Namespace, BrokenPairs: []ReportPairKey{}, Runtime: hint.Unknown.String()})
				j = len(out.Services) - 1
			}
			out.Services[j].add(&sv)
		}
		for _, p := range r.Pairs {
			k := p.key()
			j, ok := index[k]
			if !ok {
				index[k] = len(out.Pairs)
				out.Pairs = append(out.Pairs, ReportPair{
					Source: p.Source, Destination: p.Destination, Protocol: p.Protocol,
					SourceNamespace: p.SourceNamespace, DestinationNamespace: p.DestinationNamespace,
					TLS:            p.TLS,
					InvalidReasons: map[string]uint64{}, Defects: map[string]uint64{},
					PIIByKind: map[string]uint64{}, Formats: map[string]uint64{},
					BrokenChainReasons: map[string]uint64{},
				})
				j = len(out.Pairs) - 1
			}
			out.Pairs[j].add(&p)
			votes.add(j, &p)
		}
	}
	votes.decide(out.Pairs)
	slices.Sort(out.Hosts)
	out.Hosts = slices.Compact(out.Hosts)
	sortReportPairs(out.Pairs)
	sortServices(out.Services)
	return out, nil
}

// add sums o into s; the broken pairs are unioned, sorted, and the
// runtimes joined (hint.Runtime.Join).
func (s *ReportService) add(o *ReportService) {
	s.Runtime = hint.ParseRuntime(s.Runtime).Join(hint.ParseRuntime(o.Runtime)).String()
	s.TracedReceived += o.TracedReceived
	s.SentContinued += o.SentContinued
	s.SentNewRoot += o.SentNewRoot
	s.SentDropped += o.SentDropped
	for _, k := range o.BrokenPairs {
		if !slices.Contains(s.BrokenPairs, k) {
			s.BrokenPairs = append(s.BrokenPairs, k)
		}
	}
	slices.SortFunc(s.BrokenPairs, func(a, b ReportPairKey) int {
		return compareKeys(PairKey(a), PairKey(b))
	})
}

func sortServices(services []ReportService) {
	slices.SortFunc(services, func(a, b ReportService) int {
		return compareServices(a.Service, a.Namespace, b.Service, b.Namespace)
	})
}

// add sums o into p.
func (p *ReportPair) add(o *ReportPair) {
	p.Requests += o.Requests
	p.MissingContext += o.MissingContext
	p.InvalidContext += o.InvalidContext
	addCounts(p.InvalidReasons, o.InvalidReasons)
	addCounts(p.Defects, o.Defects)
	p.OversizedBaggage += o.OversizedBaggage
	p.AtRiskBaggage += o.AtRiskBaggage
	p.MaxBaggageBytes = max(p.MaxBaggageBytes, o.MaxBaggageBytes)
	for i, n := range o.BaggageBytes.Buckets {
		p.BaggageBytes.Buckets[i] += n
	}
	p.BaggageBytes.Sum += o.BaggageBytes.Sum
	p.BaggageBytes.Count += o.BaggageBytes.Count
	addCounts(p.PIIByKind, o.PIIByKind)
	p.SuspectKeys += o.SuspectKeys
	addCounts(p.Formats, o.Formats)
	p.Truncated += o.Truncated
	if len(o.CoverageGaps) > 0 {
		if p.CoverageGaps == nil {
			p.CoverageGaps = map[string]uint64{}
		}
		addCounts(p.CoverageGaps, o.CoverageGaps)
	}
	p.CoverageGapRecords += o.CoverageGapRecords
	p.Continued += o.Continued
	p.BrokenChain += o.BrokenChain
	if p.BrokenChainReasons == nil {
		p.BrokenChainReasons = map[string]uint64{}
	}
	addCounts(p.BrokenChainReasons, o.BrokenChainReasons)
}

func sortReportPairs(pairs []ReportPair) {
	slices.SortFunc(pairs, func(a, b ReportPair) int {
		return compareKeys(a.key(), b.key())
	})
}

// key is the pair's key.
func (p *ReportPair) key() PairKey {
	return PairKey{p.Source, p.Destination, p.Protocol, p.SourceNamespace, p.DestinationNamespace, p.TLS}
}

// Key is the pair's key.
func (p *ReportPair) Key() PairKey { return p.key() }

// SourceName and DestinationName are the ends as shown to people:
// QualifiedName of each.
func (p *ReportPair) SourceName() string { return QualifiedName(p.SourceNamespace, p.Source) }

// DestinationName: see SourceName.
func (p *ReportPair) DestinationName() string {
	return QualifiedName(p.DestinationNamespace, p.Destination)
}

// ShownProtocol is the pair's protocol as people are shown it: see
// ShownProtocol.
func (p *ReportPair) ShownProtocol() string { return ShownProtocol(p.Protocol, p.TLS) }

// ShownProtocol is a pair's protocol as tables and pages show it: "+tls"
// marks a pair read at a TLS library ("http+tls", "kafka+tls"), which
// stands beside the same ends' socket pair and must not look like its
// duplicate. Metrics and reports keep the protocol and a tls field apart.
func ShownProtocol(protocol string, tls bool) string {
	if tls {
		return protocol + "+tls"
	}
	return protocol
}

// QualifiedName is a service as shown where two namespaces may each run
// one of that name: "namespace/name", or the name alone off-cluster
// (Kubernetes names cannot hold '/').
func QualifiedName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

func addCounts(dst, src map[string]uint64) {
	for k, n := range src {
		dst[k] += n
	}
}

func copyCounts(m map[string]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(m))
	addCounts(out, m)
	return out
}

func nonNil(m map[string]uint64) map[string]uint64 {
	if m == nil {
		return map[string]uint64{}
	}
	return m
}
