//go:build linux

package tlswatch

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"

	"github.com/propwatch/propwatch/internal/loader"
	"github.com/propwatch/propwatch/internal/privtest"
	"github.com/propwatch/propwatch/internal/tlsprobe"
)

// countingAttacher attaches, for each TLSProgram, a program that counts
// its runs in an array map: a stand-in for the loader's TLS programs that
// checks each probe lands where the plaintext passes.
type countingAttacher struct {
	counts *ebpf.Map
	progs  map[loader.TLSProgram]*ebpf.Program
	mu     sync.Mutex
	live   int
}

func newCountingAttacher(t *testing.T) *countingAttacher {
	t.Helper()
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: uint32(len(loader.TLSPrograms))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	a := &countingAttacher{counts: m, progs: map[loader.TLSProgram]*ebpf.Program{}}
	for i, p := range loader.TLSPrograms {
		prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
			Name:    "pw_count",
			Type:    ebpf.Kprobe,
			License: "GPL",
			Instructions: asm.Instructions{
				asm.StoreImm(asm.RFP, -4, int64(i), asm.Word),
				asm.LoadMapPtr(asm.R1, m.FD()),
				asm.Mov.Reg(asm.R2, asm.RFP),
				asm.Add.Imm(asm.R2, -4),
				asm.FnMapLookupElem.Call(),
				asm.JEq.Imm(asm.R0, 0, "out"),
				asm.Mov.Imm(asm.R1, 1),
				asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
				asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
				asm.Return(),
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { prog.Close() })
		a.progs[p] = prog
	}
	return a
}

func (a *countingAttacher) AttachUprobe(path string, off uint64, p loader.TLSProgram) (io.Closer, error) {
	ex, err := link.OpenExecutable(path)
	if err != nil {
		return nil, err
	}
	opts := &link.UprobeOptions{Address: off}
	var l link.Link
	if p.Return() {
		l, err = ex.Uretprobe("", a.progs[p], opts)
	} else {
		l, err = ex.Uprobe("", a.progs[p], opts)
	}
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.live++
	a.mu.Unlock()
	return closerFunc(func() error {
		a.mu.Lock()
		a.live--
		a.mu.Unlock()
		return l.Close()
	}), nil
}

type closerFunc func() error

func (c closerFunc) Close() error { return c() }

// count returns how many times p's probes ran.
func (a *countingAttacher) count(t *testing.T, p loader.TLSProgram) uint64 {
	t.Helper()
	var n uint64
	if err := a.counts.Lookup(uint32(slices.Index(loader.TLSPrograms, p)), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// childScanner is a tlsprobe.Scanner that sees only the test's children:
// the test attaches nothing to the rest of the machine.
type childScanner struct {
	*tlsprobe.Scanner
	mu   sync.Mutex
	pids []int
}

func (s *childScanner) add(pid int) {
	s.mu.Lock()
	s.pids = append(s.pids, pid)
	s.mu.Unlock()
}

func (s *childScanner) ScanEach(fn func(int, []*tlsprobe.Target)) error {
	s.mu.Lock()
	pids := slices.Clone(s.pids)
	s.mu.Unlock()
	for _, pid := range pids {
		if ts, err := s.ScanPID(pid); err == nil && len(ts) > 0 {
			fn(pid, ts)
		}
	}
	return nil
}

// goTLSClient reads a server address from stdin, makes a request over
// TLS with crypto/tls (Write, then Read until the response ends), then
// waits for stdin to close.
const goTLSClient = `package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	in := bufio.NewReader(os.Stdin)
	for {
		addr, err := in.ReadString('\n')
		if err != nil {
			return
		}
		c, err := tls.Dial("tcp", strings.TrimSpace(addr), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			fmt.Println("dial:", err)
			continue
		}
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		b, _ := io.ReadAll(c)
		c.Close()
		fmt.Println(len(b))
	}
}
`

// buildGo builds src into a binary in a temporary directory.
func buildGo(t *testing.T, src string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go toolchain in PATH")
	}
	dir := t.TempDir()
	for name, body := range map[string]string{"main.go": src, "go.mod": "module client\n\ngo 1.22\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "client")
	cmd := exec.Command(goBin, "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// perfFDs counts this process's perf event descriptors: one per uprobe.
func perfFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && l == "anon_inode:[perf_event]" {
			n++
		}
	}
	return n
}

// TestRealUprobes attaches counting programs where the Watcher puts the TLS
// programs: the host's libssl (curl, started afterwards, is read through
// it), a running Go TLS client, and one started after Start and found
// through its exec notice. Each probe must run when plaintext passes, and
// Close and the sweep must leave no uprobe behind.
func TestRealUprobes(t *testing.T) {
	privtest.RequireBPF(t)
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	client := buildGo(t, goTLSClient)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "pong") }))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "https://")

	start := func(bin string) (*exec.Cmd, io.WriteCloser, *bufio.Reader) {
		cmd := exec.Command(bin)
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { in.Close(); cmd.Wait() })
		return cmd, in, bufio.NewReader(out)
	}
	request := func(in io.Writer, out *bufio.Reader) {
		t.Helper()
		fmt.Fprintln(in, addr)
		line, err := out.ReadString('\n')
		if err != nil || strings.HasPrefix(line, "dial") {
			t.Fatalf("client: %q, %v", line, err)
		}
	}

	before := perfFDs(t)
	att := newCountingAttacher(t)
	scan := &childScanner{Scanner: tlsprobe.NewScanner(tlsprobe.Config{})}
	c1, in1, out1 := start(client)
	scan.add(c1.Process.Pid)
	var logs syncBuffer
	w, err := New(Config{Attacher: att, Scanner: scan, HostRoot: "/", Grace: time.Millisecond, SweepInterval: time.Hour,
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	s := w.Stats()
	t.Logf("after Start: %+v\n%s", s, logs.String())
	if s.Files["go"] != 1 || s.AttachGone != 0 || len(s.AttachErrors) != 0 {
		t.Fatalf("stats %+v", s)
	}
	if got := perfFDs(t) - before; got != s.Uprobes {
		t.Errorf("%d perf event descriptors, want one per uprobe (%d)", got, s.Uprobes)
	}

	// The running Go client.
	request(in1, out1)
	for _, p := range []loader.TLSProgram{loader.GoTLSWrite, loader.GoTLSRead, loader.GoTLSReadRet} {
		if att.count(t, p) == 0 {
			t.Errorf("%s never ran", p)
		}
	}

	// curl, started after Start: the host's libssl carries it.
	if s.HostFiles > 0 {
		if out, err := exec.Command(curl, "-sk", srv.URL).CombinedOutput(); err != nil || string(out) != "pong" {
			t.Fatalf("curl: %q, %v", out, err)
		}
		for _, p := range []loader.TLSProgram{loader.SSLWrite, loader.SSLWriteRet, loader.SSLReadRet, loader.SSLFree} {
			if att.count(t, p) == 0 {
				t.Errorf("%s never ran for curl", p)
			}
		}
		t.Logf("curl: SSL_write %d, SSL_read ret %d, SSL_read_ex %d, set_fd %d, free %d", att.count(t, loader.SSLWrite),
			att.count(t, loader.SSLReadRet), att.count(t, loader.SSLReadEx), att.count(t, loader.SSLSetFD), att.count(t, loader.SSLFree))
	} else {
		t.Log("no host libssl: curl not checked")
	}

	// A second Go client (another file) started after Start, found through
	// its exec notice and its rescans.
	client2 := filepath.Join(t.TempDir(), "client2")
	b, _ := os.ReadFile(client)
	if err := os.WriteFile(client2, append(b, 0), 0o755); err != nil { // another inode and size
		t.Fatal(err)
	}
	c2, in2, out2 := start(client2)
	scan.add(c2.Process.Pid)
	w.notice(loader.ProcEvent{TGID: uint32(c2.Process.Pid), Exec: true})
	eventually(t, "the second client attached", func() bool { return w.Stats().Files["go"] == 2 })
	n := att.count(t, loader.GoTLSWrite)
	request(in2, out2)
	if att.count(t, loader.GoTLSWrite) == n {
		t.Error("the second client's Write never ran")
	}

	// It exits: detached at the next sweep, after the grace.
	in2.Close()
	c2.Wait()
	w.notice(loader.ProcEvent{TGID: uint32(c2.Process.Pid)})
	time.Sleep(5 * time.Millisecond)
	w.sweep()
	if s := w.Stats(); s.Files["go"] != 1 || s.Detached != 1 {
		t.Errorf("after the exit and a sweep: %+v", s)
	}
	if got := perfFDs(t) - before; got != w.Stats().Uprobes {
		t.Errorf("%d perf event descriptors, want %d", got, w.Stats().Uprobes)
	}

	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := perfFDs(t) - before; got != 0 || att.live != 0 {
		t.Errorf("after Close: %d perf event descriptors, %d links left", got, att.live)
	}
}

// envRefusedChild marks the run of TestRefusedChild that
// TestRefusedWithoutSysAdmin starts without CAP_SYS_ADMIN.
const envRefusedChild = "PROPWATCH_TLSWATCH_REFUSED_CHILD"

// TestRefusedWithoutSysAdmin runs TestRefusedChild as root without
// CAP_SYS_ADMIN (capsh drops it from the bounding set; CAP_BPF and
// CAP_PERFMON stay): on this kernel the uprobes are refused, and TLS
// capture turns off with one line naming the missing capability.
func TestRefusedWithoutSysAdmin(t *testing.T) {
	privtest.RequireBPF(t)
	capsh, err := exec.LookPath("capsh")
	if err != nil {
		t.Skip("capsh not installed (libcap2-bin)")
	}
	// The test binary itself is capsh's shell: no /bin/bash needed (the
	// kernel matrix's guests have busybox alone).
	cmd := exec.Command(capsh, "--drop=cap_sys_admin", "--shell="+os.Args[0], "--", "-test.run", "^TestRefusedChild$", "-test.v")
	cmd.Env = append(os.Environ(), envRefusedChild+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err == nil && strings.Contains(string(out), "--- SKIP: TestRefusedChild") {
		t.Skip("the child found no libssl to attach to")
	}
	if err != nil || !strings.Contains(string(out), "--- PASS: TestRefusedChild") {
		t.Fatalf("child: %v", err)
	}
}

// TestRefusedChild is TestRefusedWithoutSysAdmin's child.
func TestRefusedChild(t *testing.T) {
	if os.Getenv(envRefusedChild) != "1" {
		t.Skip("run by TestRefusedWithoutSysAdmin")
	}
	if len(hostLibs("/", DefaultLibDirs)) == 0 {
		t.Skip("no libssl to attach to")
	}
	caps, _ := effectiveCaps()
	if caps&(1<<capSysAdmin) != 0 || caps&(1<<capPerfmon) == 0 || caps&(1<<capBPF) == 0 {
		t.Fatalf("effective capabilities %#x: want CAP_BPF and CAP_PERFMON without CAP_SYS_ADMIN", caps)
	}
	att := newCountingAttacher(t) // loading needs CAP_BPF and CAP_PERFMON only
	var logs syncBuffer
	w, err := New(Config{Attacher: att, Scanner: &childScanner{Scanner: tlsprobe.NewScanner(tlsprobe.Config{})}, HostRoot: "/",
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Log(logs.String())
	if err := w.Err(); err == nil || !strings.Contains(err.Error(), "lacks CAP_SYS_ADMIN") {
		t.Errorf("Err() = %v, want capture off for lack of CAP_SYS_ADMIN", err)
	}
	if n := logs.count("TLS capture off"); n != 1 || att.live != 0 {
		t.Errorf("%d off lines, %d links live", n, att.live)
	}
}
