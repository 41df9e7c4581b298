package observe

import (
	"net/netip"
	"time"

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
type record struct {
	queued        time.Time
	dir           loader.Direction
	tgid, netns   uint32
	comm          [16]byte
	peerTGID      uint32
	peerComm      [16]byte
	local, remote netip.AddrPort
	host          [maxHost]byte
	hostLen       int

	v        parse.Verdict
	reasons  [maxReasons]reason.Code
	nreasons int
}

func (r *record) set(ev *loader.Event, v *parse.Verdict) {
	r.dir, r.tgid, r.netns, r.comm = ev.Direction, ev.TGID, ev.NetNS, ev.Comm
	r.peerTGID, r.peerComm = ev.PeerTGID, ev.PeerComm
	r.local, r.remote = ev.Local, ev.Remote
	r.hostLen = 0
	r.v = *v
	r.v.Reasons, r.v.Findings = nil, nil // they alias the analyzer
	r.nreasons = copy(r.reasons[:], v.Reasons)
}

func (r *record) setHost(h []byte) {
	r.hostLen = copy(r.host[:], h)
}

// verdict rebuilds the verdict. Its Reasons alias r until r is reused.
func (r *record) verdict() *parse.Verdict {
	r.v.Reasons = r.reasons[:r.nreasons]
	return &r.v
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
	r.queued = now
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
