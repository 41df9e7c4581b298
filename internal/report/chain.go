package report

import (
	"slices"
	"strings"

	"github.com/propwatch/propwatch/internal/chain"
	"github.com/propwatch/propwatch/internal/hint"
	"github.com/propwatch/propwatch/internal/parse"
)

// Continuity: where a trace splits inside a local service. The observer
// classifies each request a local process sends (package chain) and tells
// the Aggregator, which counts the outcomes per pair and per service.

// Reasons of a broken chain, the keys of broken_chain_reasons and the
// reason label of propwatch_chain_broken_total.
const (
	ChainNewRoot = "new_root"
	ChainDropped = "dropped"
)

// maxBrokenPairs bounds the pairs a service lists as broken by it.
const maxBrokenPairs = 64

// ChainEvent is what continuity says about one request of a pair: how
// its sender, the pair's source, was judged to have sent it, and whether
// its receiver, the pair's destination, is a local process that received
// it with valid context naming its trace.
type ChainEvent struct {
	// Outcome classifies the send (chain.None: not counted).
	Outcome chain.Outcome
	// Received: the destination is a local process and received traced
	// input.
	Received bool
}

// serviceKey names a service: its name and Kubernetes namespace ("" off
// cluster), since two namespaces may each run a service of one name.
type serviceKey struct{ namespace, name string }

// serviceCounters are the continuity counts of one local service.
type serviceCounters struct {
	key      serviceKey
	received uint64
	// receivedKafka counts the part of received that were Kafka records:
	// a service whose traced input was all records is told to extract
	// their context (package hint).
	receivedKafka               uint64
	continued, newRoot, dropped uint64
	// broken lists the pairs this service broke a chain on, the first
	// maxBrokenPairs of them.
	broken []PairKey
}

// ServiceStats are the continuity counts of one local service.
type ServiceStats struct {
	// Service and Namespace name it (Namespace is "" off-cluster).
	Service, Namespace string
	// TracedReceived counts the requests and records it received with
	// valid, identified context.
	TracedReceived uint64
	// Continued, NewRoot and Dropped classify what it sent (chain.Outcome).
	Continued, NewRoot, Dropped uint64
	// BrokenPairs are the pairs it sent new roots or dropped context on,
	// sorted (the first 64 seen).
	BrokenPairs []PairKey
	// Runtime is its processes' runtime (hint.Mixed when they differ;
	// hint.Unknown when none was told).
	Runtime hint.Runtime
}

// RecordChain is Record with what continuity says about the request. One
// lock and one pair lookup serve both, and a pair keeps its services'
// counters, so continuity costs the hot path only its counters.
func (a *Aggregator) RecordChain(k PairKey, v *parse.Verdict, e ChainEvent) {
	a.mu.Lock()
	p := a.record(k, v)
	if e.Outcome != chain.None {
		a.chain(p, k, e.Outcome)
	}
	if e.Received {
		d := a.destination(p, k)
		d.received++
		if k.Protocol == hint.ProtocolKafka {
			d.receivedKafka++
		}
	}
	a.mu.Unlock()
}

// Chain counts the classification of one request of pair k, already
// recorded, as its source sent it. The observer classifies Kafka Produce
// records after a grace delay, so their outcome comes apart from the
// record.
func (a *Aggregator) Chain(k PairKey, o chain.Outcome) {
	if o == chain.None {
		return
	}
	a.mu.Lock()
	a.chain(a.lookup(k), k, o)
	a.mu.Unlock()
}

// Runtime tells the runtime of a process named service (hint.Identifier),
// by which the fix for the chains the service breaks is named. Services
// whose processes run different runtimes are hint.Mixed. Runtimes are
// remembered for as many services as there may be pairs; past that, new
// services are not, and their hints say unknown.
func (a *Aggregator) Runtime(namespace, service string, rt hint.Runtime) {
	if rt == hint.Unknown {
		return
	}
	a.mu.Lock()
	k := serviceKey{sanitizeNamespace(namespace), sanitizeLabel(service)}
	have, ok := a.runtimes[k]
	switch {
	case ok:
		a.runtimes[k] = have.Join(rt)
	case len(a.runtimes) < a.maxPairs:
		// A map key must not pin the caller's buffers.
		a.runtimes[serviceKey{strings.Clone(k.namespace), strings.Clone(k.name)}] = rt
	}
	a.mu.Unlock()
}

// AddChainEvictions counts n received trace ids forgotten to the memory's
// caps before their window ended.
func (a *Aggregator) AddChainEvictions(n uint64) {
	a.mu.Lock()
	a.chainEvictions += n
	a.mu.Unlock()
}

// chain counts outcome o of a request of pair p (whose key, unfolded, is
// k), with a.mu held.
func (a *Aggregator) chain(p *pairCounters, k PairKey, o chain.Outcome) {
	s := a.source(p, k)
	switch o {
	case chain.Continued:
		p.c.continued++
		s.continued++
		return
	case chain.NewRoot:
		p.c.newRoot++
		s.newRoot++
	case chain.Dropped:
		p.c.dropped++
		s.dropped++
	default:
		return
	}
	if len(s.broken) < maxBrokenPairs && !slices.Contains(s.broken, p.key) {
		s.broken = append(s.broken, p.key)
	}
}

// source and destination return the service counters of the ends of pair
// p, with a.mu held: kept in the pair, but for an overflow pair, whose key
// no longer names them, looked up by k's names.
func (a *Aggregator) source(p *pairCounters, k PairKey) *serviceCounters {
	if p.overflow {
		return a.service(k.SourceNamespace, k.Source)
	}
	if p.src == nil {
		p.src = a.service(p.key.SourceNamespace, p.key.Source)
	}
	return p.src
}

func (a *Aggregator) destination(p *pairCounters, k PairKey) *serviceCounters {
	if p.overflow {
		return a.service(k.DestinationNamespace, k.Destination)
	}
	if p.dst == nil {
		p.dst = a.service(p.key.DestinationNamespace, p.key.Destination)
	}
	return p.dst
}

// service returns the counters of a service, with a.mu held. Services are
// bounded like pairs: past MaxPairs of them, new ones count under
// OverflowName.
func (a *Aggregator) service(namespace, name string) *serviceCounters {
	if s, ok := a.services[serviceKey{namespace, name}]; ok {
		return s
	}
	clean := serviceKey{sanitizeNamespace(namespace), sanitizeLabel(name)}
	if s, ok := a.services[clean]; ok {
		return s
	}
	if len(a.services) >= a.maxPairs {
		clean = serviceKey{name: OverflowName}
		if s, ok := a.services[clean]; ok {
			return s
		}
	} else {
		// A map key must not pin the caller's buffers.
		clean = serviceKey{strings.Clone(clean.namespace), strings.Clone(clean.name)}
	}
	s := &serviceCounters{key: clean}
	a.services[clean] = s
	return s
}

// serviceStats copies the services' counts, sorted by name, with a.mu
// held.
func (a *Aggregator) serviceStats() []ServiceStats {
	out := make([]ServiceStats, 0, len(a.services))
	for _, s := range a.services {
		st := ServiceStats{
			Service: s.key.name, Namespace: s.key.namespace, TracedReceived: s.received,
			Continued: s.continued, NewRoot: s.newRoot, Dropped: s.dropped,
			BrokenPairs: slices.Clone(s.broken),
			Runtime:     a.runtimes[s.key],
		}
		slices.SortFunc(st.BrokenPairs, compareKeys)
		out = append(out, st)
	}
	slices.SortFunc(out, func(x, y ServiceStats) int {
		return compareServices(x.Service, x.Namespace, y.Service, y.Namespace)
	})
	return out
}

// hints are the fixes for the broken chains of pair p, by reason (new
// root, dropped), with a.mu held: by what its source service is known to
// run and received.
func (a *Aggregator) hints(p *pairCounters) (newRoot, dropped hint.Code) {
	if p.c.newRoot == 0 && p.c.dropped == 0 {
		return "", ""
	}
	src := serviceKey{p.key.SourceNamespace, p.key.Source}
	sender := hint.Sender{Runtime: a.runtimes[src]}
	if s := a.services[src]; s != nil {
		sender.KafkaOnly = s.receivedKafka > 0 && s.receivedKafka == s.received
	}
	if p.c.newRoot > 0 {
		newRoot = hint.For(sender, p.key.Protocol, ChainNewRoot)
	}
	if p.c.dropped > 0 {
		dropped = hint.For(sender, p.key.Protocol, ChainDropped)
	}
	return newRoot, dropped
}

// dominantReason is the reason a pair's hint is for: the one that broke
// more of its requests, new_root on a tie (a new root hides better: its
// receiver sees valid context); "" when none broke.
func dominantReason(newRoot, dropped uint64) string {
	switch {
	case newRoot == 0 && dropped == 0:
		return ""
	case newRoot >= dropped:
		return ChainNewRoot
	}
	return ChainDropped
}

// hintVotes decides a merged pair's hints. Each input pair votes for its
// code of each reason with the requests that reason broke there; the code
// with the most votes wins, the smaller code on a tie, so that the result
// does not depend on the order of the inputs.
type hintVotes map[int]*[2]map[string]uint64

// add counts the votes of input pair p, merged into output pair j.
func (v *hintVotes) add(j int, p *ReportPair) {
	for i, reason := range [2]string{ChainNewRoot, ChainDropped} {
		code, n := p.Hints[reason], p.BrokenChainReasons[reason]
		if code == "" || n == 0 {
			continue
		}
		if *v == nil {
			*v = hintVotes{}
		}
		b := (*v)[j]
		if b == nil {
			b = &[2]map[string]uint64{}
			(*v)[j] = b
		}
		if b[i] == nil {
			b[i] = map[string]uint64{}
		}
		b[i][code] += n
	}
}

// decide sets the hints of the merged pairs.
func (v hintVotes) decide(pairs []ReportPair) {
	for i := range pairs {
		p := &pairs[i]
		p.Hint, p.Hints = "", nil
		b := v[i]
		if b == nil {
			continue
		}
		for r, reason := range [2]string{ChainNewRoot, ChainDropped} {
			best, most := "", uint64(0)
			for code, n := range b[r] {
				if n > most || n == most && code < best {
					best, most = code, n
				}
			}
			if best != "" {
				if p.Hints == nil {
					p.Hints = map[string]string{}
				}
				p.Hints[reason] = best
			}
		}
		p.Hint = p.Hints[dominantReason(p.BrokenChainReasons[ChainNewRoot], p.BrokenChainReasons[ChainDropped])]
	}
}

// compareServices orders services by name, then namespace.
func compareServices(name1, ns1, name2, ns2 string) int {
	if c := strings.Compare(name1, name2); c != 0 {
		return c
	}
	return strings.Compare(ns1, ns2)
}
