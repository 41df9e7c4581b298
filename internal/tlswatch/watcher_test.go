package tlswatch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/propwatch/propwatch/internal/loader"
	"github.com/propwatch/propwatch/internal/tlsprobe"
)

// TestStartOncePerFile: at Start every file is attached once however many
// processes map it, with the programs its functions call for, through the
// OpenPath of a process that maps it; Close detaches all.
func TestStartOncePerFile(t *testing.T) {
	r := newRig(t, Config{})
	r.scan.set(1, libA)
	r.scan.set(2, libA, goStripped) // a stripped Go binary with cgo's libssl too: not all readable
	r.scan.set(3, goExe)
	r.scan.set(4, nodeExe)
	r.scan.set(5, libOld)
	r.scan.set(6) // no TLS
	if err := r.w.Start(); err != nil {
		t.Fatal(err)
	}
	const all = probesLibA + probesGo + probesNode + probesLibOld
	r.want(t, all, 0, all)

	s := r.w.Stats()
	if want := map[string]int{"openssl": 2, "openssl-static": 1, "go": 1}; !mapsEqual(s.Files, want) {
		t.Errorf("files %v, want %v", s.Files, want)
	}
	if s.Uprobes != all || s.Attached != 4 || s.PIDs != 5 || s.NotReadablePIDs != 1 || s.FullScans != 1 || !s.On {
		t.Errorf("stats %+v", s)
	}
	// libA through pid 1, the first to map it.
	for _, p := range r.att.livePaths() {
		if strings.Contains(p, "libssl.so.3") && p != "/proc/1/root/usr/lib/libssl.so.3" {
			t.Errorf("libA attached through %s", p)
		}
	}
	// The Go binary: Write at entry, Read at entry and at each RET, no
	// uretprobe anywhere in it.
	r.att.mu.Lock()
	var goProgs []string
	for k := range r.att.live {
		if strings.HasSuffix(k.path, "/srv/app") {
			goProgs = append(goProgs, fmt.Sprintf("%s@%#x", k.prog, k.off))
			if k.prog.Return() {
				t.Errorf("uretprobe %s on a Go binary", k.prog)
			}
		}
	}
	r.att.mu.Unlock()
	slices.Sort(goProgs)
	if want := []string{"pw_go_tls_read@0x2011", "pw_go_tls_read_ret@0x2030", "pw_go_tls_read_ret@0x2070", "pw_go_tls_read_ret@0x20a0", "pw_go_tls_write@0x1011"}; !slices.Equal(goProgs, want) {
		t.Errorf("go probes %v, want %v", goProgs, want)
	}

	for pid, want := range map[uint32][2]bool{1: {true, true}, 2: {true, false}, 3: {true, true}, 6: {false, false}, 99: {false, false}} {
		if k, ok := r.w.Readable(pid); k != want[0] || ok != want[1] {
			t.Errorf("Readable(%d) = %v, %v; want %v", pid, k, ok, want)
		}
	}
	if n := r.log.count("TLS file attached"); n != 4 {
		t.Errorf("%d attach lines, want one per file:\n%s", n, r.log)
	}

	if err := r.w.Close(); err != nil {
		t.Fatal(err)
	}
	r.want(t, all, all, 0)
	if s := r.w.Stats(); s.Uprobes != 0 || s.Detached != 4 || s.PIDs != 0 || s.On {
		t.Errorf("after Close: %+v", s)
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestProbesOpenSSLPrograms: each OpenSSL function gets its programs, the
// uretprobes on both the plain and the _ex function.
func TestProbesOpenSSLPrograms(t *testing.T) {
	got := map[loader.TLSProgram]int{}
	for _, p := range probes(libA.Inspection) {
		got[p.prog]++
	}
	want := map[loader.TLSProgram]int{
		loader.SSLSetFD: 3, loader.SSLFree: 1,
		loader.SSLWrite: 1, loader.SSLWriteEx: 1, loader.SSLWriteRet: 2,
		loader.SSLRead: 1, loader.SSLReadEx: 1, loader.SSLReadRet: 2,
	}
	if !mapsEqual(got, want) {
		t.Errorf("programs %v, want %v", got, want)
	}
	for _, p := range probes(libA.Inspection) {
		fn := ""
		for name, s := range libA.OpenSSL.Found {
			if s.Offset == p.off {
				fn = name
			}
		}
		ok := map[loader.TLSProgram][]string{
			loader.SSLSetFD: {tlsprobe.SymSSLSetFD, tlsprobe.SymSSLSetRFD, tlsprobe.SymSSLSetWFD},
			loader.SSLFree:  {tlsprobe.SymSSLFree}, loader.SSLWrite: {tlsprobe.SymSSLWrite}, loader.SSLWriteEx: {tlsprobe.SymSSLWriteEx},
			loader.SSLWriteRet: {tlsprobe.SymSSLWrite, tlsprobe.SymSSLWriteEx}, loader.SSLRead: {tlsprobe.SymSSLRead},
			loader.SSLReadEx: {tlsprobe.SymSSLReadEx}, loader.SSLReadRet: {tlsprobe.SymSSLRead, tlsprobe.SymSSLReadEx},
		}[p.prog]
		if !slices.Contains(ok, fn) {
			t.Errorf("%s on %s", p.prog, fn)
		}
	}
}

// TestExecExitSweep follows one program through exec, its rescans, exit,
// the grace period and the sweep.
func TestExecExitSweep(t *testing.T) {
	procs := newFakeProcs()
	defer close(procs.ch)
	r := newRig(t, Config{Procs: procs, Grace: 5 * time.Second, FullScanInterval: time.Hour,
		RescanDelays: []time.Duration{0, 5 * time.Millisecond, 25 * time.Millisecond}})
	if err := r.w.Start(); err != nil {
		t.Fatal(err)
	}
	r.want(t, 0, 0, 0)

	// The exec notice comes before ld.so has mapped libssl: the first
	// scan sees none, a later one does.
	r.scan.set(10)
	procs.ch <- loader.ProcEvent{TGID: 10, Exec: true}
	eventually(t, "first scan", func() bool { return r.scan.scanCount(10) >= 1 })
	r.scan.set(10, libA)
	eventually(t, "libssl attached", func() bool { _, _, l := r.att.counts(); return l == probesLibA })
	eventually(t, "the rescans", func() bool { return r.w.Stats().Pending == 0 })
	if n := r.scan.scanCount(10); n != 3 {
		t.Errorf("pid 10 scanned %d times, want 3", n)
	}
	if k, ok := r.w.Readable(10); !k || !ok {
		t.Errorf("Readable(10) = %v, %v", k, ok)
	}

	// A second process maps it: nothing more attached.
	r.scan.set(11, libA)
	procs.ch <- loader.ProcEvent{TGID: 11, Exec: true}
	eventually(t, "pid 11 tracked", func() bool { return r.w.Stats().PIDs == 2 })
	eventually(t, "pid 11's rescans", func() bool { return r.w.Stats().Pending == 0 })
	r.want(t, probesLibA, 0, probesLibA)

	// Both exit; the file stays through the grace period.
	for _, pid := range []uint32{10, 11} {
		r.scan.exit(int(pid))
		procs.ch <- loader.ProcEvent{TGID: pid}
	}
	eventually(t, "exits", func() bool { return r.w.Stats().Exits == 2 })
	r.clk.add(4 * time.Second)
	r.w.sweep()
	r.want(t, probesLibA, 0, probesLibA)
	if s := r.w.Stats(); s.PIDs != 0 || s.FullScans != 1 {
		t.Errorf("stats %+v: want no pids, no full scan before the grace ends", s)
	}

	// After it: a full scan finds nobody, and the file is detached.
	r.clk.add(time.Second)
	r.w.sweep()
	r.want(t, probesLibA, probesLibA, 0)
	if s := r.w.Stats(); s.FullScans != 2 || s.Detached != 1 || s.Uprobes != 0 {
		t.Errorf("stats %+v", s)
	}

	// A new program maps it again: attached again.
	r.scan.set(12, libA)
	procs.ch <- loader.ProcEvent{TGID: 12, Exec: true}
	eventually(t, "reattached", func() bool { _, _, l := r.att.counts(); return l == probesLibA })
	r.want(t, 2*probesLibA, probesLibA, probesLibA)
}

// TestExecReplacesProgram: a process that execs another program lets go of
// the files the old one mapped.
func TestExecReplacesProgram(t *testing.T) {
	r := newRig(t, Config{Grace: time.Second, FullScanInterval: time.Hour})
	r.scan.set(20, goExe)
	if err := r.w.Start(); err != nil {
		t.Fatal(err)
	}
	r.want(t, probesGo, 0, probesGo)
	r.scan.set(20, libA) // exec'd curl
	r.w.notice(loader.ProcEvent{TGID: 20, Exec: true})
	eventually(t, "libA", func() bool { _, _, l := r.att.counts(); return l == probesGo+probesLibA })
	r.clk.add(time.Second)
	r.w.sweep()
	r.want(t, probesGo+probesLibA, probesGo, probesLibA)
}

// TestSweepKeepsForkedChild: a parent exits, its forked child (no exec
// notice) still maps the file: the full scan before detaching finds it.
func TestSweepKeepsForkedChild(t *testing.T) {
	r := newRig(t, Config{Grace: time.Second, FullScanInterval: time.Hour})
	r.scan.set(30, nodeExe)
	if err := r.w.Start(); err != nil {
		t.Fatal(err)
	}
	r.scan.set(31, nodeExe) // forked after Start
	r.scan.exit(30)
	r.w.notice(loader.ProcEvent{TGID: 30})
	r.clk.add(2 * time.Second)
	r.w.sweep()
	r.want(t, probesNode, 0, probesNode)
	if k, ok := r.w.Readable(31); !k || !ok {
		t.Errorf("Readable(31) = %v, %v; want the child found by the sweep", k, ok)
	}
	// A lost exit notice: the next full scan forgets the process.
	r.scan.exit(31)
	r.clk.add(time.Hour)
	r.w.sweep() // full scan (interval): pid 31 gone, file empty from now
	r.want(t, probesNode, 0, probesNode)
	r.clk.add(time.Second)
	r.w.sweep()
	r.want(t, probesNode, probesNode, 0)
}

// TestFileCap: past MaxFiles, files are counted and skipped, and their
// processes are not readable; a freed slot takes the next file.
func TestFileCap(t *testing.T) {
	r := newRig(t, Config{MaxFiles: 2, Grace: time.Second, FullScanInterval: time.Hour})
	r.scan.set(1, libA)
	r.scan.set(2, goExe)
	r.scan.set(3, nodeExe)
	if err := r.w.Start(); err != nil {
		t.Fatal(err)
	}
	r.want(t, probesLibA+probesGo, 0, probesLibA+probesGo)
	if s := r.w.Stats(); s.FilesSkipped != 1 {
		t.Errorf("stats %+v, want 1 file skipped", s)
	}
	if k, ok := r.w.Readable(3); !k || ok {
		t.Errorf("Readable(3) = %v, %v; want known, not readable", k, ok)
	}
	r.scan.exit(2)
	r.w.notice(loader.ProcEvent{TGID: 2})
	r.clk.add(time.Second)
	r.w.sweep() // detaches the Go binary, and the full scan attaches node
	r.want(t, probesLibA+probesGo+probesNode, probesGo, probesLibA+probesNode)
	if k, ok := r.w.Readable(3); !k || !ok {
		t.Errorf("Readable(3) = %v, %v after the slot freed", k, ok)
	}
}

// TestPIDCap: past MaxPIDs, processes are counted and not tracked; a file
// they map is not detached while they run, since the full scan finds them.
func TestPIDCap(t *testing.T) {
	r := newRig(t, Config{MaxPIDs: 2, Grace: time.Second, FullScanInterval: time.Hour})
	for pid := 1; pid <= 3; pid++ {
		r.scan.set(pid, libA)
	}
	if err := r.w.Start(); err != nil {
		t.Fatal(err)
	}
	if s := r.w.Stats(); s.PIDs != 2 || s.PIDsSkipped != 1 {
		t.Errorf("stats %+v, want 2 pids, 1 skipped", s)
	}
	for _, pid := range []int{1, 2} {
		r.scan.exit(pid)
		r.w.notice(loader.ProcEvent{TGID: uint32(pid)})
	}
	r.clk.add(time.Second)
	r.w.sweep() // pid 3 now tracked
	r.want(t, probesLibA, 0, probesLibA)
	if k, _ := r.w.Readable(3); !k {
		t.Error("pid 3 not tracked once slots freed")
	}
	r.scan.exit(3)
	r.w.notice(loader.ProcEvent{TGID: 3})
	r.clk.add(time.Second)
	r.w.sweep()
	r.want(t, probesLibA, probesLibA, 0)
}

// TestPendingCap: exec notices past MaxPending wait for no scan and are
// counted; an exit frees the slot.
func TestPendingCap(t *testing.T) {
	r := newRig(t, Config{MaxPending: 2, RescanDelays: []time.Duration{time.Hour}})
	if err := r.w.Start(); err != nil {
		t.Fatal(err)
	}
	for pid := uint32(1); pid <= 3; pid++ {
		r.w.notice(loader.ProcEvent{TGID: pid, Exec: true})
	}
	r.w.notice(loader.ProcEvent{TGID: 1, Exec: true}) // exec'd again: same slot
	if s := r.w.Stats(); s.Pending != 2 || s.ExecDropped != 1 || s.Execs != 4 {
		t.Errorf("stats %+v, want 2 pending, 1 dropped", s)
	}
	r.w.notice(loader.ProcEvent{TGID: 1})
	if s := r.w.Stats(); s.Pending != 1 {
		t.Errorf("stats %+v, want 1 pending after an exit", s)
	}
}

// TestPermissionTurnsOff: the first attach refused with EPERM detaches
// everything, logs one line, and turns the watcher off.
func TestPermissionTurnsOff(t *testing.T) {
	procs := newFakeProcs()
	defer close(procs.ch)
	r := newRig(t, Config{Procs: procs})
	r.att.fail = func(path string, _ uint64, _ loader.TLSProgram) error {
		if strings.HasSuffix(path, "/srv/app") {
			return fmt.Errorf("creating perf_uprobe PMU: %w", unix.EPERM)
		}
		return nil
	}
	r.scan.set(1, libA)
	r.scan.set(2, goExe)
	r.scan.set(3, nodeExe)
	if err := r.w.Start(); err != nil {
		t.Fatal(err)
	}
	a, d, l := r.att.counts()
	if a != probesLibA || d != probesLibA || l != 0 {
		t.Errorf("attaches %d, detaches %d, live %d; want libA's attached then all detached", a, d, l)
	}
	if err := r.w.Err(); err == nil || !strings.Contains(err.Error(), "operation not permitted") {
		t.Errorf("Err() = %v", err)
	}
	s := r.w.Stats()
	if s.On || s.Off == "" || s.Uprobes != 0 || len(s.AttachErrors) != 0 {
		t.Errorf("stats %+v", s)
	}
	if k, _ := r.w.Readable(1); k {
		t.Error("a process known after capture was turned off")
	}
	// Later notices change nothing.
	r.scan.set(4, libOld)
	procs.ch <- loader.ProcEvent{TGID: 4, Exec: true}
	r.w.sweep()
	time.Sleep(10 * time.Millisecond)
	if a2, _, l2 := r.att.counts(); a2 != a || l2 != 0 {
		t.Errorf("attached after off: %d, live %d", a2, l2)
	}
	if n := r.log.count("TLS capture off"); n != 1 {
		t.Errorf("%d lines saying capture is off, want 1:\n%s", n, r.log)
	}
	if strings.Contains(r.log.String(), "/srv/app") && !strings.Contains(r.log.String(), "level=DEBUG") {
		t.Errorf("path in the log:\n%s", r.log)
	}
}

// TestAttachErrors: another error leaves that file unattached (none of its
// probes stay), is counted by reason, logged once per reason without the
// path above debug, and not retried while the file stays mapped.
func TestAttachErrors(t *testing.T) {
	r := newRig(t, Config{Grace: time.Second, FullScanInterval: time.Hour})
	r.att.fail = func(path string, _ uint64, p loader.TLSProgram) error {
		if p == loader.GoTLSReadRet || p == loader.SSLFree {
			return fmt.Errorf("attach: %w", unix.EINVAL)
		}
		return nil
	}
	r.scan.set(1, goExe)
	r.scan.set(2, nodeExe) // fails on SSL_free, after its set_fd probe
	r.scan.set(3, libOld)  // no SSL_free: attached
	if err := r.w.Start(); err != nil {
		t.Fatal(err)
	}
	_, _, live := r.att.counts()
	if live != probesLibOld {
		t.Errorf("live %d, want only libOld's %d", live, probesLibOld)
	}
	s := r.w.Stats()
	if s.AttachErrors["einval"] != 2 || s.Attached != 1 || !s.On {
		t.Errorf("stats %+v", s)
	}
	if k, ok := r.w.Readable(1); !k || ok {
		t.Errorf("Readable(1) = %v, %v; want known, not readable", k, ok)
	}
	var warn []string
	for _, l := range strings.Split(r.log.String(), "\n") {
		if strings.Contains(l, "level=WARN") {
			warn = append(warn, l)
		}
	}
	if len(warn) != 1 || strings.Contains(warn[0], "/srv/app") || strings.Contains(warn[0], "/usr/bin/node") {
		t.Errorf("warn lines %q, want one, without a path", warn)
	}
	// Not retried while mapped.
	r.clk.add(time.Hour)
	r.w.sweep()
	if s := r.w.Stats(); s.AttachErrors["einval"] != 2 {
		t.Errorf("retried: %+v", s.AttachErrors)
	}
}

// TestAttachGone: the process left between its scan and the attach: not an
// error, and the next process to map the file attaches it.
func TestAttachGone(t *testing.T) {
	r := newRig(t, Config{})
	r.att.fail = func(path string, _ uint64, _ loader.TLSProgram) error {
		if strings.HasPrefix(path, "/proc/1/") {
			return fmt.Errorf("open %s: %w", path, os.ErrNotExist)
		}
		return nil
	}
	r.scan.set(1, libA)
	if err := r.w.Start(); err != nil {
		t.Fatal(err)
	}
	r.want(t, 0, 0, 0)
	r.scan.set(2, libA)
	r.w.scanPID(2)
	r.want(t, probesLibA, 0, probesLibA)
	if s := r.w.Stats(); s.AttachGone != 1 || len(s.AttachErrors) != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestHostLibs: the libssl files of the library directories are attached
// at Start, once per file whatever its names, and kept with no process.
func TestHostLibs(t *testing.T) {
	root := t.TempDir()
	multi := filepath.Join(root, "usr/lib/x86_64-linux-gnu")
	for _, d := range []string{multi, filepath.Join(root, "usr/lib64")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string) {
		if err := os.WriteFile(p, []byte("elf"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(multi, "libssl.so.3"))
	write(filepath.Join(multi, "libssl3.so"))     // NSS: not OpenSSL's name
	write(filepath.Join(multi, "libcrypto.so.3")) // not libssl
	write(filepath.Join(root, "usr/lib64/libssl.so.1.1"))
	if err := os.Symlink("libssl.so.3", filepath.Join(multi, "libssl.so")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("usr/lib", filepath.Join(root, "lib")); err != nil { // merged /usr
		t.Fatal(err)
	}
	var inspected []string
	old := inspectFile
	inspectFile = func(p string) (tlsprobe.Inspection, error) {
		rel, _ := filepath.Rel(root, p)
		inspected = append(inspected, "/"+rel)
		if strings.HasSuffix(p, "1.1") {
			return libOld.Inspection, nil
		}
		return libA.Inspection, nil
	}
	defer func() { inspectFile = old }()

	r := newRig(t, Config{HostRoot: root, LibDirs: DefaultLibDirs, Grace: time.Second})
	if err := r.w.Start(); err != nil {
		t.Fatal(err)
	}
	if len(inspected) != 2 {
		t.Errorf("inspected %v, want each libssl once", inspected)
	}
	r.want(t, probesLibA+probesLibOld, 0, probesLibA+probesLibOld)
	if s := r.w.Stats(); s.HostFiles != 2 || s.Files["openssl"] != 2 {
		t.Errorf("stats %+v", s)
	}
	r.clk.add(time.Hour)
	r.w.sweep()
	r.want(t, probesLibA+probesLibOld, 0, probesLibA+probesLibOld)
	r.w.Close()
	r.want(t, probesLibA+probesLibOld, probesLibA+probesLibOld, 0)
}

// TestHostLibsReal reads this machine's library directories with the real
// inspection: every libssl of OpenSSL installed is attached.
func TestHostLibsReal(t *testing.T) {
	libs := hostLibs("/", DefaultLibDirs)
	var want int
	for _, l := range libs {
		if ins, err := tlsprobe.InspectFile(l.path); err == nil && ins.Kind == tlsprobe.KindOpenSSLLib {
			want++
			t.Logf("%s: %d functions", l.name, len(ins.OpenSSL.Found))
		}
	}
	if want == 0 {
		t.Skip("no OpenSSL libssl installed")
	}
	r := newRig(t, Config{HostRoot: "/", LibDirs: DefaultLibDirs})
	r.w.attachHostLibs()
	if s := r.w.Stats(); s.HostFiles != want || s.Attached != uint64(want) {
		t.Errorf("stats %+v, want %d host files", s, want)
	}
}

// TestCloseWhileAttaching: Close during a slow attach leaves nothing
// attached.
func TestCloseWhileAttaching(t *testing.T) {
	r := newRig(t, Config{})
	started, release := make(chan struct{}), make(chan struct{})
	first := true
	r.att.fail = func(string, uint64, loader.TLSProgram) error {
		if first {
			first = false
			close(started)
			r.att.mu.Unlock()
			<-release
			r.att.mu.Lock()
		}
		return nil
	}
	r.scan.set(1, libA)
	done := make(chan error)
	go func() { done <- r.w.Start() }()
	<-started
	r.w.Close()
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, _, l := r.att.counts(); l != 0 {
		t.Errorf("%d probes live after Close", l)
	}
}

// TestClassify names the reasons.
func TestClassify(t *testing.T) {
	for err, want := range map[error]string{
		fmt.Errorf("x: %w", unix.EPERM):                 reasonPermission,
		fmt.Errorf("x: %w", unix.EACCES):                reasonPermission,
		fmt.Errorf("x: %w", os.ErrNotExist):             reasonGone,
		fmt.Errorf("x: %w", unix.ESRCH):                 reasonGone,
		fmt.Errorf("x: %w", unix.EINVAL):                "einval",
		fmt.Errorf("x: %w", unix.EOPNOTSUPP):            "enotsup", // the same number on Linux
		fmt.Errorf("x: %w", fmt.Errorf("plain")):        reasonOther,
		&AttachError{Err: errNoProbes}:                  reasonNoProbes,
		fmt.Errorf("loader: %w", errors.ErrUnsupported): reasonUnsupported,
	} {
		if got := classify(err); got != want {
			t.Errorf("classify(%v) = %s, want %s", err, got, want)
		}
	}
	rs := newReasons()
	for i := 0; i < maxReasons+10; i++ {
		rs.add(fmt.Sprintf("r%d", i))
	}
	if len(rs.n) != maxReasons+1 || rs.n[reasonOther] != 10 {
		t.Errorf("reasons past the cap: %d kept, %d other", len(rs.n), rs.n[reasonOther])
	}
}

// TestPermissionAdvice names the capabilities this process lacks, and
// never the file.
func TestPermissionAdvice(t *testing.T) {
	old := effectiveCaps
	defer func() { effectiveCaps = old }()
	err := &AttachError{Prog: loader.SSLWrite, Path: "/home/alice/secret-app", Err: fmt.Errorf("creating perf_uprobe PMU: token /home/alice/secret-app:0x10: %w", unix.EACCES)}
	for _, c := range []struct {
		caps uint64
		ok   bool
		want string
	}{
		{1<<capBPF | 1<<capPerfmon, true, "lacks CAP_SYS_ADMIN;"},
		{1 << capBPF, true, "lacks CAP_SYS_ADMIN, CAP_PERFMON;"},
		{1<<capBPF | 1<<capPerfmon | 1<<capSysAdmin, true, "although this process has CAP_SYS_ADMIN"},
		{0, false, "they need CAP_SYS_ADMIN"},
	} {
		effectiveCaps = func() (uint64, bool) { return c.caps, c.ok }
		got := permissionAdvice(err).Error()
		if !strings.Contains(got, c.want) || !strings.Contains(got, "permission denied") || strings.Contains(got, "alice") {
			t.Errorf("caps %#x: %q, want %q", c.caps, got, c.want)
		}
	}
	if caps, ok := old(); !ok || caps == 0 && os.Geteuid() == 0 {
		t.Errorf("own capabilities: %#x, %v", caps, ok)
	}
}

// TestSelf: propwatch's own process is neither attached nor tracked; the
// same file in another process is.
func TestSelf(t *testing.T) {
	r := newRig(t, Config{Self: 7})
	r.scan.set(7, goExe)
	if err := r.w.Start(); err != nil {
		t.Fatal(err)
	}
	r.want(t, 0, 0, 0)
	if k, _ := r.w.Readable(7); k {
		t.Error("self tracked")
	}
	r.scan.set(8, goExe)
	r.w.scanPID(8)
	r.want(t, probesGo, 0, probesGo)
}
