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

// ChainEvent is what continuity says about one request: the local process
// that sent it and how its send was classified, and the local process
// that received it with traced context. Names are service names; an empty
// one means that end is not a local process (or not classified).
type ChainEvent struct {
	// Sender is the service of the local process that sent the request,
	// Outcome the classification of that send (chain.None: not counted).
	Sender  string
	Outcome chain.Outcome
	// Receiver is the service of the local process that received the
	// request with valid, identified context; empty when none did.
	Receiver string
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
// lock and one pair lookup serve both, so continuity costs the hot path
// only its counters.
func (a *Aggregator) RecordChain(k PairKey, v *parse.Verdict, e *ChainEvent) {
	a.mu.Lock()
	p := a.record(k, v)
	if e != nil {
		if e.Outcome != chain.None {
			a.chain(p, e.Sender, e.Outcome)
		}
		if e.Receiver != "" {
			a.service(e.Receiver).received++
		}
	}
	a.mu.Unlock()
}

// Chain counts the classification of one request of pair k, already
// recorded, that service sender sent. The observer classifies Kafka
// Produce records after a grace delay, so their outcome comes apart from
// the record.
func (a *Aggregator) Chain(k PairKey, sender string, o chain.Outcome) {
	if o == chain.None {
		return
	}
	a.mu.Lock()
	a.chain(a.lookup(k), sender, o)
	a.mu.Unlock()
}

// AddChainEvictions counts n received trace ids forgotten to the memory's
// caps before their window ended.
func (a *Aggregator) AddChainEvictions(n uint64) {
	a.mu.Lock()
	a.chainEvictions += n
	a.mu.Unlock()
}

// chain counts outcome o of pair p sent by service sender, with a.mu held.
func (a *Aggregator) chain(p *pairCounters, sender string, o chain.Outcome) {
	s := a.service(sender)
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
