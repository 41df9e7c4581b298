package tlswatch

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/propwatch/propwatch/internal/loader"
	"github.com/propwatch/propwatch/internal/tlsprobe"
)

// Attacher attaches one of the loader's TLS programs at a file offset of
// the file at path (a uretprobe when prog.Return()); Close detaches it.
// *loader.Loader is one.
type Attacher interface {
	AttachUprobe(path string, offset uint64, prog loader.TLSProgram) (io.Closer, error)
}

// Procs delivers the kernel's notices of programs started and processes
// ended; ReadProc blocks for the next and returns an error (wrapping
// os.ErrClosed) once the source is closed. *loader.Loader is one.
type Procs interface {
	ReadProc(ev *loader.ProcEvent) error
}

// Scanner finds the TLS targets of processes; *tlsprobe.Scanner is one.
type Scanner interface {
	ScanEach(fn func(pid int, targets []*tlsprobe.Target)) error
	ScanPID(pid int) ([]*tlsprobe.Target, error)
}

// Defaults for [Config].
const (
	// DefaultMaxFiles caps the files attached at once; a node rarely has
	// more than a few dozen distinct libssl and TLS executables.
	DefaultMaxFiles = 1024
	// DefaultMaxPIDs caps the processes tracked as mapping a TLS file.
	DefaultMaxPIDs = 16384
	// DefaultMaxPending caps the exec notices whose rescans are pending.
	DefaultMaxPending = 1024
	// DefaultSweepInterval is how often files nobody maps are looked for.
	DefaultSweepInterval = 3 * time.Second
	// DefaultGrace is how long a file nobody maps stays attached: the
	// next run of a short-lived program finds it still there.
	DefaultGrace = 5 * time.Second
	// DefaultFullScanInterval is how often all of procfs is scanned even
	// when no file waits to be detached: forks (no exec notice), libssl
	// loaded with dlopen after the first half second, notices lost.
	DefaultFullScanInterval = 30 * time.Second
	// DefaultWorkers is the goroutines that run exec scans.
	DefaultWorkers = 2
)

// DefaultRescanDelays are when, after an exec notice, the new program's
// maps are scanned: the notice comes at the end of execve, before the
// dynamic loader has mapped the libraries.
var DefaultRescanDelays = []time.Duration{0, 5 * time.Millisecond, 25 * time.Millisecond, 100 * time.Millisecond, 500 * time.Millisecond}

// Config configures a [Watcher]. Attacher is required; zero values elsewhere
// take the defaults.
type Config struct {
	// Attacher attaches the programs.
	Attacher Attacher
	// Procs delivers exec and exit notices; nil leaves the periodic full
	// scans alone to find new programs and let go of old ones.
	Procs Procs
	// Scanner finds targets; nil makes a tlsprobe.Scanner on ProcRoot.
	Scanner Scanner
	// ProcRoot is where procfs is mounted; default /proc.
	ProcRoot string
	// HostRoot is the root the host's library directories are read under;
	// default ProcRoot/1/root (the host's root in a container that shares
	// the host's pid namespace), or / when that cannot be read.
	HostRoot string
	// LibDirs are the library directories under HostRoot whose libssl
	// files are attached at Start (path.Match patterns allowed); nil means
	// DefaultLibDirs, an empty slice none.
	LibDirs []string
	// MaxFiles, MaxPIDs and MaxPending are the tables' caps.
	MaxFiles, MaxPIDs, MaxPending int
	// RescanDelays are when an exec'd program is scanned, after the notice.
	RescanDelays []time.Duration
	// SweepInterval, Grace and FullScanInterval time the sweep.
	SweepInterval, Grace, FullScanInterval time.Duration
	// Workers run the exec scans.
	Workers int
	// Self is a process whose TLS is neither attached nor tracked:
	// propwatch's own (os.Getpid()), whose OTLP and Kubernetes clients are
	// not the host's traffic. Another process mapping the same file still
	// gets it attached. 0: none.
	Self int
	// Log receives the watcher's lines; nil discards them.
	Log *slog.Logger
}

// DefaultLibDirs are where distributions install shared libraries: the
// multiarch directories (/usr/lib/x86_64-linux-gnu) and the plain ones,
// /usr first: where /lib is a link to /usr/lib, a file is named by its
// /usr path.
var DefaultLibDirs = []string{"/usr/lib/*-linux-*", "/usr/lib", "/usr/lib64", "/lib/*-linux-*", "/lib", "/lib64"}

// fileState is where a file stands with its probes.
type fileState uint8

const (
	// stateAttaching: one goroutine is attaching; others only add pids.
	stateAttaching fileState = iota
	// stateAttached: every probe of the file is attached.
	stateAttached
	// stateFailed: an attach failed (not for lack of privilege); not tried
	// again until the file is forgotten (no process maps it).
	stateFailed
)

// file is one TLS file (device and inode) and its probes.
type file struct {
	kind  tlsprobe.Kind
	path  string // as the process that first mapped it sees it: debug logs only
	state fileState
	links []io.Closer
	// pids are the tracked processes that map the file.
	pids map[uint32]struct{}
	// overflow: a process past the pid cap maps it, so an empty pids is
	// not proof nobody does; cleared by the next full scan.
	overflow bool
	// pinned: a host library, attached at Start and kept until Close.
	pinned bool
	// emptySince is when pids became empty; zero while some pid maps it.
	emptySince time.Time
}

// proc is one tracked process: it maps a TLS file.
type proc struct {
	// files are the readable TLS files it maps, attached or not.
	files []tlsprobe.FileID
	// notReadable: it maps TLS that cannot be read (a coverage gap).
	notReadable bool
	// scanned is when its maps were last read.
	scanned time.Time
}

// Watcher attaches the TLS programs to the TLS files processes map and
// detaches them when no process maps them any more. It is safe for
// concurrent use.
type Watcher struct {
	cfg   Config
	att   Attacher
	scan  Scanner
	log   *slog.Logger
	now   func() time.Time
	errs  *reasons
	exec  *execQueue
	stop  chan struct{}
	wg    sync.WaitGroup
	start sync.Once

	mu       sync.Mutex
	files    map[tlsprobe.FileID]*file
	pids     map[uint32]*proc
	closed   bool
	off      error // why capture was turned off
	lastFull time.Time
	// skippedFiles and skippedPIDs: a file or process was skipped at its
	// table's cap since the last full scan, which a freed slot can take.
	skippedFiles, skippedPIDs bool
	st                        counters
}

// New returns a Watcher for cfg; nothing is attached until Start.
func New(cfg Config) (*Watcher, error) {
	if cfg.Attacher == nil {
		return nil, errors.New("tlswatch: no Attacher")
	}
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = tlsprobe.DefaultProcRoot
	}
	if cfg.LibDirs == nil {
		cfg.LibDirs = DefaultLibDirs
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.MaxFiles, DefaultMaxFiles)
	def(&cfg.MaxPIDs, DefaultMaxPIDs)
	def(&cfg.MaxPending, DefaultMaxPending)
	def(&cfg.Workers, DefaultWorkers)
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur(&cfg.SweepInterval, DefaultSweepInterval)
	defDur(&cfg.Grace, DefaultGrace)
	defDur(&cfg.FullScanInterval, DefaultFullScanInterval)
	if len(cfg.RescanDelays) == 0 {
		cfg.RescanDelays = DefaultRescanDelays
	}
	if !slices.IsSorted(cfg.RescanDelays) {
		return nil, errors.New("tlswatch: RescanDelays must be in increasing order")
	}
	if cfg.Scanner == nil {
		cfg.Scanner = tlsprobe.NewScanner(tlsprobe.Config{ProcRoot: cfg.ProcRoot})
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{
		cfg:   cfg,
		att:   cfg.Attacher,
		scan:  cfg.Scanner,
		log:   cfg.Log,
		now:   time.Now,
		errs:  newReasons(),
		stop:  make(chan struct{}),
		files: map[tlsprobe.FileID]*file{},
		pids:  map[uint32]*proc{},
	}
	w.exec = newExecQueue(w, cfg.MaxPending, cfg.RescanDelays)
	return w, nil
}

// Start attaches the host's libssl files, then the TLS files of every
// running process, and starts following exec and exit notices and the
// periodic sweep. It returns when the first pass is done. Errors attaching
// a file are counted in Stats and logged once per reason, not returned; an
// attach refused for lack of privilege turns capture off ([Watcher.Err]).
func (w *Watcher) Start() error {
	first := false
	w.start.Do(func() { first = true })
	if !first {
		return errors.New("tlswatch: started twice")
	}
	if w.cfg.Procs != nil {
		// Notices are followed from the start: a program started during
		// the first pass is scanned as it starts.
		go w.readProcs()
	}
	w.spawn(w.cfg.Workers, func() { w.exec.work(w.stop) })
	w.attachHostLibs()
	err := w.fullScan()
	w.spawn(1, w.sweepLoop)
	return err
}

// spawn starts n goroutines running fn that Close waits for, unless Close
// has begun.
func (w *Watcher) spawn(n int, fn func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	for range n {
		w.wg.Add(1)
		go func() { defer w.wg.Done(); fn() }()
	}
}

// Err returns why TLS capture was turned off, or nil while it is on.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.off
}

// Readable says whether a process is known to use TLS (it maps a TLS
// library or is a TLS executable), and if so whether all of its TLS is
// read: false when a file it maps cannot be read (a stripped or obfuscated
// Go binary, OpenSSL without a read or a write function) or is not
// attached (past the cap, attach failed). Processes without TLS, or not
// scanned yet, are not known.
func (w *Watcher) Readable(tgid uint32) (known, readable bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.pids[tgid]
	if p == nil || w.off != nil {
		return false, false
	}
	if p.notReadable {
		return true, false
	}
	for _, id := range p.files {
		if f := w.files[id]; f == nil || f.state != stateAttached {
			return true, false
		}
	}
	return true, true
}

// Close detaches every probe and stops the watcher's goroutines, but for
// the one blocked in Procs.ReadProc, which returns when the source closes
// (the loader, after the watcher). Nothing stays attached.
func (w *Watcher) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	links := w.dropAllLocked()
	w.mu.Unlock()
	close(w.stop)
	w.exec.close()
	w.wg.Wait()
	return closeAll(links)
}

// dropAllLocked forgets every file and process and returns the probes to
// close. w.mu is held.
func (w *Watcher) dropAllLocked() []io.Closer {
	var links []io.Closer
	for _, f := range w.files {
		links = append(links, f.links...)
		w.st.uprobes -= len(f.links)
		if f.state == stateAttached {
			w.st.detached++
		}
	}
	clear(w.files)
	clear(w.pids)
	return links
}

// closeAll closes every link and returns the first error.
func closeAll(links []io.Closer) error {
	var first error
	for _, l := range links {
		if err := l.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

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

// probe is one program at one offset.
type probe struct {
	prog loader.TLSProgram
	off  uint64
}

// openSSLProbes maps each OpenSSL function to the programs that go on it,
// in the order they are attached.
var openSSLProbes = []struct {
	fn    string
	progs []loader.TLSProgram
}{
	{tlsprobe.SymSSLSetFD, []loader.TLSProgram{loader.SSLSetFD}},
	{tlsprobe.SymSSLSetRFD, []loader.TLSProgram{loader.SSLSetFD}},
	{tlsprobe.SymSSLSetWFD, []loader.TLSProgram{loader.SSLSetFD}},
	{tlsprobe.SymSSLFree, []loader.TLSProgram{loader.SSLFree}},
	{tlsprobe.SymSSLWrite, []loader.TLSProgram{loader.SSLWriteRet, loader.SSLWrite}},
	{tlsprobe.SymSSLWriteEx, []loader.TLSProgram{loader.SSLWriteRet, loader.SSLWriteEx}},
	{tlsprobe.SymSSLRead, []loader.TLSProgram{loader.SSLReadRet, loader.SSLRead}},
	{tlsprobe.SymSSLReadEx, []loader.TLSProgram{loader.SSLReadRet, loader.SSLReadEx}},
}

// probes lists the programs and offsets for a readable target: the
// OpenSSL functions it defines (the _ex variants, SSL_set_*fd and SSL_free
// are optional), or Go's Write at entry and Read at entry and at each RET.
func probes(in tlsprobe.Inspection) []probe {
	var out []probe
	switch {
	case in.OpenSSL != nil:
		for _, p := range openSSLProbes {
			s, ok := in.OpenSSL.Found[p.fn]
			if !ok {
				continue
			}
			for _, prog := range p.progs {
				out = append(out, probe{prog, s.Offset})
			}
		}
	case in.Go != nil:
		if fn, ok := in.Go.Funcs[tlsprobe.GoConnWrite]; ok {
			out = append(out, probe{loader.GoTLSWrite, fn.Offset})
		}
		if fn, ok := in.Go.Funcs[tlsprobe.GoConnRead]; ok {
			for _, r := range fn.Returns {
				out = append(out, probe{loader.GoTLSReadRet, r})
			}
			out = append(out, probe{loader.GoTLSRead, fn.Offset})
		}
	}
	return out
}

// attach attaches every probe of t, whose file entry apply or the host
// library pass made in stateAttaching. All or nothing: a file is never
// half attached (an entry probe without its return would keep state that
// nothing takes).
func (w *Watcher) attach(id tlsprobe.FileID, t *tlsprobe.Target, pinned bool) {
	ps := probes(t.Inspection)
	var links []io.Closer
	var err error
	for _, p := range ps {
		var l io.Closer
		l, err = w.att.AttachUprobe(t.OpenPath, p.off, p.prog)
		if err != nil {
			err = &AttachError{Kind: t.Kind, Prog: p.prog, Offset: p.off, Path: t.OpenPath, Err: err}
			break
		}
		links = append(links, l)
	}
	if err == nil && len(ps) == 0 {
		err = &AttachError{Kind: t.Kind, Path: t.OpenPath, Err: errNoProbes}
	}

	w.mu.Lock()
	f := w.files[id]
	switch {
	case w.closed || w.off != nil || f == nil:
		// Closed or turned off meanwhile.
		w.mu.Unlock()
		closeAll(links)
		return
	case err == nil:
		f.links, f.state, f.pinned = links, stateAttached, f.pinned || pinned
		w.st.uprobes += len(links)
		w.st.attached++
		w.mu.Unlock()
		// The file by its identity: a path names a user's directories
		// and programs, which stay out of the log but at debug level.
		w.log.Info("TLS file attached", "kind", t.Kind.String(), "file", fileKey(id), "uprobes", len(links), "host_library", pinned)
		w.log.Debug("TLS file path", "file", fileKey(id), "path", t.Path)
		return
	}
	closeAll(links)
	reason := classify(err)
	switch {
	case reason == reasonPermission:
		why := permissionAdvice(err)
		w.off = why
		links := w.dropAllLocked()
		w.mu.Unlock()
		closeAll(links)
		w.exec.close()
		w.log.Warn("TLS capture off: " + why.Error())
		return
	case reason == reasonGone:
		// The process left between its scan and the attach: the next
		// process that maps the file attaches it.
		delete(w.files, id)
		w.st.attachGone++
		w.mu.Unlock()
		return
	}
	f.state = stateFailed
	first := w.errs.add(reason)
	w.mu.Unlock()
	if first {
		// The path is a binary's, but it can be a user's file in a
		// container: only at debug.
		ae, _ := err.(*AttachError)
		w.log.Warn("TLS attach failed; counted by reason, logged once per reason",
			"reason", reason, "kind", t.Kind.String(), "program", string(ae.Prog), "err", errors.Unwrap(err))
	}
	w.log.Debug("TLS attach failed", "reason", reason, "path", t.Path, "open_path", filepath.Clean(t.OpenPath), "err", err)
}

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

// fileKey names a file in the log by its device and inode, as
// "DEV:INO" (stat(2)'s st_dev and st_ino, in decimal).
func fileKey(id tlsprobe.FileID) string {
	return strconv.FormatUint(id.Dev, 10) + ":" + strconv.FormatUint(id.Ino, 10)
}
