package tlswatch

import (
	"io"
	"time"
)

// Sweeping: letting go of files no process maps any more.

// sweepLoop runs sweep every SweepInterval until Close.
func (w *Watcher) sweepLoop() {
	tick := time.NewTicker(w.cfg.SweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-tick.C:
			w.sweep()
		}
	}
}

// sweep detaches the files no process has mapped for Grace. It scans all
// of procfs first when it is about to detach one (a forked child, which
// makes no exec notice, may still map what its parent did; exit notices can
// be lost), when a table that was full has room again, and every
// FullScanInterval; and again after detaching when a file was skipped at
// the cap, so that the freed slot is taken now.
func (w *Watcher) sweep() {
	w.mu.Lock()
	if w.closed || w.off != nil {
		w.mu.Unlock()
		return
	}
	now := w.now()
	full := now.Sub(w.lastFull) >= w.cfg.FullScanInterval || w.candidatesLocked(now) > 0 ||
		w.skippedPIDs && len(w.pids) < w.cfg.MaxPIDs || w.skippedFiles && len(w.files) < w.cfg.MaxFiles
	w.mu.Unlock()
	if full {
		if err := w.fullScan(); err != nil {
			w.log.Debug("TLS sweep", "err", err)
			return
		}
	}
	var links []io.Closer
	w.mu.Lock()
	now = w.now()
	for id, f := range w.files {
		if w.expiredLocked(f, now) {
			links = append(links, f.links...)
			w.st.uprobes -= len(f.links)
			if f.state == stateAttached {
				w.st.detached++
			}
			delete(w.files, id)
		}
	}
	w.st.sweeps++
	again := len(links) > 0 && w.skippedFiles
	w.mu.Unlock()
	if err := closeAll(links); err != nil {
		w.log.Debug("TLS detach", "err", err)
	}
	if again {
		if err := w.fullScan(); err != nil {
			w.log.Debug("TLS sweep", "err", err)
		}
	}
}

// expiredLocked reports whether f is to be detached: not a host library,
// no process has mapped it for Grace, and none past the pid cap may.
func (w *Watcher) expiredLocked(f *file, now time.Time) bool {
	return !f.pinned && !f.overflow && f.state != stateAttaching && len(f.pids) == 0 &&
		!f.emptySince.IsZero() && now.Sub(f.emptySince) >= w.cfg.Grace
}

// candidatesLocked counts the files expiredLocked would detach now.
func (w *Watcher) candidatesLocked(now time.Time) int {
	n := 0
	for _, f := range w.files {
		if w.expiredLocked(f, now) {
			n++
		}
	}
	return n
}
