package observe

import (
	"net/netip"
	"time"

	"github.com/propwatch/propwatch/internal/loader"
)

// dedupeKey names one request on one connection: its client and server
// ends, the network namespace for loopback (whose addresses repeat in every
// namespace), whether it was read at a TLS library (so that an end's TLS
// plaintext never consumes the match of the other end's socket bytes:
// they are different pairs), and a hash of the head's bytes. A keep-alive
// connection that repeats a request repeats the key; the counts in
// dedupeEntry handle that.
type dedupeKey struct {
	client, server netip.AddrPort
	netns          uint32
	tls            bool
	sum            uint64
}

// dedupeEntry counts the observations of a key not yet matched by one from
// the other end.
type dedupeEntry struct{ sent, recv uint32 }

// dedupeWindow is how long an observation waits for its other end. Both
// ends of a loopback request are seen within microseconds; the window only
// has to outlast the ring buffer's lag.
const dedupeWindow = 5 * time.Second

// dedupe counts a request seen at both ends of a local connection once:
// whichever end is seen first counts it, and the other end's observation
// consumes the match. Unmatched observations (the peer's traffic was not
// seen) age out in two generations, so the table is bounded by time and
// by max.
type dedupe struct {
	cur, prev map[dedupeKey]dedupeEntry
	rotated   time.Time
	max       int
}

func (d *dedupe) init(max int) {
	d.max = max
	d.cur = make(map[dedupeKey]dedupeEntry)
	d.prev = make(map[dedupeKey]dedupeEntry)
}

// first reports whether this observation of k, made in direction dir by
// the process at one end, is the first of its request.
func (d *dedupe) first(k dedupeKey, dir loader.Direction, now time.Time) bool {
	if len(d.cur) >= d.max {
		d.rotate(now)
	}
	e, ok := d.cur[k]
	if !ok {
		if e, ok = d.prev[k]; ok {
			delete(d.prev, k)
		}
	}
	mine, theirs := &e.sent, &e.recv
	if dir == loader.Ingress {
		mine, theirs = &e.recv, &e.sent
	}
	if *theirs > 0 {
		*theirs--
		if e == (dedupeEntry{}) {
			delete(d.cur, k)
		} else {
			d.cur[k] = e
		}
		return false
	}
	*mine++
	d.cur[k] = e
	return true
}

// expire drops the older generation once per window.
func (d *dedupe) expire(now time.Time) {
	if now.Sub(d.rotated) >= dedupeWindow {
		d.rotate(now)
	}
}

func (d *dedupe) rotate(now time.Time) {
	clear(d.prev)
	d.prev, d.cur = d.cur, d.prev
	d.rotated = now
}

// len is the number of unmatched observations remembered.
func (d *dedupe) len() int { return len(d.cur) + len(d.prev) }
