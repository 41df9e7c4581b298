package hint

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// realExe returns the file behind a command on this machine, skipping
// the test when it is not installed.
func realExe(t *testing.T, cmd string) string {
	t.Helper()
	p, err := exec.LookPath(cmd)
	if err != nil {
		t.Skipf("%s not installed", cmd)
	}
	p, err = filepath.EvalSymlinks(p)
	if err != nil {
		t.Skip(err)
	}
	return p
}

// fakeProc lays out a /proc whose processes' exe links point at the given
// files, by pid.
func fakeProc(t *testing.T, exes map[uint32]string) string {
	t.Helper()
	root := t.TempDir()
	for pid, exe := range exes {
		dir := filepath.Join(root, strconv.Itoa(int(pid)))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(exe, filepath.Join(dir, "exe")); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// copyExe copies the executable src to name in a temporary directory.
func copyExe(t *testing.T, src, name string) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(t.TempDir(), name)
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestIdentifyLiveProcesses identifies running processes through the
// real /proc: this test binary (Go) and, where installed, Node.js and
// CPython processes started for it.
func TestIdentifyLiveProcesses(t *testing.T) {
	id := NewIdentifier("", 0)
	if got := id.Process(uint32(os.Getpid())); got != Go {
		t.Errorf("this test binary: %v, want go", got)
	}
	for _, c := range []struct {
		cmd  string
		args []string
		want Runtime
	}{
		{"node", []string{"-e", "setTimeout(() => {}, 10000)"}, Node},
		{"python3", []string{"-c", "import time; time.sleep(10)"}, Python},
	} {
		t.Run(c.cmd, func(t *testing.T) {
			realExe(t, c.cmd)
			cmd := exec.Command(c.cmd, c.args...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cmd.Process.Kill(); cmd.Wait() }()
			// A launcher (pyenv's shim is a shell script) execs the real
			// interpreter: wait for the exec.
			var got Runtime
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if got = NewIdentifier("", 0).Process(uint32(cmd.Process.Pid)); got == c.want {
					break
				}
			}
			if got != c.want {
				t.Errorf("%s process: %v, want %v", c.cmd, got, c.want)
			}
		})
	}
	if got := id.Process(1 << 30); got != Unknown {
		t.Errorf("no such process: %v", got)
	}
}

// TestIdentifyExecutables identifies real executables behind fake /proc
// links, renamed ones included: a Go binary by its build info whatever
// its name, a JVM launcher and a shared CPython by the libraries they
// need, static interpreters by name.
func TestIdentifyExecutables(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exes := map[uint32]string{
		1: self,
		2: copyExe(t, self, "node"), // a Go program named node is Go
		3: "/bin/sh",
	}
	want := map[uint32]Runtime{1: Go, 2: Go, 3: Unknown}
	if _, err := exec.LookPath("java"); err == nil {
		java := realExe(t, "java")
		exes[4], want[4] = java, JVM
		exes[5], want[5] = copyExe(t, java, "launcher"), JVM // needs libjli
	}
	if _, err := exec.LookPath("node"); err == nil {
		exes[6], want[6] = realExe(t, "node"), Node
	}
	if _, err := exec.LookPath("python3"); err == nil {
		// What python3 runs, through any shim.
		out, err := exec.Command("python3", "-c", "import os; print(os.readlink('/proc/self/exe'))").Output()
		if err != nil {
			t.Fatal(err)
		}
		py := string(out[:len(out)-1])
		exes[7], want[7] = py, Python
	}
	id := NewIdentifier(fakeProc(t, exes), 0)
	for pid, w := range want {
		if got := id.Process(pid); got != w {
			t.Errorf("%s: %v, want %v", filepath.Base(exes[pid]), got, w)
		}
	}
}

// TestIdentifierCache: one executable is read once however many processes
// run it, and the cache stays within its bound.
func TestIdentifierCache(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	other := copyExe(t, self, "other")
	root := fakeProc(t, map[uint32]string{1: self, 2: self, 3: self, 4: other})
	id := NewIdentifier(root, 1)
	for range 3 {
		for pid := uint32(1); pid <= 3; pid++ {
			if got := id.Process(pid); got != Go {
				t.Fatalf("pid %d: %v", pid, got)
			}
		}
	}
	if id.reads != 1 {
		t.Errorf("%d reads of one executable, want 1", id.reads)
	}
	id.Process(4)
	if id.Len() != 1 || id.reads != 2 {
		t.Errorf("after a second executable: %d remembered, %d reads; want 1, 2", id.Len(), id.reads)
	}
}

func TestByName(t *testing.T) {
	for name, want := range map[string]Runtime{
		"node": Node, "nodejs": Node, "java": JVM, "python": Python, "python3": Python, "python3.12": Python,
		"python-config": Unknown, "nginx": Unknown, "": Unknown, "nodemon": Unknown, "pythonista": Unknown,
	} {
		if got := byName(name); got != want {
			t.Errorf("byName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestRuntimeNames(t *testing.T) {
	for rt := Unknown; rt <= Mixed; rt++ {
		if got := ParseRuntime(rt.String()); got != rt {
			t.Errorf("ParseRuntime(%q) = %v", rt.String(), got)
		}
	}
	if Runtime(200).String() != "unknown" || ParseRuntime("ruby") != Unknown {
		t.Error("an unknown runtime is not unknown")
	}
	for _, c := range []struct{ a, b, want Runtime }{
		{Unknown, Go, Go}, {Go, Unknown, Go}, {Go, Go, Go}, {Go, Node, Mixed}, {Mixed, Go, Mixed}, {Unknown, Unknown, Unknown},
	} {
		if got := c.a.Join(c.b); got != c.want {
			t.Errorf("%v.Join(%v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
