package tlswatch

import (
	"fmt"
	"slices"
	"time"

	"github.com/propwatch/propwatch/internal/tlsprobe"
)

// Scanning: what files each process maps, and the table of files and
// processes kept in step with it.

// fullScan scans every process, attaches what is new, and forgets the
// processes it did not find (exited, or no TLS any more).
func (w *Watcher) fullScan() error {
	start := w.now()
	w.mu.Lock()
	// Flags of processes past the pid cap are found again by this scan.
	for _, f := range w.files {
		f.overflow = false
	}
	w.skippedFiles, w.skippedPIDs = false, false
	w.st.fullScans++
	w.mu.Unlock()
	err := w.scan.ScanEach(func(pid int, ts []*tlsprobe.Target) {
		w.apply(uint32(pid), ts)
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lastFull = start
	if err != nil {
		return fmt.Errorf("scan processes: %w", err)
	}
	now := w.now()
	for pid, p := range w.pids {
		if p.scanned.Before(start) {
			w.dropPIDLocked(pid, now)
		}
	}
	for _, f := range w.files {
		// Mapped only by processes past the pid cap, now gone.
		if len(f.pids) == 0 && !f.overflow && f.emptySince.IsZero() {
			f.emptySince = now
		}
	}
	return nil
}

// scanPID scans one process after an exec notice and applies what it
// maps, including nothing (it no longer maps what it did).
func (w *Watcher) scanPID(pid uint32) {
	ts, err := w.scan.ScanPID(int(pid))
	w.mu.Lock()
	w.st.scans++
	if err != nil {
		w.st.scansGone++
		w.dropPIDLocked(pid, w.now())
		w.mu.Unlock()
		return
	}
	w.mu.Unlock()
	w.apply(pid, ts)
}

// apply records that pid maps the TLS targets ts (its whole TLS, as of one
// scan), attaching the files not yet attached.
func (w *Watcher) apply(pid uint32, ts []*tlsprobe.Target) {
	if w.cfg.Self != 0 && pid == uint32(w.cfg.Self) {
		return
	}
	var attach []*tlsprobe.Target
	w.mu.Lock()
	if w.closed || w.off != nil {
		w.mu.Unlock()
		return
	}
	now := w.now()
	p := w.pids[pid]
	if p == nil && len(ts) > 0 {
		if len(w.pids) < w.cfg.MaxPIDs {
			p = &proc{}
			w.pids[pid] = p
		} else {
			w.st.pidsSkipped++
			w.skippedPIDs = true
		}
	}
	var ids []tlsprobe.FileID
	notReadable := false
	for _, t := range ts {
		if t.Kind == tlsprobe.KindNone {
			continue
		}
		if t.Err != nil {
			notReadable = true
			continue
		}
		if slices.Contains(ids, t.ID) {
			continue
		}
		ids = append(ids, t.ID)
		f := w.files[t.ID]
		if f == nil {
			if len(w.files) >= w.cfg.MaxFiles {
				w.st.filesSkipped++
				w.skippedFiles = true
				continue
			}
			f = &file{kind: t.Kind, path: t.Path, state: stateAttaching, pids: map[uint32]struct{}{}}
			w.files[t.ID] = f
			attach = append(attach, t)
		}
		if p != nil {
			f.pids[pid] = struct{}{}
		} else {
			f.overflow = true
		}
		f.emptySince = time.Time{}
	}
	if p != nil {
		for _, id := range p.files {
			if !slices.Contains(ids, id) {
				w.unmapLocked(id, pid, now)
			}
		}
		p.files, p.notReadable, p.scanned = ids, notReadable, now
		if len(ids) == 0 && !notReadable {
			delete(w.pids, pid)
		}
	}
	w.mu.Unlock()
	for _, t := range attach {
		w.attach(t.ID, t, false)
	}
}

// unmapLocked records that pid no longer maps file id. w.mu is held.
func (w *Watcher) unmapLocked(id tlsprobe.FileID, pid uint32, now time.Time) {
	f := w.files[id]
	if f == nil {
		return
	}
	delete(f.pids, pid)
	if len(f.pids) == 0 && f.emptySince.IsZero() {
		f.emptySince = now
	}
}

// dropPIDLocked forgets a process: it exited, or exec'd another program.
// w.mu is held.
func (w *Watcher) dropPIDLocked(pid uint32, now time.Time) {
	p := w.pids[pid]
	if p == nil {
		return
	}
	for _, id := range p.files {
		w.unmapLocked(id, pid, now)
	}
	delete(w.pids, pid)
}
