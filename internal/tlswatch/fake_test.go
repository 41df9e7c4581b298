package tlswatch

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/propwatch/propwatch/internal/loader"
	"github.com/propwatch/propwatch/internal/tlsprobe"
)

// fakeAttacher records attaches and detaches; fail, when set, decides an
// attach's error.
type fakeAttacher struct {
	mu       sync.Mutex
	live     map[attachKey]int
	attaches int
	detaches int
	fail     func(path string, off uint64, p loader.TLSProgram) error
}

type attachKey struct {
	path string
	off  uint64
	prog loader.TLSProgram
}

func newFakeAttacher() *fakeAttacher { return &fakeAttacher{live: map[attachKey]int{}} }

func (a *fakeAttacher) AttachUprobe(path string, off uint64, p loader.TLSProgram) (io.Closer, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail != nil {
		if err := a.fail(path, off, p); err != nil {
			return nil, err
		}
	}
	k := attachKey{path, off, p}
	a.live[k]++
	a.attaches++
	return &fakeLink{a: a, k: k}, nil
}

type fakeLink struct {
	a    *fakeAttacher
	k    attachKey
	once sync.Once
}

func (l *fakeLink) Close() error {
	closed := false
	l.once.Do(func() {
		closed = true
		l.a.mu.Lock()
		defer l.a.mu.Unlock()
		l.a.detaches++
		if l.a.live[l.k]--; l.a.live[l.k] == 0 {
			delete(l.a.live, l.k)
		}
	})
	if !closed {
		return fmt.Errorf("link %v closed twice", l.k)
	}
	return nil
}

// counts returns attaches, detaches and probes live now.
func (a *fakeAttacher) counts() (attaches, detaches, live int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, n := range a.live {
		live += n
	}
	return a.attaches, a.detaches, live
}

// livePaths returns the paths with probes attached, sorted, each once.
func (a *fakeAttacher) livePaths() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var ps []string
	for k := range a.live {
		if !slices.Contains(ps, k.path) {
			ps = append(ps, k.path)
		}
	}
	sort.Strings(ps)
	return ps
}

// fakeScanner answers scans from a table of processes and their targets.
type fakeScanner struct {
	mu    sync.Mutex
	procs map[int][]*tlsprobe.Target
	scans map[int]int
}

func newFakeScanner() *fakeScanner {
	return &fakeScanner{procs: map[int][]*tlsprobe.Target{}, scans: map[int]int{}}
}

// set makes pid map the files of targets (none: a process without TLS);
// each target is copied with pid's PID and an OpenPath of its own.
func (s *fakeScanner) set(pid int, targets ...*tlsprobe.Target) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ts []*tlsprobe.Target
	for _, t := range targets {
		c := *t
		c.PID, c.OpenPath = pid, fmt.Sprintf("/proc/%d/root%s", pid, t.Path)
		ts = append(ts, &c)
	}
	s.procs[pid] = ts
}

// exit removes pid.
func (s *fakeScanner) exit(pid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.procs, pid)
	delete(s.scans, pid)
}

func (s *fakeScanner) ScanPID(pid int) ([]*tlsprobe.Target, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scans[pid]++
	ts, ok := s.procs[pid]
	if !ok {
		return nil, fmt.Errorf("pid %d: %w", pid, tlsprobe.ErrProcessGone)
	}
	return ts, nil
}

func (s *fakeScanner) ScanEach(fn func(int, []*tlsprobe.Target)) error {
	s.mu.Lock()
	pids := make([]int, 0, len(s.procs))
	for pid := range s.procs {
		pids = append(pids, pid)
	}
	s.mu.Unlock()
	sort.Ints(pids)
	for _, pid := range pids {
		if ts, err := s.ScanPID(pid); err == nil && len(ts) > 0 {
			fn(pid, ts)
		}
	}
	return nil
}

func (s *fakeScanner) scanCount(pid int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scans[pid]
}

// fakeProcs hands out the notices sent on its channel.
type fakeProcs struct{ ch chan loader.ProcEvent }

func newFakeProcs() *fakeProcs { return &fakeProcs{ch: make(chan loader.ProcEvent, 64)} }

func (p *fakeProcs) ReadProc(ev *loader.ProcEvent) error {
	e, ok := <-p.ch
	if !ok {
		return fmt.Errorf("proc notices: %w", os.ErrClosed)
	}
	*ev = e
	return nil
}

// Targets of each kind. Offsets are distinct per function so attaches can
// be told apart.
var (
	libA = &tlsprobe.Target{ID: tlsprobe.FileID{Dev: 1, Ino: 10}, Path: "/usr/lib/libssl.so.3",
		Inspection: tlsprobe.Inspection{Kind: tlsprobe.KindOpenSSLLib, OpenSSL: sslSyms(
			tlsprobe.SymSSLWrite, tlsprobe.SymSSLWriteEx, tlsprobe.SymSSLRead, tlsprobe.SymSSLReadEx,
			tlsprobe.SymSSLSetFD, tlsprobe.SymSSLSetRFD, tlsprobe.SymSSLSetWFD, tlsprobe.SymSSLFree)}}
	// libOld is an OpenSSL 1.1.0: no _ex functions, no SSL_free found.
	libOld = &tlsprobe.Target{ID: tlsprobe.FileID{Dev: 1, Ino: 11}, Path: "/usr/lib/libssl.so.1.1",
		Inspection: tlsprobe.Inspection{Kind: tlsprobe.KindOpenSSLLib, OpenSSL: sslSyms(
			tlsprobe.SymSSLWrite, tlsprobe.SymSSLRead, tlsprobe.SymSSLSetFD)}}
	nodeExe = &tlsprobe.Target{ID: tlsprobe.FileID{Dev: 1, Ino: 12}, Path: "/usr/bin/node",
		Inspection: tlsprobe.Inspection{Kind: tlsprobe.KindOpenSSLExe, OpenSSL: sslSyms(
			tlsprobe.SymSSLWrite, tlsprobe.SymSSLRead, tlsprobe.SymSSLSetFD, tlsprobe.SymSSLFree)}}
	goExe = &tlsprobe.Target{ID: tlsprobe.FileID{Dev: 1, Ino: 13}, Path: "/srv/app",
		Inspection: tlsprobe.Inspection{Kind: tlsprobe.KindGo, Go: &tlsprobe.GoTLS{GoVersion: "go1.26.8", Arch: "amd64", Funcs: map[string]tlsprobe.GoFunc{
			tlsprobe.GoConnWrite: {Symbol: tlsprobe.Symbol{Name: tlsprobe.GoConnWrite, Offset: 0x1000}, Body: 0x1011, Returns: []uint64{0x1040}},
			tlsprobe.GoConnRead:  {Symbol: tlsprobe.Symbol{Name: tlsprobe.GoConnRead, Offset: 0x2000}, Body: 0x2011, Returns: []uint64{0x2030, 0x2070, 0x20a0}},
		}}}}
	// goStripped is a Go binary whose functions cannot be found.
	goStripped = &tlsprobe.Target{ID: tlsprobe.FileID{Dev: 1, Ino: 14}, Path: "/srv/obfuscated",
		Inspection: tlsprobe.Inspection{Kind: tlsprobe.KindGo, Go: &tlsprobe.GoTLS{GoVersion: "go1.26.8"}},
		Err:        &tlsprobe.NotReadableError{Kind: tlsprobe.KindGo, Reason: tlsprobe.ReasonSymbols, Err: fmt.Errorf("no .gopclntab")}}
)

// Probes per file: libA 3 set_fd + free + 2 per write/read function;
// libOld set_fd + 2 + 2; node 1 + 1 + 2 + 2; go write + read + 3 returns.
const (
	probesLibA   = 12
	probesLibOld = 5
	probesNode   = 6
	probesGo     = 5
)

// sslSyms returns OpenSSL symbols with the functions named, each at an
// offset of its own.
func sslSyms(names ...string) *tlsprobe.OpenSSLSymbols {
	s := &tlsprobe.OpenSSLSymbols{Found: map[string]tlsprobe.Symbol{}}
	for _, n := range tlsprobe.OpenSSLFuncs {
		if slices.Contains(names, n) {
			off := uint64(0x10000 + 0x100*slices.Index(tlsprobe.OpenSSLFuncs, n))
			s.Found[n] = tlsprobe.Symbol{Name: n, Offset: off}
		} else {
			s.Missing = append(s.Missing, n)
		}
	}
	return s
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuffer is a bytes.Buffer for a logger written from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// count returns how many log lines contain s.
func (b *syncBuffer) count(s string) int {
	n := 0
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// rig is a Watcher on fakes, with no host libraries, a fake clock, and
// sweeps run by the test.
type rig struct {
	w    *Watcher
	att  *fakeAttacher
	scan *fakeScanner
	clk  *fakeClock
	log  *syncBuffer
}

func newRig(t testing.TB, cfg Config) *rig {
	t.Helper()
	r := &rig{att: newFakeAttacher(), scan: newFakeScanner(), clk: &fakeClock{t: time.Unix(1e9, 0)}, log: &syncBuffer{}}
	cfg.Attacher, cfg.Scanner = r.att, r.scan
	if cfg.LibDirs == nil {
		cfg.LibDirs = []string{}
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = time.Hour // the test calls sweep
	}
	if cfg.RescanDelays == nil {
		cfg.RescanDelays = []time.Duration{0, time.Millisecond}
	}
	cfg.Log = slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.now = r.clk.now
	r.w = w
	t.Cleanup(func() { w.Close() })
	return r
}

// want checks the attacher's counts.
func (r *rig) want(t testing.TB, attaches, detaches, live int) {
	t.Helper()
	a, d, l := r.att.counts()
	if a != attaches || d != detaches || l != live {
		t.Fatalf("attaches %d, detaches %d, live %d; want %d, %d, %d\nstats %+v", a, d, l, attaches, detaches, live, r.w.Stats())
	}
}

// eventually waits up to 5 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
