package observe

import (
	"time"

	"github.com/propwatch/propwatch/internal/chain"
	"github.com/propwatch/propwatch/internal/loader"
	"github.com/propwatch/propwatch/internal/parse"
	"github.com/propwatch/propwatch/internal/report"
)

// Continuity: what each local process received and sent (package chain).
//
// A process receives traced input when it is the server of an HTTP
// request, or the consumer of a fetched Kafka record, with valid context
// that names its trace; it sends when it is the client of an HTTP request
// or the producer of a Produce record. Which process is at each end comes
// from the event (its own process and, over loopback, the sender the
// kernel named) or the connection owners, as for naming pairs.
//
// Ordering: a service receives a request and sends onward microseconds
// later, and the two events may reach propwatch in the other order (they
// come from different CPUs, or the onward call's frame completes first).
// So receipts are remembered as soon as their event is judged, and sends
// are classified only after NameDelay: HTTP requests when they are named,
// Kafka Produce records from sendQueue. A receipt up to NameDelay after a
// send still continues it.
//
// Evidence: a send is shown to the EvidenceSink when it is classified, so
// that the span of a new root says so. For Kafka that means sendQueue
// keeps each queued record's verdict as the naming queue keeps an HTTP
// request's (a kafkaSend is 296 bytes, 18.5 MiB at the default cap of 65,536
// records in NameDelay) rather than only its trace id: the span of a
// record with other findings is built from it, whatever the outcome.
//
// A request a process sends to itself (over loopback) is neither a
// receipt nor a send of it, so that it can never continue itself.

// traced reports whether v is input a receiver remembers: valid context
// naming its trace.
func traced(v *parse.Verdict) bool {
	return v.Context == parse.Valid && v.Trace.TraceID != [16]byte{}
}

// classify is the outcome of a request process pid sent at at (UnixNano).
// Invalid context, and valid context naming no trace (a bare B3 sampling
// decision), are no evidence: invalid context is counted as such.
func (o *Observer) classify(pid uint32, v *parse.Verdict, at int64) chain.Outcome {
	switch {
	case v.Context == parse.Missing:
		return o.chain.Sent(pid, nil, at)
	case traced(v):
		return o.chain.Sent(pid, &v.Trace.TraceID, at)
	}
	return chain.None
}

// chainHTTP classifies an HTTP request being named, whose ends are the
// local processes client and server (0: not local), and returns what to
// record with it. A receipt not remembered when its event was judged (the
// event kept of a request between two addresses of this host was the
// client's) is remembered now, after the send is classified.
func (o *Observer) chainHTTP(v *parse.Verdict, client, server uint32, dir loader.Direction, at int64) report.ChainEvent {
	var e report.ChainEvent
	if client == server {
		return e
	}
	if client != 0 {
		e.Outcome = o.classify(client, v, at)
	}
	if server != 0 && traced(v) {
		if dir == loader.Egress {
			o.chain.Receive(server, v.Trace.TraceID, at)
		}
		e.Received = true
	}
	return e
}

// chainKafka handles one record of the frame being decoded: a fetched
// record is a receipt of its consumer, remembered at once; a produced one
// a send of its producer, queued to be classified after NameDelay. queued
// says it was: its evidence, if any, is then offered when it is classified
// (classifySend), not now.
func (o *Observer) chainKafka(v *parse.Verdict) (e report.ChainEvent, queued bool) {
	k := &o.kafka
	if k.clientPID == 0 {
		return e, false
	}
	if !k.produce {
		if traced(v) {
			o.chain.Receive(k.clientPID, v.Trace.TraceID, k.now)
			e.Received = true
		}
		return e, false
	}
	if v.Context != parse.Missing && !traced(v) {
		return e, false
	}
	s := o.sends.push()
	if s == nil {
		o.classifySend(o.sends.pop())
		s = o.sends.push()
	}
	s.pair, s.pid, s.at = k.lastPair, k.clientPID, k.now
	// The whole verdict, not only its context and trace id: a send's
	// evidence span is built when it is classified, from what is kept.
	s.judged.set(v, &o.codes)
	return e, true
}

// classifySends classifies the queued Kafka sends made at or before
// until (UnixNano).
func (o *Observer) classifySends(until int64) {
	for {
		s := o.sends.peek()
		if s == nil || s.at > until {
			return
		}
		o.classifySend(o.sends.pop())
	}
}

// classifySend classifies a Kafka send, counts the outcome on its pair,
// and offers the record's evidence with its continuity finding: this is
// the one time a queued send is shown to the EvidenceSink, so that a new
// root's span says so, and a record with other findings but no new root
// still gets its one span.
func (o *Observer) classifySend(s *kafkaSend) {
	t := &s.judged.tally
	var out chain.Outcome
	if t.context == parse.Missing {
		out = o.chain.Sent(s.pid, nil, s.at)
	} else {
		out = o.chain.Sent(s.pid, &t.trace.TraceID, s.at)
	}
	o.cfg.Aggregator.Chain(s.pair, out)
	if o.cfg.Evidence != nil && t.trace.HasParent() {
		v := s.judged.verdict(&o.named, &o.codes)
		o.cfg.Evidence.Evidence(time.Unix(0, s.at), s.pair, v, evidenceChain(report.ChainEvent{Outcome: out}))
	}
	s.pair = report.PairKey{} // no string kept alive by a free slot
}

// reportEvictions tells the Aggregator the chain memory's new evictions.
func (o *Observer) reportEvictions() {
	if n := o.chain.Evictions(); n > o.evictions {
		o.cfg.Aggregator.AddChainEvictions(n - o.evictions)
		o.evictions = n
	}
}

// kafkaSend is a Produce record waiting to be classified, whose pair's
// source is its producer: its verdict, kept as the naming queue keeps an
// HTTP request's, and when it was captured (UnixNano).
type kafkaSend struct {
	pair   report.PairKey
	pid    uint32
	at     int64
	judged judged
}

// sendQueue is a FIFO of kafkaSends that grows up to max and then reuses
// its slots.
type sendQueue struct {
	buf     []kafkaSend
	head, n int
	max     int
}

// push returns a slot at the tail, or nil when the queue is full.
func (q *sendQueue) push() *kafkaSend {
	if q.n == len(q.buf) {
		if len(q.buf) >= q.max {
			return nil
		}
		grown := make([]kafkaSend, min(max(2*len(q.buf), 64), q.max))
		for i := 0; i < q.n; i++ {
			grown[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = grown, 0
	}
	s := &q.buf[(q.head+q.n)%len(q.buf)]
	q.n++
	return s
}

func (q *sendQueue) peek() *kafkaSend {
	if q.n == 0 {
		return nil
	}
	return &q.buf[q.head]
}

// pop removes and returns the oldest send, valid until the next push.
func (q *sendQueue) pop() *kafkaSend {
	s := q.peek()
	if s != nil {
		q.head = (q.head + 1) % len(q.buf)
		q.n--
	}
	return s
}

// evidenceChain is the continuity finding an evidence span names for the
// send e classified: "new_root" for a send that started a trace its
// process did not receive, else none.
func evidenceChain(e report.ChainEvent) string {
	if e.Outcome == chain.NewRoot {
		return chain.NewRoot.String()
	}
	return ""
}
