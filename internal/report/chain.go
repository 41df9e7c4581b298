package report

import (
	"slices"
	"strings"

	"github.com/propwatch/propwatch/internal/chain"
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

// serviceCounters are the continuity counts of one local service.
type serviceCounters struct {
	name                        string
	received                    uint64
	continued, newRoot, dropped uint64
	// broken lists the pairs this service broke a chain on, the first
	// maxBrokenPairs of them.
	broken []PairKey
}

// ServiceStats are the continuity counts of one local service.
type ServiceStats struct {
	Service string
	// TracedReceived counts the requests and records it received with
	// valid, identified context.
	TracedReceived uint64
	// Continued, NewRoot and Dropped classify what it sent (chain.Outcome).
	Continued, NewRoot, Dropped uint64
	// BrokenPairs are the pairs it sent new roots or dropped context on,
	// sorted (the first 64 seen).
	BrokenPairs []PairKey
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
		a.destination(p, k).received++
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
		return a.service(k.Source)
	}
	if p.src == nil {
		p.src = a.service(p.key.Source)
	}
	return p.src
}

func (a *Aggregator) destination(p *pairCounters, k PairKey) *serviceCounters {
	if p.overflow {
		return a.service(k.Destination)
	}
	if p.dst == nil {
		p.dst = a.service(p.key.Destination)
	}
	return p.dst
}

// service returns the counters of a service, with a.mu held. Services are
// bounded like pairs: past MaxPairs of them, new ones count under
// OverflowName.
func (a *Aggregator) service(name string) *serviceCounters {
	if s, ok := a.services[name]; ok {
		return s
	}
	clean := sanitizeLabel(name)
	if s, ok := a.services[clean]; ok {
		return s
	}
	if len(a.services) >= a.maxPairs {
		clean = OverflowName
		if s, ok := a.services[clean]; ok {
			return s
		}
	} else if clean == name {
		clean = strings.Clone(name) // a map key must not pin the caller's buffer
	}
	s := &serviceCounters{name: clean}
	a.services[clean] = s
	return s
}

// serviceStats copies the services' counts, sorted by name, with a.mu
// held.
func (a *Aggregator) serviceStats() []ServiceStats {
	out := make([]ServiceStats, 0, len(a.services))
	for _, s := range a.services {
		st := ServiceStats{
			Service: s.name, TracedReceived: s.received,
			Continued: s.continued, NewRoot: s.newRoot, Dropped: s.dropped,
			BrokenPairs: slices.Clone(s.broken),
		}
		slices.SortFunc(st.BrokenPairs, compareKeys)
		out = append(out, st)
	}
	slices.SortFunc(out, func(x, y ServiceStats) int { return strings.Compare(x.Service, y.Service) })
	return out
}
