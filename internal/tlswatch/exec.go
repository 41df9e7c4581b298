package tlswatch

import (
	"sync"
	"time"

	"github.com/propwatch/propwatch/internal/loader"
)

// readProcs follows the exec and exit notices until the source closes.
func (w *Watcher) readProcs() {
	var ev loader.ProcEvent
	for {
		if err := w.cfg.Procs.ReadProc(&ev); err != nil {
			// Closed (os.ErrClosed) or broken: the full scans go on.
			w.mu.Lock()
			closed := w.closed
			w.mu.Unlock()
			if !closed {
				w.log.Debug("TLS process notices stopped", "err", err)
			}
			return
		}
		w.notice(ev)
	}
}

// notice handles one exec or exit notice.
func (w *Watcher) notice(ev loader.ProcEvent) {
	w.mu.Lock()
	if w.closed || w.off != nil {
		w.mu.Unlock()
		return
	}
	// Either way the program the process ran is gone; an exec's new
	// program is scanned by the queue.
	w.dropPIDLocked(ev.TGID, w.now())
	if ev.Exec {
		w.st.execs++
	} else {
		w.st.exits++
	}
	w.mu.Unlock()
	if ev.Exec {
		w.exec.add(ev.TGID)
	} else {
		w.exec.remove(ev.TGID)
	}
}

// pending is one exec'd process waiting for its scans.
type pending struct {
	pid   uint32
	start time.Time   // when the notice came
	stage int         // the next scan: an index into the delays
	timer *time.Timer // fires the next scan
}

// execQueue schedules the scans of exec'd processes at fixed delays after
// their notice. At most max processes wait at once; a notice past that is
// dropped and counted (the next full scan finds the program). Each waiting
// process has one timer, which hands it to a bounded channel that the
// workers drain: goroutines and memory are bounded by max.
type execQueue struct {
	w      *Watcher
	delays []time.Duration
	max    int
	ready  chan *pending

	mu      sync.Mutex
	pending map[uint32]*pending
	closed  bool
}

func newExecQueue(w *Watcher, max int, delays []time.Duration) *execQueue {
	return &execQueue{w: w, delays: delays, max: max, ready: make(chan *pending, max), pending: map[uint32]*pending{}}
}

// add schedules the scans of pid, which just exec'd; a pid already waiting
// starts over (it exec'd again).
func (q *execQueue) add(pid uint32) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	if old := q.pending[pid]; old != nil {
		old.timer.Stop()
		delete(q.pending, pid)
	} else if len(q.pending) >= q.max {
		q.w.countDropped()
		return
	}
	p := &pending{pid: pid, start: time.Now()}
	q.pending[pid] = p
	q.armLocked(p)
}

// armLocked sets p's timer for its next stage. q.mu is held.
func (q *execQueue) armLocked(p *pending) {
	d := time.Until(p.start.Add(q.delays[p.stage]))
	p.timer = time.AfterFunc(max(d, 0), func() {
		// One timer per waiting process and a channel as large as the
		// table: this send does not block.
		select {
		case q.ready <- p:
		default:
		}
	})
}

// remove forgets pid: it exited.
func (q *execQueue) remove(pid uint32) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if p := q.pending[pid]; p != nil {
		p.timer.Stop()
		delete(q.pending, pid)
	}
}

// work runs the scans handed over until stop closes.
func (q *execQueue) work(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case p := <-q.ready:
			q.mu.Lock()
			current := q.pending[p.pid] == p && !q.closed
			q.mu.Unlock()
			if !current {
				continue // exited or exec'd again since
			}
			q.w.scanPID(p.pid)
			q.mu.Lock()
			if q.pending[p.pid] == p && !q.closed {
				if p.stage++; p.stage < len(q.delays) {
					q.armLocked(p)
				} else {
					delete(q.pending, p.pid)
				}
			}
			q.mu.Unlock()
		}
	}
}

// close stops every timer and takes no more notices.
func (q *execQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	for pid, p := range q.pending {
		p.timer.Stop()
		delete(q.pending, pid)
	}
}

// len returns how many processes wait for scans.
func (q *execQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// countDropped counts an exec notice dropped at the queue's cap.
func (w *Watcher) countDropped() {
	w.mu.Lock()
	w.st.execDropped++
	w.mu.Unlock()
}
