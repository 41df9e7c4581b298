package observe

import (
	"net/netip"
	"time"

	"github.com/propwatch/propwatch/internal/parse/formats"
	"github.com/propwatch/propwatch/internal/parse/pii"
	"github.com/propwatch/propwatch/internal/parse/w3c"

	"github.com/propwatch/propwatch/internal/loader"
	"github.com/propwatch/propwatch/internal/parse"
	"github.com/propwatch/propwatch/internal/parse/reason"
)

// maxReasons bounds the defect codes a queued request keeps. A request with
// more is hostile; the first ones tell its story.
const maxReasons = 16

// maxHost bounds the Host header bytes a queued request keeps for naming
// its server when that server is not a local process.
const maxHost = 128

// record is a judged request waiting to be named. It holds the verdict's
// counts and codes and the connection's identity; the only input bytes it
// keeps are the Host header's (a destination name, by the rule).
//
// It holds no pointer (no string, slice, time.Time or netip.Addr), so the
// queue of the last NameDelay's requests, tens of thousands on a busy
// host, is memory the garbage collector never scans, and filling a slot
// needs no write barrier.
type record struct {
	queued        int64 // UnixNano
	dir           loader.Direction
	tls           bool // read at a TLS library (Event.TLS)
	tgid, netns   uint32
	comm          [16]byte
	peerTGID      uint32
	peerComm      [16]byte
	local, remote addrPort
	host          [maxHost]byte
	hostLen       int
	proto         recordProto

	judged judged
}

// judged is a verdict as the queues keep it: its counts and codes, without
// a pointer. The codes are numbered by the Observer's codeTable.
type judged struct {
	tally    tally
	reasons  [maxReasons]codeID
	nreasons int
}

// addrPort is a netip.AddrPort without its pointer: the 16-byte form and
// whether it was IPv4.
type addrPort struct {
	addr [16]byte
	port uint16
	is4  bool
}

func packAddr(a netip.AddrPort) addrPort {
	return addrPort{addr: a.Addr().As16(), port: a.Port(), is4: a.Addr().Is4()}
}

func (a addrPort) unpack() netip.AddrPort {
	addr := netip.AddrFrom16(a.addr)
	if a.is4 {
		addr = addr.Unmap()
	}
	return netip.AddrPortFrom(addr, a.port)
}

// tally is the part of a parse.Verdict that aggregates and evidence spans
// read, without pointers: the codes are in judged.reasons and
// tally.contextReason.
type tally struct {
	context       parse.Context
	contextReason codeID
	formats       formats.Format
	baggage       w3c.BaggageStats
	pii           [pii.Phone + 1]int
	suspectKeys   int
	truncated     bool
	trace         parse.TraceIDs
}

func (r *record) set(ev *loader.Event, v *parse.Verdict, codes *codeTable) {
	r.dir, r.tls, r.tgid, r.netns, r.comm = ev.Direction, ev.TLS, ev.TGID, ev.NetNS, ev.Comm
	r.peerTGID, r.peerComm = ev.PeerTGID, ev.PeerComm
	r.local, r.remote = packAddr(ev.Local), packAddr(ev.Remote)
	r.hostLen = 0
	r.proto = protoHTTP
	r.judged.set(v, codes)
}

// set keeps v, numbering its codes in codes.
func (j *judged) set(v *parse.Verdict, codes *codeTable) {
	j.tally = tally{
		context:       v.Context,
		contextReason: codes.id(v.ContextReason),
		formats:       v.Formats,
		baggage:       v.Baggage,
		pii:           v.PII,
		suspectKeys:   v.SuspectKeys,
		truncated:     v.Truncated,
		trace:         v.Trace,
	}
	j.nreasons = 0
	for _, c := range v.Reasons {
		if j.nreasons == maxReasons {
			break
		}
		j.reasons[j.nreasons] = codes.id(c)
		j.nreasons++
	}
}

func (r *record) setHost(h []byte) {
	r.hostLen = copy(r.host[:], h)
}

func (r *record) queuedAt() time.Time { return time.Unix(0, r.queued) }

// verdict rebuilds the verdict into v, whose Reasons buffer it reuses.
// Findings (where PII was found) are not kept: v has none.
func (j *judged) verdict(v *parse.Verdict, codes *codeTable) *parse.Verdict {
	t := &j.tally
	reasons := v.Reasons[:0]
	for _, id := range j.reasons[:j.nreasons] {
		reasons = append(reasons, codes.code(id))
	}
	*v = parse.Verdict{
		Context:       t.context,
		ContextReason: codes.code(t.contextReason),
		Reasons:       reasons,
		Formats:       t.formats,
		Baggage:       t.baggage,
		PII:           t.pii,
		SuspectKeys:   t.suspectKeys,
		Truncated:     t.truncated,
		Trace:         t.trace,
	}
	return v
}

// codeID stands for a reason.Code in a record; 0 is the empty code.
type codeID uint16

// codeTable numbers the reason codes records hold. Codes are constants of
// the parse packages, a few dozen; the table still stops growing at its
// cap, and a code past it is kept as codeOther.
type codeTable struct {
	ids   map[reason.Code]codeID
	codes []reason.Code
}

// maxCodes bounds the codeTable.
const maxCodes = 1024

// codeOther stands for the codes past maxCodes.
const codeOther reason.Code = "other"

func (t *codeTable) id(c reason.Code) codeID {
	if c == "" {
		return 0
	}
	if t.ids == nil {
		t.ids = map[reason.Code]codeID{}
		t.codes = []reason.Code{"", codeOther}
	}
	if id, ok := t.ids[c]; ok {
		return id
	}
	if len(t.codes) >= maxCodes {
		return 1
	}
	id := codeID(len(t.codes))
	t.ids[c] = id
	t.codes = append(t.codes, c)
	return id
}

func (t *codeTable) code(id codeID) reason.Code {
	if int(id) < len(t.codes) {
		return t.codes[id]
	}
	return ""
}

// queue is a FIFO of records that grows up to a cap and then reuses its
// slots, so that steady traffic allocates nothing.
type queue struct {
	buf     []record
	head, n int
	max     int
}

func (q *queue) init(max int) {
	q.max = max
	q.buf = make([]record, min(max, 1024))
}

// push returns a slot at the tail stamped with now, or nil when full.
func (q *queue) push(now time.Time) *record {
	if q.n == len(q.buf) {
		if len(q.buf) >= q.max {
			return nil
		}
		grown := make([]record, min(2*len(q.buf), q.max))
		for i := 0; i < q.n; i++ {
			grown[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = grown, 0
	}
	r := &q.buf[(q.head+q.n)%len(q.buf)]
	q.n++
	r.queued = now.UnixNano()
	return r
}

// peek returns the oldest record, or nil.
func (q *queue) peek() *record {
	if q.n == 0 {
		return nil
	}
	return &q.buf[q.head]
}

// pop removes and returns the oldest record, valid until the next push.
func (q *queue) pop() *record {
	r := q.peek()
	if r != nil {
		q.head = (q.head + 1) % len(q.buf)
		q.n--
	}
	return r
}
