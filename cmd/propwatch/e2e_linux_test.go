//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/propwatch/propwatch/internal/privtest"
	"github.com/propwatch/propwatch/internal/report"
)

// peer is a test peer process.
type peer struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
}

// startPeer runs this test binary as a peer with the given role and
// service name.
func startPeer(t *testing.T, role, service string, env ...string) *peer {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), peerEnv+"="+role)
	cmd.Env = append(cmd.Env, env...)
	return startProcess(t, cmd, service)
}

// startProcess starts cmd with OTEL_SERVICE_NAME=service, its stdin and
// stdout piped to the test. On cleanup its stdin is closed (the peers exit
// then), and it gets SIGTERM, then SIGKILL, if it is still running.
func startProcess(t *testing.T, cmd *exec.Cmd, service string) *peer {
	t.Helper()
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "OTEL_SERVICE_NAME="+service)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &peer{cmd: cmd, stdin: stdin, stdout: bufio.NewReader(out)}
	t.Cleanup(func() {
		stdin.Close()
		if cmd.ProcessState != nil {
			return // waited for already
		}
		done := make(chan struct{})
		go func() { io.Copy(io.Discard, out); cmd.Wait(); close(done) }()
		select {
		case <-done:
			return
		case <-time.After(500 * time.Millisecond):
			cmd.Process.Signal(syscall.SIGTERM)
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
		}
	})
	return p
}

// line reads the peer's next line of output.
func (p *peer) line(t *testing.T) string {
	t.Helper()
	type result struct {
		s   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := p.stdout.ReadString('\n')
		ch <- result{strings.TrimSpace(s), err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("peer %v: %v", p.cmd.Env[len(p.cmd.Env)-1], r.err)
		}
		return r.s
	case <-time.After(30 * time.Second):
		t.Fatal("peer did not answer in 30s")
	}
	return ""
}

// buildPropwatch builds the command once per test binary run, or returns
// PROPWATCH_E2E_BIN when that names a prebuilt one: the kernel matrix
// (make test-kernels) runs this test binary in a guest that has no Go
// toolchain, so it builds propwatch on the host from the same tree.
func buildPropwatch(t *testing.T) string {
	t.Helper()
	if prebuilt := os.Getenv("PROPWATCH_E2E_BIN"); prebuilt != "" {
		if _, err := os.Stat(prebuilt); err != nil {
			t.Fatalf("PROPWATCH_E2E_BIN: %v", err)
		}
		return prebuilt
	}
	bin := filepath.Join(t.TempDir(), "propwatch")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build propwatch: %v", err)
	}
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestObserveHost is the product's main promise, end to end: real
// processes exchange HTTP/1.1 over loopback, `propwatch run` watches them
// from outside, and its report counts every request of every pair exactly.
func TestObserveHost(t *testing.T) {
	privtest.RequireBPF(t)
	bin := buildPropwatch(t)
	tag := fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	svc := func(name string) string { return "e2e-" + name + "-" + tag }

	server := startPeer(t, "server", svc("inventory"))
	addr := server.line(t)
	early := startPeer(t, "early", svc("early"), "PEER_ADDR="+addr)
	if got := early.line(t); got != "connected" {
		t.Fatalf("early peer: %q", got)
	}

	before := capturePrograms(t)
	dir := t.TempDir()
	reportPath := filepath.Join(dir, "report.json")
	metricsAddr := freePort(t)
	pw := startPropwatch(t, bin, "--quiet", "--report", reportPath, "--metrics-addr", metricsAddr)

	// The early client's connection was opened before propwatch started.
	io.WriteString(early.stdin, "go\n")
	if got := early.line(t); got != "done" {
		t.Fatalf("early peer: %q", got)
	}
	client := startPeer(t, "client", svc("checkout"), "PEER_ADDR="+addr)
	if got := client.line(t); got != "done" {
		t.Fatalf("client peer: %q", got)
	}
	bad := startPeer(t, "bad", svc("bad"), "PEER_ADDR="+addr)
	if got := bad.line(t); got != "done" {
		t.Fatalf("bad peer: %q", got)
	}

	// Let the name delay pass, then read the metrics while propwatch runs.
	time.Sleep(time.Second)
	metrics := scrape(t, "http://"+metricsAddr+"/metrics")
	if health := scrape(t, "http://"+metricsAddr+"/healthz"); !strings.HasPrefix(health, "ok") {
		t.Errorf("/healthz = %q", health)
	}
	wantSeries := fmt.Sprintf(`propwatch_requests_total{destination=%q,destination_namespace="",protocol="http",source=%q,source_namespace="",tls="false"} %d`, svc("inventory"), svc("checkout"), mixRequests)
	if !strings.Contains(metrics, wantSeries) {
		t.Errorf("metrics lack %s", wantSeries)
	}

	pw.stop(t)

	raw, rep, pairs := pw.report(t, reportPath, "http", tag)
	t.Logf("pairs of this test: %d", len(pairs))
	for k, p := range pairs {
		t.Logf("%s -> %s: %d requests, %d missing, %d invalid, %d truncated", k[0], k[1], p.Requests, p.MissingContext, p.InvalidContext, p.Truncated)
	}

	main := pairs[[2]string{svc("checkout"), svc("inventory")}]
	check := func(what string, got, want uint64) {
		t.Helper()
		if got != want {
			t.Errorf("checkout -> inventory %s = %d, want %d", what, got, want)
		}
	}
	check("requests", main.Requests, mixRequests)
	check("missing_context", main.MissingContext, mixMissing)
	check("invalid_context", main.InvalidContext, mixInvalid)
	check("invalid_reasons[traceparent.uppercase_hex]", main.InvalidReasons["traceparent.uppercase_hex"], mixInvalid)
	check("oversized_baggage", main.OversizedBaggage, mixBig)
	check("truncated", main.Truncated, mixBig)
	check("pii email", main.PIIByKind["email"], mixPII)
	check("pii payment_card", main.PIIByKind["payment_card"], mixPII)
	check("formats w3c", main.Formats["w3c"], mixRequests-mixMissing)

	earlyPair := pairs[[2]string{svc("early"), svc("inventory")}]
	if earlyPair.Requests != earlyCount || earlyPair.MissingContext != 0 {
		t.Errorf("early -> inventory: %+v", earlyPair)
	}
	// The bad peer's traffic is no request of any pair: only failures.
	if p, ok := pairs[[2]string{svc("bad"), svc("inventory")}]; ok {
		t.Errorf("bad peer produced requests: %+v", p)
	}
	if rep.ParseFailures["http.not_http"] < 1 || rep.ParseFailures["http.incomplete"] < 1 {
		t.Errorf("parse failures: %v", rep.ParseFailures)
	}
	if len(pairs) != 2 {
		t.Errorf("pairs of this test: %d, want 2", len(pairs))
	}

	// Nothing planted may come out, anywhere.
	for name, out := range map[string]string{"report": string(raw), "metrics": metrics, "log": pw.log.String()} {
		for _, planted := range []string{plantedEmail, "planted.canary", plantedCard, "4BF92F35"} {
			if strings.Contains(out, planted) {
				t.Errorf("%s contains planted value %q", name, planted)
			}
		}
	}

	// Nothing of propwatch stays in the kernel: every capture program
	// loaded now was loaded before propwatch started (by another run).
	for id, name := range leftLoaded(t, before) {
		t.Errorf("program %d %s still loaded after exit", id, name)
	}
}

// running is a `propwatch run` under test.
type running struct {
	cmd    *exec.Cmd
	log    *syncBuffer
	exited chan error
}

// startPropwatch runs `propwatch run ARGS` and waits until its capture is
// attached.
func startPropwatch(t *testing.T, bin string, args ...string) *running {
	t.Helper()
	return startRunning(t, exec.Command(bin, append([]string{"run"}, args...)...))
}

// startRunning starts cmd, a `propwatch run` however it is launched, and
// waits until its capture is attached.
func startRunning(t *testing.T, cmd *exec.Cmd) *running {
	t.Helper()
	r := &running{cmd: cmd, log: &syncBuffer{}, exited: make(chan error, 1)}
	r.cmd.Stdout = r.log
	attached := make(chan struct{})
	r.cmd.Stderr = &watchWriter{w: r.log, want: "capture attached", found: attached}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.exited <- r.cmd.Wait() }()
	t.Cleanup(func() { r.cmd.Process.Kill() })
	select {
	case <-attached:
	case err := <-r.exited:
		t.Fatalf("propwatch exited before attaching: %v\n%s", err, r.log.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("propwatch did not attach in 60s:\n%s", r.log.String())
	}
	return r
}

// stop stops it the way an operator does, with SIGINT, and wants a clean
// exit.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-r.exited:
		if err != nil {
			t.Fatalf("propwatch exit: %v\n%s", err, r.log.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("propwatch did not stop on SIGINT")
	}
}

// report reads the report propwatch wrote at path (which it must have, with
// no event lost) and the pairs of protocol that have a side named with tag,
// by (source, destination). PROPWATCH_E2E_KEEP=FILE keeps a copy.
func (r *running) report(t *testing.T, path, protocol, tag string) ([]byte, report.Report, map[[2]string]report.ReportPair) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("report: %v\n%s", err, r.log.String())
	}
	if keep := os.Getenv("PROPWATCH_E2E_KEEP"); keep != "" {
		os.WriteFile(keep, raw, 0o644) // for a look by hand
	}
	rep, err := report.ReadJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if rep.LostEvents != 0 {
		t.Errorf("lost events: %v", rep.LostByReason)
	}
	pairs := map[[2]string]report.ReportPair{}
	for _, p := range rep.Pairs {
		if p.Protocol == protocol && (strings.HasSuffix(p.Source, tag) || strings.HasSuffix(p.Destination, tag)) {
			pairs[[2]string{p.Source, p.Destination}] = p
		}
	}
	return raw, rep, pairs
}

// leftLoaded returns the capture programs loaded now that were not before,
// waiting up to 3s for them to go: the kernel frees a program an RCU grace
// period after its last reference, not at the exit of the process.
func leftLoaded(t *testing.T, before map[ebpf.ProgramID]string) map[ebpf.ProgramID]string {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		left := map[ebpf.ProgramID]string{}
		for id, name := range capturePrograms(t) {
			if _, ok := before[id]; !ok {
				left[id] = name
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// capturePrograms lists the loaded programs named like propwatch's.
func capturePrograms(t *testing.T) map[ebpf.ProgramID]string {
	t.Helper()
	out := map[ebpf.ProgramID]string{}
	var id ebpf.ProgramID
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if errors.Is(err, os.ErrNotExist) {
			return out
		}
		if err != nil {
			t.Fatalf("list programs: %v", err)
		}
		id = next
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue // unloaded meanwhile
		}
		info, err := p.Info()
		p.Close()
		if err == nil && strings.HasPrefix(info.Name, "pw_") {
			out[id] = info.Name
		}
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// watchWriter passes writes on and closes found when want is written.
type watchWriter struct {
	w     io.Writer
	want  string
	found chan struct{}
	seen  bool
	buf   []byte
}

func (w *watchWriter) Write(p []byte) (int, error) {
	if !w.seen {
		w.buf = append(w.buf, p...)
		if bytes.Contains(w.buf, []byte(w.want)) {
			w.seen = true
			close(w.found)
			w.buf = nil
		}
	}
	return w.w.Write(p)
}

// syncBuffer is a bytes.Buffer safe for the writes of a child's stdout and
// stderr copiers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
