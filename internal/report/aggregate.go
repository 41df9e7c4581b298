package report

import (
	"slices"
	"strings"
	"sync"

	"github.com/propwatch/propwatch/internal/hint"
	"github.com/propwatch/propwatch/internal/parse"
	"github.com/propwatch/propwatch/internal/parse/pii"
	"github.com/propwatch/propwatch/internal/parse/reason"
)

// PairKey identifies a service pair: who sent the requests, who received
// them, and over what ("http", "kafka").
type PairKey struct {
	Source, Destination, Protocol string
	// SourceNamespace and DestinationNamespace are the Kubernetes
	// namespaces of the ends: "" off-cluster, and for an end that is
	// neither a pod nor a Service (a host process, an outside address, a
	// Kafka topic).
	SourceNamespace, DestinationNamespace string
	// TLS is true for requests read as plaintext at a TLS library rather
	// than from socket bytes: their own pair, so that what propwatch
	// learnt only through the library is told apart (and counted apart)
	// from what it reads on every socket.
	TLS bool
}

// OverflowName is the source and destination of the pair that collects
// every pair beyond the table's limit. A pair whose own names are both
// OverflowName is folded too, so the label set stays unique.
const OverflowName = "(overflow)"

// ReasonUnknown stands for the code that made a context invalid when the
// caller did not say, so that InvalidReasons always sums to InvalidContext.
const ReasonUnknown = "unknown"

// ReasonOther collects codes past the per-pair limit of distinct codes and
// parse-failure reasons past theirs. Codes are compile-time constants, so
// reaching it means a bug, not hostile input; the limit is a safety net.
const ReasonOther = "other"

const (
	defaultMaxPairs = 1000
	// maxCodesPerPair bounds the distinct codes of each map of a pair; the
	// engine declares fewer than a hundred.
	maxCodesPerPair = 128
	// maxFailureReasons bounds the distinct ParseFailure reasons.
	maxFailureReasons = 64
	// maxOverflowProtocols bounds the overflow pairs (one per protocol);
	// protocols are chosen by propwatch's own code, so a handful suffice.
	maxOverflowProtocols = 8
	// numFormatBits is the width of formats.Format.
	numFormatBits = 16
)

// AggregatorConfig configures an Aggregator.
type AggregatorConfig struct {
	// MaxPairs bounds the distinct pairs kept, and with them the memory of
	// the aggregator and the label cardinality of the metrics. Zero or less
	// means 1000.
	MaxPairs int
}

// Aggregator counts verdicts per service pair. It is safe for concurrent
// use. Recording a request of a known pair takes one map lookup by value
// and costs no allocation unless the request has a defect code the pair has
// never seen.
type Aggregator struct {
	mu       sync.Mutex
	maxPairs int
	// pairs maps the sanitized key of every pair, overflow pairs included,
	// to its counters. A key that needs no sanitizing is found in one
	// lookup; others are sanitized on each Record (see Record).
	pairs     map[PairKey]*pairCounters
	order     []*pairCounters // every entry of pairs, sorted by key
	real      int             // entries of pairs that are not overflow pairs
	overflows int

	folded         foldedSet
	foldedRequests uint64
	failures       map[string]uint64

	// services holds the continuity counts of each local service (see
	// chain.go); chainEvictions the ids the memory evicted early.
	services       map[serviceKey]*serviceCounters
	chainEvictions uint64
	// runtimes holds the runtime of each service told one (Runtime).
	runtimes map[serviceKey]hint.Runtime
}

// codeCount is one entry of a pair's code counts. A pair sees a handful of
// codes, so a slice scanned linearly beats a map and copies cheaply.
type codeCount struct {
	code string
	n    uint64
}

// pairCounters is everything counted for one pair.
type pairCounters struct {
	key      PairKey
	overflow bool
	c        counts
	invalid  []codeCount
	defects  []codeCount
	gaps     []codeCount
	// src and dst are the continuity counters of the pair's ends, once
	// looked up (chain.go).
	src, dst *serviceCounters
}

// counts are the fixed-size counters of a pair: a plain value, so that
// Snapshot copies it in one assignment.
type counts struct {
	requests, missing, invalid uint64
	oversized, atRisk          uint64
	suspect, truncated         uint64
	maxBaggage                 int
	baggage                    Histogram
	pii                        [len(parse.Verdict{}.PII)]uint64
	formats                    [numFormatBits]uint64
	// gapRecords adds up the records of coverage gaps whose count was
	// known.
	gapRecords uint64
	// continued, newRoot and dropped classify the requests of the pair a
	// local process sent (see chain.Outcome).
	continued, newRoot, dropped uint64
}

// NewAggregator returns an empty Aggregator configured by cfg.
func NewAggregator(cfg AggregatorConfig) *Aggregator {
	if cfg.MaxPairs <= 0 {
		cfg.MaxPairs = defaultMaxPairs
	}
	return &Aggregator{
		maxPairs: cfg.MaxPairs,
		pairs:    make(map[PairKey]*pairCounters),
		failures: make(map[string]uint64),
		services: make(map[serviceKey]*serviceCounters),
		runtimes: make(map[serviceKey]hint.Runtime),
	}
}

// Record counts one request of pair k judged as v. An invalid request is
// counted under v.ContextReason (ReasonUnknown when empty), so the reason
// counts of a pair add up to its invalid count.
//
// Names that need sanitizing (too long, not printable UTF-8) are sanitized
// again on every request, which allocates; only broken or hostile
// environments produce them, and keeping their raw form as a map key would
// let them hold unbounded memory.
func (a *Aggregator) Record(k PairKey, v *parse.Verdict) {
	a.mu.Lock()
	a.record(k, v)
	a.mu.Unlock()
}

// record counts one request of k and returns its pair. It is called with
// a.mu held.
func (a *Aggregator) record(k PairKey, v *parse.Verdict) *pairCounters {
	p := a.lookup(k)
	if p.overflow {
		a.foldedRequests++
		a.folded.add(k)
	}
	c := &p.c
	c.requests++
	switch v.Context {
	case parse.Missing:
		c.missing++
	case parse.Invalid:
		c.invalid++
		code := string(v.ContextReason)
		if code == "" {
			code = ReasonUnknown
		}
		p.invalid = addCode(p.invalid, code)
	}
	for _, r := range v.Reasons {
		p.defects = addCode(p.defects, string(r))
	}
	if b := &v.Baggage; b.Headers > 0 {
		c.baggage.Observe(b.Bytes)
		c.maxBaggage = max(c.maxBaggage, b.Bytes)
		if b.Oversized {
			c.oversized++
		}
		if b.AtRisk {
			c.atRisk++
		}
	}
	for i, n := range v.PII {
		if n > 0 {
			c.pii[i] += uint64(n)
		}
	}
	if v.SuspectKeys > 0 {
		c.suspect += uint64(v.SuspectKeys)
	}
	for f, i := uint16(v.Formats), 0; f != 0; f, i = f>>1, i+1 {
		if f&1 != 0 {
			c.formats[i]++
		}
	}
	if v.Truncated {
		c.truncated++
	}
	return p
}

// Gap counts one coverage gap of pair k: input of the pair that was seen
// on the wire but could not be read (a Kafka batch cut by the capture, a
// codec error, an unknown topic id), by the code that says why. records
// is how many records (requests) the gap hid, negative when unknown. A gap
// is never a request and never counts as missing context: it says that
// the pair's counts are a lower bound.
func (a *Aggregator) Gap(k PairKey, code reason.Code, records int64) {
	a.mu.Lock()
	p := a.lookup(k)
	if p.overflow {
		a.folded.add(k)
	}
	c := string(code)
	if c == "" {
		c = ReasonUnknown
	}
	p.gaps = addCode(p.gaps, c)
	if records > 0 {
		p.c.gapRecords += uint64(records)
	}
	a.mu.Unlock()
}

// lookup returns the counters of k, creating or folding as needed. It is
// called with a.mu held.
func (a *Aggregator) lookup(k PairKey) *pairCounters {
	if p, ok := a.pairs[k]; ok {
		return p
	}
	s := sanitizeKey(k)
	if s != k {
		if p, ok := a.pairs[s]; ok {
			return p
		}
	}
	if a.real >= a.maxPairs || (s.Source == OverflowName && s.Destination == OverflowName && s.SourceNamespace == "" && s.DestinationNamespace == "" && !s.TLS) {
		return a.overflowPair(s.Protocol)
	}
	if s == k {
		// k becomes a map key: copy it so that the table never pins a
		// larger buffer the caller's strings may point into.
		s = PairKey{strings.Clone(k.Source), strings.Clone(k.Destination), strings.Clone(k.Protocol),
			strings.Clone(k.SourceNamespace), strings.Clone(k.DestinationNamespace), k.TLS}
	}
	p := &pairCounters{key: s}
	a.insert(p)
	a.real++
	return p
}

// insert adds p to the table, keeping order sorted by key so that Snapshot
// never sorts. A new pair costs a copy of at most MaxPairs pointers.
func (a *Aggregator) insert(p *pairCounters) {
	a.pairs[p.key] = p
	i, _ := slices.BinarySearchFunc(a.order, p.key, func(q *pairCounters, k PairKey) int {
		return compareKeys(q.key, k)
	})
	a.order = slices.Insert(a.order, i, p)
}

// overflowPair returns the pair that folds the pairs of protocol proto.
func (a *Aggregator) overflowPair(proto string) *pairCounters {
	k := PairKey{Source: OverflowName, Destination: OverflowName, Protocol: proto}
	if p, ok := a.pairs[k]; ok {
		return p
	}
	if a.overflows >= maxOverflowProtocols {
		k.Protocol = OverflowName
		if p, ok := a.pairs[k]; ok {
			return p
		}
	}
	k.Protocol = strings.Clone(k.Protocol)
	p := &pairCounters{key: k, overflow: true}
	a.insert(p)
	a.overflows++
	return p
}

// addCode counts one occurrence of code in list.
func addCode(list []codeCount, code string) []codeCount {
	for i := range list {
		if list[i].code == code {
			list[i].n++
			return list
		}
	}
	if len(list) >= maxCodesPerPair-1 {
		code = ReasonOther
		for i := range list {
			if list[i].code == code {
				list[i].n++
				return list
			}
		}
	}
	return append(list, codeCount{code, 1})
}

// ParseFailure counts input the pipeline could not read as a request, such
// as "http.not_http", "http.truncated" or "conn.evicted". It is not tied to
// a pair, because a pair is only known once a request is.
func (a *Aggregator) ParseFailure(reason string) {
	a.mu.Lock()
	if _, ok := a.failures[reason]; ok {
		a.failures[reason]++
	} else {
		r := sanitizeLabel(reason)
		if _, ok := a.failures[r]; !ok {
			if len(a.failures) >= maxFailureReasons-1 {
				r = ReasonOther
			} else if r == reason {
				r = strings.Clone(r) // a map key must not pin the caller's buffer
			}
		}
		a.failures[r]++
	}
	a.mu.Unlock()
}

// Len returns the number of entries of the pair table, overflow pairs
// included: at most MaxPairs plus a few.
func (a *Aggregator) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pairs)
}

// Snapshot is a consistent copy of everything an Aggregator counted. It
// shares nothing with the Aggregator.
type Snapshot struct {
	// Pairs are sorted by source, destination and protocol.
	Pairs []PairStats
	// FoldedPairs counts the distinct pairs folded into an overflow pair:
	// exact up to 1024, then an estimate within about 2%.
	FoldedPairs uint64
	// FoldedRequests counts the requests of folded pairs.
	FoldedRequests uint64
	// ParseFailures counts unreadable input by reason.
	ParseFailures map[string]uint64
	// Services are the continuity counts of each local service that
	// received traced input or sent a classified request, sorted by name.
	Services []ServiceStats
	// ChainEvictions counts the received trace ids forgotten to the
	// memory's caps before their window ended.
	ChainEvictions uint64
}

// PairStats is what was counted for one pair.
type PairStats struct {
	Source, Destination, Protocol string
	// SourceNamespace and DestinationNamespace are as in PairKey.
	SourceNamespace, DestinationNamespace string
	// TLS is as in PairKey: the requests were read at a TLS library.
	TLS bool
	// Requests counts every request; MissingContext and InvalidContext
	// those whose parse.Context was Missing and Invalid.
	Requests, MissingContext, InvalidContext uint64
	// InvalidReasons counts, per invalid-context request, the code that
	// made it invalid; it sums to InvalidContext.
	InvalidReasons map[string]uint64
	// Defects counts every defect code of every request: a request with
	// three codes counts three times, once under each.
	Defects map[string]uint64
	// OversizedBaggage and AtRiskBaggage count requests whose baggage was
	// oversized and at risk. Both are counted independently, so a request
	// whose baggage is over both byte limits counts in both.
	OversizedBaggage, AtRiskBaggage uint64
	// MaxBaggageBytes is the largest baggage seen.
	MaxBaggageBytes int
	// BaggageBytes sizes the baggage of requests that carried any.
	BaggageBytes Histogram
	// PIIByKind counts PII findings by kind name; every kind is a key.
	PIIByKind map[string]uint64
	// SuspectKeys counts propagated keys whose name suggests PII.
	SuspectKeys uint64
	// Formats counts the requests carrying each format, by format name;
	// formats never seen are absent.
	Formats map[string]uint64
	// Truncated counts request heads cut by the capture.
	Truncated uint64
	// CoverageGaps counts, by reason code, the input of this pair that was
	// seen but could not be read (see Aggregator.Gap); nil when there was
	// none. Gaps are not requests.
	CoverageGaps map[string]uint64
	// GapRecords adds up the records the gaps hid, where their count was
	// known.
	GapRecords uint64
	// Continued, NewRoot and Dropped classify the requests of the pair
	// whose sender is a local process that had received traced input
	// (chain.Outcome); requests of other senders are in none of them.
	Continued, NewRoot, Dropped uint64
	// NewRootHint and DroppedHint name the fix for the new roots and the
	// dropped context (package hint); "" when there were none.
	NewRootHint, DroppedHint hint.Code
}

// Hint is the fix for the reason that broke most of the pair's requests
// (new_root on a tie); "" when none broke.
func (p *PairStats) Hint() hint.Code {
	switch dominantReason(p.NewRoot, p.Dropped) {
	case ChainNewRoot:
		return p.NewRootHint
	case ChainDropped:
		return p.DroppedHint
	}
	return ""
}

// BrokenChain is the number of requests that split their trace at the
// sender: new roots and dropped context.
func (p *PairStats) BrokenChain() uint64 { return p.NewRoot + p.Dropped }

// Key returns the pair's key.
func (p *PairStats) Key() PairKey {
	return PairKey{p.Source, p.Destination, p.Protocol, p.SourceNamespace, p.DestinationNamespace, p.TLS}
}

// GapTotal is the number of coverage gaps of all reasons.
func (p *PairStats) GapTotal() uint64 {
	var n uint64
	for _, c := range p.CoverageGaps {
		n += c
	}
	return n
}

// PIITotal is the number of PII findings of all kinds.
func (p *PairStats) PIITotal() uint64 {
	var n uint64
	for _, c := range p.PIIByKind {
		n += c
	}
	return n
}

// frozenPair is a pair copied under the lock; maps are built from it after
// the lock is released, so Record waits only for plain copies.
type frozenPair struct {
	key                    PairKey
	c                      counts
	invalid, defects, gaps []codeCount
	newRootHint, dropHint  hint.Code
}

// Snapshot returns a deep, consistent copy of the counts.
func (a *Aggregator) Snapshot() Snapshot {
	a.mu.Lock()
	frozen := make([]frozenPair, len(a.order))
	ncodes := 0
	for _, p := range a.order {
		ncodes += len(p.invalid) + len(p.defects) + len(p.gaps)
	}
	codes := make([]codeCount, 0, ncodes)
	for i, p := range a.order {
		f := &frozen[i]
		f.key, f.c = p.key, p.c
		f.newRootHint, f.dropHint = a.hints(p)
		n := len(codes)
		codes = append(codes, p.invalid...)
		f.invalid = codes[n:len(codes):len(codes)]
		n = len(codes)
		codes = append(codes, p.defects...)
		f.defects = codes[n:len(codes):len(codes)]
		n = len(codes)
		codes = append(codes, p.gaps...)
		f.gaps = codes[n:len(codes):len(codes)]
	}
	s := Snapshot{
		FoldedPairs:    a.folded.count(),
		FoldedRequests: a.foldedRequests,
		ParseFailures:  make(map[string]uint64, len(a.failures)),
	}
	for r, n := range a.failures {
		s.ParseFailures[r] = n
	}
	s.Services = a.serviceStats()
	s.ChainEvictions = a.chainEvictions
	a.mu.Unlock()

	s.Pairs = make([]PairStats, len(frozen))
	for i := range frozen {
		s.Pairs[i] = frozen[i].stats()
	}
	return s
}

func (f *frozenPair) stats() PairStats {
	c := &f.c
	ps := PairStats{
		Source: f.key.Source, Destination: f.key.Destination, Protocol: f.key.Protocol,
		SourceNamespace: f.key.SourceNamespace, DestinationNamespace: f.key.DestinationNamespace,
		TLS:      f.key.TLS,
		Requests: c.requests, MissingContext: c.missing, InvalidContext: c.invalid,
		InvalidReasons:   codeMap(f.invalid),
		Defects:          codeMap(f.defects),
		OversizedBaggage: c.oversized, AtRiskBaggage: c.atRisk,
		MaxBaggageBytes: c.maxBaggage,
		BaggageBytes:    c.baggage,
		PIIByKind:       make(map[string]uint64, len(pii.AllKinds())),
		SuspectKeys:     c.suspect,
		Formats:         make(map[string]uint64, 2),
		Truncated:       c.truncated,
		GapRecords:      c.gapRecords,
		Continued:       c.continued,
		NewRoot:         c.newRoot,
		Dropped:         c.dropped,
		NewRootHint:     f.newRootHint,
		DroppedHint:     f.dropHint,
	}
	if len(f.gaps) > 0 {
		ps.CoverageGaps = codeMap(f.gaps)
	}
	for _, k := range pii.AllKinds() {
		ps.PIIByKind[k.String()] = c.pii[k]
	}
	for i, n := range c.formats {
		if n == 0 {
			continue
		}
		if name := formatName(i); name != "" {
			ps.Formats[name] = n
		}
	}
	return ps
}

func codeMap(list []codeCount) map[string]uint64 {
	m := make(map[string]uint64, len(list))
	for _, cc := range list {
		m[cc.code] = cc.n
	}
	return m
}

// comparePairs orders pairs by source, destination and protocol, then
// their namespaces, the socket's pair before the TLS library's.
func comparePairs(a, b PairStats) int { return compareKeys(a.Key(), b.Key()) }

func compareKeys(a, b PairKey) int {
	if c := strings.Compare(a.Source, b.Source); c != 0 {
		return c
	}
	if c := strings.Compare(a.Destination, b.Destination); c != 0 {
		return c
	}
	if c := strings.Compare(a.Protocol, b.Protocol); c != 0 {
		return c
	}
	if c := strings.Compare(a.SourceNamespace, b.SourceNamespace); c != 0 {
		return c
	}
	if c := strings.Compare(a.DestinationNamespace, b.DestinationNamespace); c != 0 {
		return c
	}
	switch {
	case a.TLS == b.TLS:
		return 0
	case b.TLS:
		return -1
	}
	return 1
}
