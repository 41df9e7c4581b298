package tlswatch

import (
	"errors"
	"io"
	"log/slog"
	"slices"
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
