package tlsprobe

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeProc builds a procfs-like tree under root for one process: maps
// holding the given lines, root pointing at rootfs, exe at exe.
func fakeProc(t testing.TB, root string, pid int, rootfs, exe string, lines ...string) string {
	t.Helper()
	dir := filepath.Join(root, fmt.Sprint(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "maps"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"root": rootfs, "exe": exe} {
		if target == "" {
			continue
		}
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// copyFile copies src to dst, creating dst's directory.
func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// libsslLines are the maps lines of one libssl mapped the way ld.so maps it.
func libsslLines(path string) []string {
	return []string{
		"7f0000000000-7f0000020000 r--p 00000000 08:01 77 " + path,
		"7f0000020000-7f0000080000 r-xp 00020000 08:01 77 " + path,
		"7f0000080000-7f0000090000 r--p 00080000 08:01 77 " + path,
		"7f0000090000-7f0000091000 rw-p 00090000 08:01 77 " + path,
		"7f00000a0000-7f00000a1000 r-xp 00000000 08:01 78 /usr/lib/libc.so.6",
		"7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]",
	}
}

// TestScannerContainers scans a fake procfs: two processes of one
// container share one libssl (read once), another container has its own
// copy (a second file), a third has NSS's libssl3.so under OpenSSL's name
// (no TLS), a fourth a deleted libssl reached through map_files.
func TestScannerContainers(t *testing.T) {
	lib := systemLibSSL(t)
	const libPath = "/usr/lib/libssl.so.3"
	proc, fs := t.TempDir(), t.TempDir()
	c1, c2, c3 := filepath.Join(fs, "c1"), filepath.Join(fs, "c2"), filepath.Join(fs, "c3")
	copyFile(t, lib, c1+libPath)
	copyFile(t, lib, c2+libPath)
	copyFile(t, lookPath(t, "true"), c3+libPath) // an ELF file without OpenSSL
	trueBin := lookPath(t, "true")
	fakeProc(t, proc, 1, c1, trueBin, libsslLines(libPath)...)
	fakeProc(t, proc, 2, c1, trueBin, libsslLines(libPath)...)
	fakeProc(t, proc, 3, c2, trueBin, libsslLines(libPath)...)
	fakeProc(t, proc, 4, c3, trueBin, libsslLines(libPath)...)
	d5 := fakeProc(t, proc, 5, c2, "", libsslLines(libPath+" (deleted)")...)
	copyFile(t, lib, filepath.Join(fs, "deleted"))
	if err := os.MkdirAll(filepath.Join(d5, "map_files"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(fs, "deleted"), filepath.Join(d5, "map_files", "7f0000000000-7f0000020000")); err != nil {
		t.Fatal(err)
	}

	s := NewScanner(Config{ProcRoot: proc})
	var got []*Target
	for pid := 1; pid <= 5; pid++ {
		ts, err := s.ScanPID(pid)
		if err != nil {
			t.Fatal(err)
		}
		if pid == 4 && len(ts) != 0 {
			t.Errorf("pid 4: %d targets, want none", len(ts))
		}
		if pid != 4 && len(ts) != 1 {
			t.Fatalf("pid %d: %d targets, want 1", pid, len(ts))
		}
		got = append(got, ts...)
	}
	if got[0].ID != got[1].ID || got[0].Inspection.OpenSSL != got[1].Inspection.OpenSSL {
		t.Error("pids 1 and 2 map the same file but got two files")
	}
	if got[1].PID != 2 || got[1].OpenPath != filepath.Join(proc, "2", "root")+libPath {
		t.Errorf("pid 2's target: PID %d, OpenPath %s; want pid 2's own", got[1].PID, got[1].OpenPath)
	}
	if got[0].ID == got[2].ID || got[2].ID == got[3].ID {
		t.Error("different files share an identity")
	}
	for i, want := range []string{filepath.Join(proc, "1", "root") + libPath, filepath.Join(proc, "2", "root") + libPath, filepath.Join(proc, "3", "root") + libPath, filepath.Join(d5, "map_files", "7f0000000000-7f0000020000")} {
		if want != "" && got[i].OpenPath != want {
			t.Errorf("target %d: OpenPath %s, want %s", i, got[i].OpenPath, want)
		}
		if got[i].Path != libPath || got[i].Kind != KindOpenSSLLib || got[i].Err != nil {
			t.Errorf("target %d: %+v", i, got[i])
		}
	}
	st := s.Stats()
	// Files: c1, c2, c3's libssl, the deleted one, /bin/true.
	if st.Procs != 5 || st.Inspections != 5 || st.Files != 5 || st.Evictions != 0 || st.MapsLines != 30 {
		t.Errorf("stats %+v", st)
	}

	all, err := s.ScanAll()
	if err != nil || len(all) != 3 {
		t.Errorf("ScanAll: %d targets, %v; want 3", len(all), err)
	}
	if st2 := s.Stats(); st2.Inspections != st.Inspections {
		t.Errorf("ScanAll read %d files again", st2.Inspections-st.Inspections)
	}

	if _, err := s.ScanPID(99); !errors.Is(err, ErrProcessGone) {
		t.Errorf("ScanPID(99) = %v, want ErrProcessGone", err)
	}
}

// TestScannerCap checks the table's cap: at one file, every other file
// evicts the last and is counted.
func TestScannerCap(t *testing.T) {
	lib := systemLibSSL(t)
	proc, fs := t.TempDir(), t.TempDir()
	const libPath = "/usr/lib/libssl.so.3"
	for pid := 1; pid <= 3; pid++ {
		rootfs := filepath.Join(fs, fmt.Sprint(pid))
		copyFile(t, lib, rootfs+libPath)
		fakeProc(t, proc, pid, rootfs, "", libsslLines(libPath)...)
	}
	s := NewScanner(Config{ProcRoot: proc, MaxFiles: 1})
	for round := 0; round < 2; round++ {
		for pid := 1; pid <= 3; pid++ {
			if ts, err := s.ScanPID(pid); err != nil || len(ts) != 1 {
				t.Fatalf("pid %d: %d targets, %v", pid, len(ts), err)
			}
		}
	}
	if st := s.Stats(); st.Files != 1 || st.Evictions != 5 || st.Inspections != 6 {
		t.Errorf("stats %+v, want 1 file, 5 evictions, 6 inspections", st)
	}
}

// startWaiting starts a program that runs until its stdin closes and
// returns a function that closes it and waits.
func startWaiting(t *testing.T, name string, args ...string) (*exec.Cmd, func()) {
	t.Helper()
	cmd := exec.Command(name, args...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, func() { in.Close(); cmd.Wait() }
}

// TestScanRealProcesses scans running processes: curl (libssl mapped) held
// in a TLS handshake by a listener that never answers, node (OpenSSL inside
// the executable), and a Go TLS program.
func TestScanRealProcesses(t *testing.T) {
	s := NewScanner(Config{})
	check := func(pid int, want Kind) *Target {
		t.Helper()
		ts, err := s.ScanPID(pid)
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range ts {
			if tg.Kind == want && tg.Err == nil {
				t.Logf("pid %d: %v %s (open %s)", pid, tg.Kind, tg.Path, tg.OpenPath)
				return tg
			}
		}
		t.Fatalf("pid %d: no %v target in %+v", pid, want, ts)
		return nil
	}

	t.Run("curl", func(t *testing.T) {
		curl := lookPath(t, "curl")
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		cmd := exec.Command(curl, "-s", "--max-time", "30", "https://"+ln.Addr().String()+"/")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Wait()
		ln.(*net.TCPListener).SetDeadline(time.Now().Add(20 * time.Second))
		c, err := ln.Accept() // curl is past ld.so: libssl is mapped
		if err != nil {
			cmd.Process.Kill()
			t.Fatal(err)
		}
		defer c.Close()
		tg := check(cmd.Process.Pid, KindOpenSSLLib)
		if !IsLibSSLName(tg.Path) || len(tg.OpenSSL.Missing) != 0 {
			t.Errorf("curl's libssl: %+v", tg)
		}
	})
	t.Run("node", func(t *testing.T) {
		node := lookPath(t, "node")
		if ins, _ := InspectFile(node); ins.Kind != KindOpenSSLExe {
			t.Skipf("%s carries no OpenSSL of its own", node)
		}
		cmd, stop := startWaiting(t, node, "-e", "process.stdin.resume()")
		defer stop()
		check(cmd.Process.Pid, KindOpenSSLExe)
	})
	t.Run("go", func(t *testing.T) {
		cmd, stop := startWaiting(t, buildGo(t, goTLSProgram, ""))
		defer stop()
		tg := check(cmd.Process.Pid, KindGo)
		if len(tg.Go.Funcs) != len(GoTLSFuncs) {
			t.Errorf("go: %+v", tg.Go)
		}
	})
	t.Logf("stats %+v", s.Stats())
}

// benchMapsLines is a maps file the size of a large process's: many
// libraries, one libssl.
func benchMapsLines(libPath string, n int) []string {
	lines := libsslLines(libPath)
	for i := 0; len(lines) < n; i++ {
		lines = append(lines, fmt.Sprintf("7f10%08x-7f10%08x r-xp 00000000 08:01 %d                    /usr/lib/x86_64-linux-gnu/libfoo%d.so.1", i*0x1000, i*0x1000+0x1000, 1000+i, i))
	}
	return lines
}

// BenchmarkScanPID measures a scan of a known process: a 1000-line maps
// file, its libssl and executable already in the table.
func BenchmarkScanPID(b *testing.B) {
	lib := systemLibSSL(b)
	proc, fs := b.TempDir(), b.TempDir()
	const libPath = "/usr/lib/libssl.so.3"
	copyFile(b, lib, fs+libPath)
	fakeProc(b, proc, 1, fs, lookPath(b, "true"), benchMapsLines(libPath, 1000)...)
	s := NewScanner(Config{ProcRoot: proc})
	b.ReportAllocs()
	for b.Loop() {
		if ts, err := s.ScanPID(1); err != nil || len(ts) != 1 {
			b.Fatal(len(ts), err)
		}
	}
}

// BenchmarkScanSelf scans this test process through the real /proc.
func BenchmarkScanSelf(b *testing.B) {
	s := NewScanner(Config{})
	pid := os.Getpid()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.ScanPID(pid); err != nil {
			b.Fatal(err)
		}
	}
}

// TestScanAllGoesOn: a process whose maps cannot be read (here a
// directory where the file should be) is counted and skipped; the
// processes after it are still scanned.
func TestScanAllGoesOn(t *testing.T) {
	const libPath = "/usr/lib/libssl.so.3"
	proc, fs := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(proc, "1", "maps"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, systemLibSSL(t), filepath.Join(fs, libPath))
	fakeProc(t, proc, 2, fs, "", libsslLines(libPath)...)
	s := NewScanner(Config{ProcRoot: proc})
	targets, err := s.ScanAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) != 1 || targets[0].Kind != KindOpenSSLLib {
		t.Errorf("targets %+v, want the libssl of pid 2", targets)
	}
	if st := s.Stats(); st.ProcsUnreadable != 1 {
		t.Errorf("stats %+v, want 1 unreadable process", st)
	}
}

// TestScanEachPIDs checks ScanEach names every process of a file, each with
// an OpenPath of its own, and that a file read from a process that has
// exited since is reached through the process scanned now.
func TestScanEachPIDs(t *testing.T) {
	const libPath = "/usr/lib/libssl.so.3"
	proc, fs := t.TempDir(), t.TempDir()
	copyFile(t, systemLibSSL(t), fs+libPath)
	for pid := 1; pid <= 3; pid++ {
		fakeProc(t, proc, pid, fs, "", libsslLines(libPath)...)
	}
	s := NewScanner(Config{ProcRoot: proc})
	pids := map[int]string{}
	var id FileID
	if err := s.ScanEach(func(pid int, ts []*Target) {
		if len(ts) != 1 || ts[0].PID != pid {
			t.Errorf("pid %d: %+v", pid, ts)
			return
		}
		id = ts[0].ID
		pids[pid] = ts[0].OpenPath
	}); err != nil {
		t.Fatal(err)
	}
	if len(pids) != 3 {
		t.Fatalf("ScanEach called for %v, want pids 1-3", pids)
	}
	for pid, p := range pids {
		if want := filepath.Join(proc, fmt.Sprint(pid), "root") + libPath; p != want {
			t.Errorf("pid %d: OpenPath %s, want %s", pid, p, want)
		}
	}
	if err := os.RemoveAll(filepath.Join(proc, "1")); err != nil {
		t.Fatal(err)
	}
	ts, err := s.ScanPID(3)
	if err != nil || len(ts) != 1 || ts[0].ID != id || ts[0].PID != 3 {
		t.Fatalf("after pid 1 exited: %+v, %v", ts, err)
	}
	if _, err := os.Stat(ts[0].OpenPath); err != nil {
		t.Errorf("OpenPath of pid 3 after pid 1 exited: %v", err)
	}
	if st := s.Stats(); st.Inspections != 1 {
		t.Errorf("stats %+v, want the file read once", st)
	}
}
