package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// passing612 is the shape of a passing guest's result log, cut short.
const passing612 = `PWK uname 6.12.107+deb12-cloud-amd64
PWK btf present
PWK arch x86_64
PWK sock-tracepoints present
PWK hooks sock rc=0 secs=3 attached=sock err=- | -
PWK hooks btf rc=0 secs=3 attached=btf err=- | -
PWK hooks raw rc=0 secs=3 attached=raw err=- | -
PWK hooks syscalls rc=0 secs=5 attached=syscalls err=- | -
PWK hooks auto rc=0 secs=3 attached=sock err=- | -
PWK test-begin internal_loader.test
=== RUN   TestVerifierStats
=== RUN   TestVerifierStats/sock
    loader_linux_test.go:930: pw_sock_recv           9000 instructions verified
    loader_linux_test.go:930: pw_sock_send           8000 instructions verified
=== RUN   TestVerifierStats/syscalls
    loader_linux_test.go:930: pw_exit_read           7000 instructions verified
--- PASS: TestVerifierStats (1.00s)
    --- PASS: TestVerifierStats/sock (0.50s)
    --- PASS: TestVerifierStats/syscalls (0.50s)
=== RUN   TestStackBudget
=== RUN   TestStackBudget/x86
    stack_test.go:10: stack-chain prog=pw_sock_recv bytes=400 chain=a,b
    stack_test.go:10: stack-chain prog=pw_exit_read bytes=416 chain=a,c
=== RUN   TestStackBudget/arm64
    stack_test.go:10: stack-chain prog=pw_exit_read bytes=480 chain=a,c
--- PASS: TestStackBudget (0.01s)
    --- PASS: TestStackBudget/x86 (0.00s)
    --- PASS: TestStackBudget/arm64 (0.00s)
=== RUN   TestIPv6
=== RUN   TestIPv6/sock
    loader_linux_test.go:352: no IPv6 loopback
--- SKIP: TestIPv6/sock (0.00s)
--- PASS: TestIPv6 (0.00s)
PASS
PWK test-end internal_loader.test rc=0 secs=100
PWK done
PWK host label=6.12.107+deb12-cloud-amd64 qemu-rc=0 timeout=no wall=150
`

func parseString(t *testing.T, log string) *kernel {
	t.Helper()
	k, err := parse("test.log", strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestPassing(t *testing.T) {
	k := parseString(t, passing612)
	if p := k.problems(); len(p) != 0 {
		t.Fatalf("problems of a passing log: %q", p)
	}
	if k.top != (counts{pass: 3}) {
		t.Errorf("top-level tests %+v, want 3 passed", k.top)
	}
	if got := k.perSet["sock"]; got != (counts{pass: 1, skip: 1}) {
		t.Errorf("sock subtests %+v", got)
	}
	if k.insns["sock"]["pw_sock_recv"] != 9000 || k.insns["syscalls"]["pw_exit_read"] != 7000 {
		t.Errorf("insns %v", k.insns)
	}
	if k.stack["pw_exit_read"] != 416 || k.progSet["pw_exit_read"] != "syscalls" {
		t.Errorf("stack %v sets %v", k.stack, k.progSet)
	}
	s := k.summary()
	for _, want := range []string{"KERNEL 6.12.107+deb12-cloud-amd64 PASS", "loaded: sock btf raw syscalls, auto=sock",
		"3 passed 0 failed 0 skipped (with subtests 7/0/1) in 1 binaries", "sock 9000 (pw_sock_recv)", "syscalls 416B (pw_exit_read)", "150s"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
}

// TestFailures: every way a guest can go wrong fails the kernel.
func TestFailures(t *testing.T) {
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"test binary failed", "PWK test-end internal_loader.test rc=0", "PWK test-end internal_loader.test rc=1", "exited 1"},
		{"test failed yet exit 0", "--- PASS: TestStackBudget", "--- FAIL: TestStackBudget", "FAIL TestStackBudget"},
		{"test binary never ended", "PWK test-end internal_loader.test rc=0 secs=100\n", "", "did not end"},
		{"guest crashed", "PWK test-end internal_loader.test rc=0 secs=100\nPWK done\n", "", "did not finish"},
		{"guest timed out", "qemu-rc=0 timeout=no", "qemu-rc=124 timeout=yes", "timed out"},
		{"qemu failed", "qemu-rc=0", "qemu-rc=1", "qemu exited 1"},
		{"no host line", "PWK host label", "PWK nohost label", "did not record"},
		{"a second binary passes too", "PWK test-begin internal_loader.test\n", "PWK test-begin x.test\nPWK test-end x.test rc=0 secs=0\nPWK test-begin internal_loader.test\n", ""},
		{"hook set rejected", "PWK hooks btf rc=0 secs=3 attached=btf err=- | -", "PWK hooks btf rc=1 secs=3 attached=- err=propwatch: btf | combined stack size of 5 calls is 592. Too large", "hook set btf FAILED"},
		{"hook set exits 0 without attaching", "PWK hooks raw rc=0 secs=3 attached=raw", "PWK hooks raw rc=0 secs=3 attached=-", "hook set raw FAILED"},
		{"hook set never tried", "PWK hooks raw rc=0 secs=3 attached=raw err=- | -\n", "", "hook set raw unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := strings.Replace(passing612, tc.old, tc.new, 1)
			if log == passing612 {
				t.Fatalf("%q not in the log", tc.old)
			}
			p := strings.Join(parseString(t, log).problems(), "; ")
			if tc.want == "" {
				if p != "" {
					t.Errorf("problems %q, want none", p)
				}
				return
			}
			if !strings.Contains(p, tc.want) {
				t.Errorf("problems %q, want %q", p, tc.want)
			}
			if s := parseString(t, log).summary(); !strings.Contains(s, " FAIL ") {
				t.Errorf("summary does not say FAIL: %s", s)
			}
		})
	}
	if p := parseString(t, "").problems(); len(p) < 4 {
		t.Errorf("an empty log: problems %q", p)
	}
	if p := parseString(t, "PWK uname 6.1\nPWK done\nPWK host qemu-rc=0 timeout=no wall=1\n").problems(); !strings.Contains(strings.Join(p, ";"), "no test binary ran") {
		t.Errorf("no binaries: problems %q", p)
	}
}

// TestSockBefore63: sock rejected on a kernel without its tracepoints is
// "not supported", not a failure; rejected where they exist it fails.
func TestSockBefore63(t *testing.T) {
	old := "PWK hooks sock rc=0 secs=3 attached=sock err=- | -"
	rejected := "PWK hooks sock rc=1 secs=1 attached=- err=propwatch: no hook set loaded | -"
	log := strings.Replace(passing612, old, rejected, 1)
	if p := parseString(t, log).problems(); len(p) != 1 || !strings.Contains(p[0], "hook set sock FAILED") {
		t.Errorf("sock rejected where its tracepoints are: problems %q", p)
	}
	k := parseString(t, strings.Replace(log, "sock-tracepoints present", "sock-tracepoints absent", 1))
	if p := k.problems(); len(p) != 0 {
		t.Errorf("problems %q, want none", p)
	}
	if s := k.summary(); !strings.Contains(s, "loaded: btf raw syscalls (not supported: sock)") {
		t.Errorf("summary: %s", s)
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.log")
	bad := filepath.Join(dir, "bad.log")
	os.WriteFile(good, []byte(passing612), 0o644)
	os.WriteFile(bad, []byte(strings.Replace(passing612, "PWK done\n", "", 1)), 0o644)
	var out strings.Builder
	if ok, err := run([]string{good}, &out); !ok || err != nil {
		t.Errorf("one passing kernel: ok=%v err=%v\n%s", ok, err, out.String())
	}
	out.Reset()
	if ok, err := run([]string{good, bad}, &out); ok || err != nil {
		t.Errorf("one kernel crashed: ok=%v err=%v\n%s", ok, err, out.String())
	}
	if !strings.Contains(out.String(), "PROBLEM: guest did not finish") {
		t.Errorf("output does not name the problem:\n%s", out.String())
	}
	if _, err := run([]string{filepath.Join(dir, "absent.log")}, &out); err == nil {
		t.Error("a missing log is no error")
	}
	if _, err := run(nil, &out); err == nil {
		t.Error("no logs is no error")
	}
}

// TestFailureTail: the output ends with the failed subtest's own last
// lines (what a CI excerpt shows), not its parent's or a passing test's.
func TestFailureTail(t *testing.T) {
	log := strings.Replace(passing612, `    --- PASS: TestVerifierStats/syscalls (0.50s)`, `    --- FAIL: TestVerifierStats/syscalls (0.50s)`, 1)
	log = strings.Replace(log, `    loader_linux_test.go:930: pw_exit_read           7000 instructions verified`,
		"    loader_linux_test.go:930: pw_exit_read           7000 instructions verified\n    loader_linux_test.go:99: pairs: got 3 requests, want 4", 1)
	log = strings.Replace(log, "--- PASS: TestVerifierStats (1.00s)", "--- FAIL: TestVerifierStats (1.00s)", 1)
	dir := t.TempDir()
	f := filepath.Join(dir, "bad.log")
	os.WriteFile(f, []byte(log), 0o644)
	var out strings.Builder
	if ok, err := run([]string{f}, &out); ok || err != nil {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
	_, tail, found := strings.Cut(out.String(), "-- 6.12.107+deb12-cloud-amd64 FAILED: ")
	if !found {
		t.Fatalf("no FAILED line after the summary:\n%s", out.String())
	}
	want := "internal_loader.test: FAIL TestVerifierStats TestVerifierStats/syscalls\n" +
		"   TestVerifierStats/syscalls, last lines:\n" +
		"   |     loader_linux_test.go:930: pw_exit_read           7000 instructions verified\n" +
		"   |     loader_linux_test.go:99: pairs: got 3 requests, want 4\n"
	if tail != want {
		t.Errorf("tail:\n%s\nwant:\n%s", tail, want)
	}
}
