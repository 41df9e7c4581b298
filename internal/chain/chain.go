// Package chain tells where a trace splits inside a local service. For each
// local process it remembers the trace ids the process received with valid
// context (HTTP requests it served, Kafka records it fetched) for a window,
// and classifies each request or record the process sends: Continued when
// it carries a trace id the process received, NewRoot when it carries
// valid context of another trace, Dropped when it carries none, and None
// when the process received no traced input in the window, since an entry
// point or a cron job starts traces legitimately.
//
// The memory is bounded: a cap per process and a cap in all, each evicting
// its least recently received id. An id evicted before its window ended
// can make a continued request look like a new root, so such evictions are
// counted (Memory.Evictions). Receive and Sent allocate nothing once the
// tables have grown; nothing here ever reaches an output but counts.
package chain

import (
	"math/rand/v2"
	"time"
	"unsafe"
)

// Outcome classifies one request or record a process sent.
type Outcome uint8

const (
	// None: the process received no traced input in the window (or the
	// request's context was invalid, which the caller counts apart): the
	// request is no evidence either way.
	None Outcome = iota
	// Continued: its trace id was received by this process in the window.
	Continued
	// NewRoot: it carries valid context of a trace this process did not
	// receive, while it did receive traced input: the trace split here.
	NewRoot
	// Dropped: it carries no context while the process received traced
	// input in the window.
	Dropped
)

// String returns "none", "continued", "new_root" or "dropped", the words
// reports and metric labels use.
func (o Outcome) String() string {
	switch o {
	case Continued:
		return "continued"
	case NewRoot:
		return "new_root"
	case Dropped:
		return "dropped"
	default:
		return "none"
	}
}

// Defaults of Config.
const (
	DefaultWindow        = 5 * time.Minute
	DefaultMaxIDs        = 1 << 19 // 524,288 ids: 20 MiB when full
	DefaultMaxPerProcess = 1 << 17 // 131,072 ids
	DefaultMaxProcesses  = 4096
)

// EntryBytes is what one remembered id costs at most when MaxIDs is a
// power of two, as the defaults are: its entry (32 bytes) and its share of
// the hash table, two 4-byte slots (the table is a power of two at least
// twice the entries; with another cap, up to four slots, 48 bytes).
const EntryBytes = 40

// Config bounds a Memory; zero fields take the defaults.
type Config struct {
	// Window is how long a received id is remembered, and how recently a
	// process must have received traced input for its sends to be
	// classified. It is counted in whole seconds, at least one.
	Window time.Duration
	// MaxIDs caps the ids remembered in all, MaxPerProcess those of one
	// process.
	MaxIDs, MaxPerProcess int
	// MaxProcesses caps the processes remembered; past it the one that
	// received last longest ago is forgotten with its ids.
	MaxProcesses int
}

// Memory remembers the trace ids local processes received. It is not safe
// for concurrent use: the observer calls it under its own lock.
type Memory struct {
	window   int64 // seconds
	maxIDs   int
	maxPer   int32
	maxProcs int
	seed     uint64
	// base is the UnixNano of second 0 of the entries' clock.
	base int64

	entries []entry
	free    int32 // a free entry, linked through gnext; nilIdx when none
	used    int   // entries in use
	table   []int32
	mask    uint64
	// ghead is the most recently received entry of all, gtail the least.
	ghead, gtail int32

	procs    []proc
	procFree []int32
	byPID    map[uint32]int32 // pid → index in procs
	// lastPID and lastProc cache the last lookup of byPID (lastProc is
	// nilIdx when empty): the send of a request follows the receipt of
	// the one that caused it, in the same process.
	lastPID   uint32
	lastProc  int32
	evictions uint64
}

// nilIdx ends the entries' lists.
const nilIdx = -1

// entry is one remembered id. It holds no pointer, so the garbage
// collector never scans the entries, however many.
type entry struct {
	id   uint64 // the low 64 bits of the trace id
	seen uint32 // second of the last receipt
	proc int32  // index in procs
	// Links of the global and the per-process recency lists.
	gprev, gnext, pprev, pnext int32
}

// proc is one process's part of the memory.
type proc struct {
	pid        uint32
	count      int32
	head, tail int32
	// lastRecv is the second the process last received a traced input.
	lastRecv uint32
}

// New returns an empty Memory bounded by cfg.
func New(cfg Config) *Memory {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.MaxIDs <= 0 {
		cfg.MaxIDs = DefaultMaxIDs
	}
	if cfg.MaxPerProcess <= 0 {
		cfg.MaxPerProcess = DefaultMaxPerProcess
	}
	if cfg.MaxProcesses <= 0 {
		cfg.MaxProcesses = DefaultMaxProcesses
	}
	// Entries link by int32.
	cfg.MaxIDs = min(cfg.MaxIDs, 1<<30)
	cfg.MaxPerProcess = min(cfg.MaxPerProcess, cfg.MaxIDs)
	return &Memory{
		window:   max(int64((cfg.Window+time.Second-1)/time.Second), 1),
		maxIDs:   cfg.MaxIDs,
		maxPer:   int32(cfg.MaxPerProcess),
		maxProcs: cfg.MaxProcesses,
		// A random seed: trace ids are chosen by whoever sends requests,
		// and must not be able to pile up in one run of the table.
		seed:     rand.Uint64(),
		free:     nilIdx,
		ghead:    nilIdx,
		gtail:    nilIdx,
		byPID:    make(map[uint32]int32),
		lastProc: nilIdx,
	}
}

// lookup returns the index of pid's process, if it has one.
func (m *Memory) lookup(pid uint32) (int32, bool) {
	if m.lastProc != nilIdx && m.lastPID == pid {
		return m.lastProc, true
	}
	pi, ok := m.byPID[pid]
	if ok {
		m.lastPID, m.lastProc = pid, pi
	}
	return pi, ok
}

// Receive records that process pid received traced input with trace id id
// at now (UnixNano). A zero id is not remembered.
func (m *Memory) Receive(pid uint32, id [16]byte, now int64) {
	key := low64(id)
	if key == 0 {
		return
	}
	t := m.clock(now)
	pi := m.proc(pid, t)
	p := &m.procs[pi]
	p.lastRecv = max(p.lastRecv, t)
	if _, e := m.find(pi, key); e != nilIdx {
		en := &m.entries[e]
		en.seen = max(en.seen, t)
		m.unlink(e)
		m.pushFront(e)
		return
	}
	if p.count >= m.maxPer {
		m.evict(p.tail, t)
	}
	if m.used >= m.maxIDs {
		m.evict(m.gtail, t)
	}
	e := m.alloc()
	m.entries[e] = entry{id: key, seen: t, proc: pi}
	m.pushFront(e)
	m.insert(e)
	p.count++
}

// Sent classifies a request or record process pid sent at now (UnixNano):
// id is its trace id, nil when it carries no context. A request whose
// context is invalid, or valid without an id, is no evidence: the caller
// does not ask.
func (m *Memory) Sent(pid uint32, id *[16]byte, now int64) Outcome {
	pi, ok := m.lookup(pid)
	if !ok {
		return None
	}
	t := int64(m.clock(now))
	p := &m.procs[pi]
	if int64(p.lastRecv) < t-m.window {
		return None
	}
	if id == nil {
		return Dropped
	}
	if _, e := m.find(pi, low64(*id)); e != nilIdx && int64(m.entries[e].seen) >= t-m.window {
		return Continued
	}
	return NewRoot
}

// Expire forgets the ids received longer than the window before now, and
// the processes that received nothing since. It is not an eviction.
func (m *Memory) Expire(now int64) {
	cutoff := int64(m.clock(now)) - m.window
	for m.gtail != nilIdx && int64(m.entries[m.gtail].seen) < cutoff {
		m.remove(m.gtail)
	}
	for pid, pi := range m.byPID {
		if p := &m.procs[pi]; p.count == 0 && int64(p.lastRecv) < cutoff {
			m.dropProc(pid, pi)
		}
	}
}

// Evictions counts the ids forgotten before their window ended, to the
// caps: each may have turned a continued request into a new root.
func (m *Memory) Evictions() uint64 { return m.evictions }

// Len returns the ids remembered.
func (m *Memory) Len() int { return m.used }

// Processes returns the processes remembered.
func (m *Memory) Processes() int { return len(m.byPID) }

// Bytes returns the memory the tables hold (entries, hash table and
// processes), grown or not.
func (m *Memory) Bytes() int {
	return cap(m.entries)*int(unsafe.Sizeof(entry{})) + cap(m.table)*4 +
		cap(m.procs)*int(unsafe.Sizeof(proc{})) + len(m.byPID)*16
}

// low64 keys an id by its low 64 bits: a 64-bit id (B3, Datadog) is the
// low half of the 128-bit id propagators translate it to, as the engine
// compares them, so a trace received in one format continues in another.
func low64(id [16]byte) uint64 {
	var k uint64
	for _, b := range id[8:] {
		k = k<<8 | uint64(b)
	}
	return k
}

// clock converts now to the entries' seconds, starting the clock on the
// first call a window back so that a cutoff is never before second 0.
func (m *Memory) clock(now int64) uint32 {
	if m.base == 0 {
		m.base = now - (m.window+1)*int64(time.Second)
	}
	d := (now - m.base) / int64(time.Second)
	if d < 0 {
		return 0
	}
	return uint32(min(d, 1<<32-1))
}

// proc returns the index of pid's process, making one.
func (m *Memory) proc(pid uint32, t uint32) int32 {
	if pi, ok := m.lookup(pid); ok {
		return pi
	}
	if len(m.byPID) >= m.maxProcs {
		// Forget the process that received last longest ago: a scan, but
		// only when a new process arrives at a full table.
		oldest, oldestPID := int32(nilIdx), uint32(0)
		for q, qi := range m.byPID {
			// Ties go to the lower pid, so that the choice does not
			// depend on the map's order.
			lq, lo := m.procs[qi].lastRecv, uint32(0)
			if oldest != nilIdx {
				lo = m.procs[oldest].lastRecv
			}
			if oldest == nilIdx || lq < lo || (lq == lo && q < oldestPID) {
				oldest, oldestPID = qi, q
			}
		}
		for m.procs[oldest].count > 0 {
			m.evict(m.procs[oldest].tail, t)
		}
		m.dropProc(oldestPID, oldest)
	}
	var pi int32
	if n := len(m.procFree); n > 0 {
		pi = m.procFree[n-1]
		m.procFree = m.procFree[:n-1]
	} else {
		m.procs = append(m.procs, proc{})
		pi = int32(len(m.procs) - 1)
	}
	m.procs[pi] = proc{pid: pid, head: nilIdx, tail: nilIdx}
	m.byPID[pid] = pi
	return pi
}

func (m *Memory) dropProc(pid uint32, pi int32) {
	delete(m.byPID, pid)
	if m.lastProc == pi {
		m.lastProc = nilIdx
	}
	m.procs[pi] = proc{}
	m.procFree = append(m.procFree, pi)
}

// evict forgets entry e to make room, counting it when its window had not
// ended by t.
func (m *Memory) evict(e int32, t uint32) {
	if int64(m.entries[e].seen) >= int64(t)-m.window {
		m.evictions++
	}
	m.remove(e)
}

// remove forgets entry e.
func (m *Memory) remove(e int32) {
	m.erase(e)
	m.unlink(e)
	m.procs[m.entries[e].proc].count--
	m.entries[e].gnext = m.free
	m.free = e
	m.used--
}
