//go:build linux

package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/propwatch/propwatch/internal/loader"
	"github.com/propwatch/propwatch/internal/privtest"
	"github.com/propwatch/propwatch/internal/report"
)

// capNumbers maps the capability names Kubernetes uses (no CAP_ prefix)
// to their numbers.
var capNumbers = map[string]int{
	"CHOWN": unix.CAP_CHOWN, "DAC_OVERRIDE": unix.CAP_DAC_OVERRIDE, "DAC_READ_SEARCH": unix.CAP_DAC_READ_SEARCH,
	"FOWNER": unix.CAP_FOWNER, "FSETID": unix.CAP_FSETID, "KILL": unix.CAP_KILL, "SETGID": unix.CAP_SETGID,
	"SETUID": unix.CAP_SETUID, "SETPCAP": unix.CAP_SETPCAP, "LINUX_IMMUTABLE": unix.CAP_LINUX_IMMUTABLE,
	"NET_BIND_SERVICE": unix.CAP_NET_BIND_SERVICE, "NET_BROADCAST": unix.CAP_NET_BROADCAST,
	"NET_ADMIN": unix.CAP_NET_ADMIN, "NET_RAW": unix.CAP_NET_RAW, "IPC_LOCK": unix.CAP_IPC_LOCK,
	"IPC_OWNER": unix.CAP_IPC_OWNER, "SYS_MODULE": unix.CAP_SYS_MODULE, "SYS_RAWIO": unix.CAP_SYS_RAWIO,
	"SYS_CHROOT": unix.CAP_SYS_CHROOT, "SYS_PTRACE": unix.CAP_SYS_PTRACE, "SYS_PACCT": unix.CAP_SYS_PACCT,
	"SYS_ADMIN": unix.CAP_SYS_ADMIN, "SYS_BOOT": unix.CAP_SYS_BOOT, "SYS_NICE": unix.CAP_SYS_NICE,
	"SYS_RESOURCE": unix.CAP_SYS_RESOURCE, "SYS_TIME": unix.CAP_SYS_TIME, "SYS_TTY_CONFIG": unix.CAP_SYS_TTY_CONFIG,
	"MKNOD": unix.CAP_MKNOD, "LEASE": unix.CAP_LEASE, "AUDIT_WRITE": unix.CAP_AUDIT_WRITE,
	"AUDIT_CONTROL": unix.CAP_AUDIT_CONTROL, "SETFCAP": unix.CAP_SETFCAP, "MAC_OVERRIDE": unix.CAP_MAC_OVERRIDE,
	"MAC_ADMIN": unix.CAP_MAC_ADMIN, "SYSLOG": unix.CAP_SYSLOG, "WAKE_ALARM": unix.CAP_WAKE_ALARM,
	"BLOCK_SUSPEND": unix.CAP_BLOCK_SUSPEND, "AUDIT_READ": unix.CAP_AUDIT_READ, "PERFMON": unix.CAP_PERFMON,
	"BPF": unix.CAP_BPF, "CHECKPOINT_RESTORE": unix.CAP_CHECKPOINT_RESTORE,
}

// unprivileged is the user the test's peers run as: their /proc/PID/environ
// is theirs alone (mode 0400), as a workload's is in a pod with
// runAsNonRoot.
var unprivileged = &syscall.Credential{Uid: 65534, Gid: 65534}

// TestRunUnderManifestCaps runs `propwatch run` the way deploy/daemonset.yaml
// runs it, with the capabilities it reads from the manifest: UID 0 with only
// those capabilities in its bounding, permitted and effective sets (the rest
// dropped, none inheritable or ambient), no_new_privs
// (allowPrivilegeEscalation: false), and tracefs mounted (the manifest's
// hostPath). Under each hook set this kernel has, peers running as an
// unprivileged user exchange the end-to-end mix, and the report must count
// it exactly under their OTEL_SERVICE_NAME. Then, without SYS_PTRACE or
// without DAC_READ_SEARCH, propwatch still captures every request but can no
// longer read the peers' environments, so it names them by their command:
// what each of the two is for.
func TestRunUnderManifestCaps(t *testing.T) {
	privtest.RequireBPF(t)
	capsh, err := exec.LookPath("capsh")
	if err != nil {
		capsh, err = exec.LookPath("/usr/sbin/capsh") // not on every PATH
	}
	if err != nil {
		msg := "capsh not found (Debian: apt-get install libcap2-bin)"
		if os.Getenv(privtest.EnvRequire) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	sc := readManifest(t).container(t).SecurityContext
	if sc.RunAsUser == nil || *sc.RunAsUser != 0 || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Fatal("this test runs propwatch as the manifest does, as UID 0 with no_new_privs; the manifest says otherwise now")
	}
	caps := sc.Capabilities.Add
	t.Logf("the manifest's capabilities: %v", caps)

	bin := buildPropwatch(t)
	// The peers run as an unprivileged user, so their binary must be
	// where that user can run it: a copy of this test binary, under a
	// command name of its own.
	dir, err := os.MkdirTemp("", "propwatch-caps-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	peerBin := filepath.Join(dir, "pwpeer")
	copyFile(t, os.Args[0], peerBin)

	for _, set := range []loader.HookSet{loader.HooksSock, loader.HooksBTF, loader.HooksRaw, loader.HooksSyscalls} {
		t.Run(string(set), func(t *testing.T) {
			// Whether this kernel has the set at all, asked as root with
			// every capability (for syscalls this mounts tracefs when it
			// is missing, as the host does for the manifest's hostPath).
			l, err := loader.Open(loader.Config{Hooks: set})
			if err != nil {
				t.Skipf("this kernel does not load %s even as root: %v", set, err)
			}
			l.Close()
			if set == loader.HooksSyscalls && perfParanoid(t) >= 3 {
				// Debian's kernels add level 3 to perf_event_paranoid
				// (their default), at which perf_event_open, and so
				// attaching a syscall tracepoint, needs CAP_SYS_ADMIN,
				// not CAP_PERFMON. The other sets attach through BPF
				// links and are not affected; auto takes one of them.
				out := capRefused(t, capsh, bin, caps, string(set))
				if !strings.Contains(out, "syscalls: attach tracepoint") || !strings.Contains(out, "permission denied") {
					t.Fatalf("syscalls under the manifest's capabilities at perf_event_paranoid 3: want the attach refused, got:\n%s", out)
				}
				t.Skipf("perf_event_paranoid is 3 (Debian): the syscall tracepoints need CAP_SYS_ADMIN, and propwatch says so: %s",
					firstLine(out, "syscalls:"))
			}

			run := capRun(t, capsh, bin, peerBin, caps, string(set))
			if !strings.Contains(run.log, "set="+string(set)) {
				t.Errorf("not attached to %s:\n%s", set, run.log)
			}
			main := run.pairs[[2]string{run.svc("checkout"), run.svc("inventory")}]
			check := func(what string, got, want uint64) {
				t.Helper()
				if got != want {
					t.Errorf("checkout -> inventory %s = %d, want %d", what, got, want)
				}
			}
			check("requests", main.Requests, mixRequests)
			check("missing_context", main.MissingContext, mixMissing)
			check("invalid_context", main.InvalidContext, mixInvalid)
			check("pii email", main.PIIByKind["email"], mixPII)
			if len(run.pairs) != 1 {
				t.Errorf("pairs of this test: %v, want only checkout -> inventory", run.pairs)
			}
			// The server's runtime, told from /proc/PID/exe.
			if rt := run.runtime(run.svc("inventory")); rt != "go" {
				t.Errorf("inventory's runtime %q, want go", rt)
			}
			// TLS capture wants SYS_ADMIN, which the manifest does not
			// add: one line says it is off and why (when there was a
			// TLS library to attach to), and the rest ran, as counted.
			if slices.Contains(caps, "SYS_ADMIN") {
				t.Fatal("the manifest adds SYS_ADMIN: this test and the README say it does not")
			}
			if n := strings.Count(run.log, "TLS capture off"); n > 1 || n == 1 && !strings.Contains(run.log, "CAP_SYS_ADMIN") {
				t.Errorf("%d TLS capture off lines, want at most one naming CAP_SYS_ADMIN:\n%s", n, run.log)
			}
		})
	}

	// Without SYS_PTRACE, /proc/PID/exe is refused (so is environ, on
	// kernels that check it as mainline does; the CI's 6.18 lets it
	// through): the runtime is unknown, the requests all counted.
	t.Run("without_SYS_PTRACE", func(t *testing.T) {
		run := capRun(t, capsh, bin, peerBin, without(t, caps, "SYS_PTRACE"), string(loader.HooksAuto))
		var counted uint64
		for _, p := range run.rep.Pairs {
			if p.Protocol == "http" && (p.Source == run.svc("checkout") || p.Source == "pwpeer") &&
				(p.Destination == run.svc("inventory") || p.Destination == "pwpeer") {
				counted += p.Requests
				t.Logf("%s -> %s: %d requests", p.Source, p.Destination, p.Requests)
			}
		}
		if counted != mixRequests {
			t.Errorf("requests counted: %d, want %d", counted, mixRequests)
		}
		for _, name := range []string{run.svc("inventory"), "pwpeer"} {
			if rt := run.runtime(name); rt == "go" {
				t.Errorf("%s's runtime told without SYS_PTRACE", name)
			}
		}
	})

	// Without DAC_READ_SEARCH, the peers' /proc/PID/environ (mode 0400,
	// theirs) is refused to UID 0: they are named by their command.
	t.Run("without_DAC_READ_SEARCH", func(t *testing.T) {
		run := capRun(t, capsh, bin, peerBin, without(t, caps, "DAC_READ_SEARCH"), string(loader.HooksAuto))
		if len(run.pairs) != 0 {
			t.Errorf("peers named from their environment without DAC_READ_SEARCH: %v", run.pairs)
		}
		var byCommand uint64
		for _, p := range run.rep.Pairs {
			if p.Protocol == "http" && p.Source == "pwpeer" && p.Destination == "pwpeer" {
				byCommand += p.Requests
			}
		}
		if byCommand != mixRequests {
			t.Errorf("pwpeer -> pwpeer (the peers' command): %d requests, want %d", byCommand, mixRequests)
		}
	})
}

// without returns caps without c, which the manifest must add.
func without(t *testing.T, caps []string, c string) []string {
	t.Helper()
	if !slices.Contains(caps, c) {
		t.Skipf("the manifest does not add %s", c)
	}
	return slices.DeleteFunc(slices.Clone(caps), func(x string) bool { return x == c })
}

// capResult is what one capRun saw.
type capResult struct {
	svc   func(string) string
	log   string
	rep   report.Report
	pairs map[[2]string]report.ReportPair
}

// runtime returns the runtime the report gives service, or "".
func (r capResult) runtime(service string) string {
	for _, sv := range r.rep.Services {
		if sv.Service == service {
			return sv.Runtime
		}
	}
	return ""
}

// capRun runs propwatch with --hooks hooks under capsh, as UID 0 with only
// caps and no_new_privs, checks that the running process has exactly those
// capabilities, and has an unprivileged client send the mix to an
// unprivileged server.
func capRun(t *testing.T, capsh, bin, peerBin string, caps []string, hooks string) capResult {
	t.Helper()
	tag := fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	res := capResult{svc: func(name string) string { return "caps-" + name + "-" + tag }}

	server := startPeerAs(t, peerBin, "server", res.svc("inventory"))
	addr := server.line(t)

	reportPath := filepath.Join(t.TempDir(), "report.json")
	metricsAddr := freePort(t)
	args := append(capshArgs(t, caps), "--shell="+bin, "--",
		"run", "--quiet", "--hooks", hooks, "--report", reportPath, "--metrics-addr", metricsAddr)
	pw := startRunning(t, exec.Command(capsh, args...))
	checkProcessCaps(t, pw.cmd.Process.Pid, caps)

	client := startPeerAs(t, peerBin, "client", res.svc("checkout"), "PEER_ADDR="+addr)
	if got := client.line(t); got != "done" {
		t.Fatalf("client peer: %q", got)
	}
	time.Sleep(time.Second) // the name delay
	if health := scrape(t, "http://"+metricsAddr+"/healthz"); !strings.HasPrefix(health, "ok") {
		t.Errorf("/healthz = %q", health)
	}
	logMemory(t, pw.cmd.Process.Pid)
	pw.stop(t)
	_, res.rep, res.pairs = pw.report(t, reportPath, "http", tag)
	res.log = pw.log.String()
	return res
}

// capshArgs are capsh's arguments that leave only caps: every other
// capability the kernel has dropped from the bounding set (which needs
// CAP_SETPCAP, so first), the permitted and effective sets cut to caps,
// and no_new_privs.
// perfParanoid reads kernel.perf_event_paranoid.
func perfParanoid(t *testing.T) int { return procInt(t, "/proc/sys/kernel/perf_event_paranoid") }

// capRefused runs propwatch with --hooks hooks under capsh with only caps,
// as capRun does, expecting it to fail before attaching, and returns what
// it printed.
func capRefused(t *testing.T, capsh, bin string, caps []string, hooks string) string {
	t.Helper()
	args := append(capshArgs(t, caps), "--shell="+bin, "--", "run", "--quiet", "--hooks", hooks, "--duration", "1s")
	out, err := exec.Command(capsh, args...).CombinedOutput()
	if err == nil {
		t.Fatalf("propwatch run --hooks %s attached under %v:\n%s", hooks, caps, out)
	}
	return string(out)
}

// firstLine returns the first line of s that contains sub, trimmed.
func firstLine(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

func capshArgs(t *testing.T, caps []string) []string {
	t.Helper()
	keep := map[int]bool{}
	var names []string
	for _, c := range caps {
		n, ok := capNumbers[c]
		if !ok {
			t.Fatalf("unknown capability %q in the manifest", c)
		}
		keep[n] = true
		names = append(names, "cap_"+strings.ToLower(c))
	}
	var drop []string
	for n := 0; n <= lastCap(t); n++ {
		if !keep[n] {
			drop = append(drop, strconv.Itoa(n))
		}
	}
	return []string{"--drop=" + strings.Join(drop, ","), "--caps=" + strings.Join(names, ",") + "=ep", "--no-new-privs"}
}

// lastCap reads the highest capability number this kernel knows.
func lastCap(t *testing.T) int { return procInt(t, "/proc/sys/kernel/cap_last_cap") }

// procInt reads the integer a /proc file holds.
func procInt(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// checkProcessCaps checks that process pid runs as UID 0 with no_new_privs
// and exactly caps in its bounding, permitted and effective sets, and none
// inheritable or ambient.
func checkProcessCaps(t *testing.T, pid int, caps []string) {
	t.Helper()
	var want uint64
	for _, c := range caps {
		want |= 1 << capNumbers[c]
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for line := range strings.SplitSeq(string(status), "\n") {
		k, v, _ := strings.Cut(line, ":")
		fields[k] = strings.TrimSpace(v)
	}
	for set, w := range map[string]uint64{"CapBnd": want, "CapPrm": want, "CapEff": want, "CapInh": 0, "CapAmb": 0} {
		got, err := strconv.ParseUint(fields[set], 16, 64)
		if err != nil || got != w {
			t.Errorf("propwatch's %s = %s, want %016x", set, fields[set], w)
		}
	}
	if fields["NoNewPrivs"] != "1" {
		t.Errorf("propwatch's NoNewPrivs = %q", fields["NoNewPrivs"])
	}
	if uids := strings.Fields(fields["Uid"]); len(uids) != 4 || uids[1] != "0" {
		t.Errorf("propwatch's Uid = %q", fields["Uid"])
	}
}

// logMemory logs what the pod's memory limit must hold: propwatch's peak
// RSS, and the kernel memory of the maps it holds (charged to its memory
// cgroup since Linux 5.11).
func logMemory(t *testing.T, pid int) {
	t.Helper()
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	var hwm string
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			hwm = strings.TrimSpace(v)
		}
	}
	fdDir := fmt.Sprintf("/proc/%d/fdinfo", pid)
	entries, _ := os.ReadDir(fdDir)
	var maps, memlock uint64
	for _, e := range entries {
		link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		if link != "anon_inode:bpf-map" {
			continue
		}
		info, _ := os.ReadFile(filepath.Join(fdDir, e.Name()))
		for line := range strings.SplitSeq(string(info), "\n") {
			if v, ok := strings.CutPrefix(line, "memlock:"); ok {
				n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
				memlock += n
				maps++
			}
		}
	}
	t.Logf("propwatch: peak RSS %s; %d maps, %.1f MiB of kernel memory", hwm, maps, float64(memlock)/(1<<20))
}

// startPeerAs runs the test binary at bin as a peer, as the unprivileged
// user.
func startPeerAs(t *testing.T, bin, role, service string, env ...string) *peer {
	t.Helper()
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), peerEnv+"="+role)
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: unprivileged}
	return startProcess(t, cmd, service)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
