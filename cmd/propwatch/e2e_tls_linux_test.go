//go:build linux

package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"golang.org/x/sys/unix"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/propwatch/propwatch/internal/loader"
	"github.com/propwatch/propwatch/internal/privtest"
	"github.com/propwatch/propwatch/internal/report"
)

// End-to-end tests of TLS capture (issue 14, docs/tls.md): the plaintext
// that OpenSSL (libssl, and node's own copy) and Go's crypto/tls hand
// over is judged like socket bytes, each request once, on a pair that
// says tls: true, and the ciphertext on the socket counts as nothing.
// The peers' mix is tlsMix (tls_peer_test.go).

// tlsAttachedLog is what propwatch logs, one line per file, when it has
// attached the TLS probes to a file (a libssl, node, a Go binary); the
// line also names the file's kind and path (internal/tlswatch, not yet on
// main: msg="TLS file attached" kind=openssl path=...). The tests wait for
// it, with the path of the file the peer maps, before the peer sends.
const tlsAttachedLog = "TLS file attached"

// tlsCerts are the files of a CA and a server certificate it signed, for
// 127.0.0.1, ::1 and localhost, made for one test.
type tlsCerts struct {
	ca, cert, key string
}

// makeTLSCerts writes a self-signed CA and a server certificate (ECDSA
// P-256, valid for an hour) into a temp dir.
func makeTLSCerts(t *testing.T) tlsCerts {
	t.Helper()
	dir := t.TempDir()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	now := time.Now()
	caKey := newKey()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "propwatch e2e CA"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key := newKey()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return tlsCerts{
		ca:   write("ca.pem", "CERTIFICATE", caDER),
		cert: write("server.pem", "CERTIFICATE", der),
		key:  write("server-key.pem", "PRIVATE KEY", keyDER),
	}
}

// serverEnv and clientEnv are the peers' environment for these files.
func (c tlsCerts) serverEnv() []string {
	return []string{"PEER_TLS_CERT=" + c.cert, "PEER_TLS_KEY=" + c.key}
}

func (c tlsCerts) clientEnv() []string { return []string{"PEER_TLS_CA=" + c.ca} }

// envRequireTLSTools set to "1" makes a missing nginx, curl or node fail
// the TLS tests instead of skipping them. .ci/run sets it for make test,
// where it installs them; the kernel matrix's guests have none of them,
// and run the TLS tests that need only Go.
const envRequireTLSTools = "PROPWATCH_REQUIRE_TLS_TOOLS"

// haveTool returns the path of an installed program, or ok false when it
// is missing; it fails the test instead under PROPWATCH_REQUIRE_TLS_TOOLS=1.
func haveTool(t *testing.T, name, pkg string) (path string, ok bool) {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv(envRequireTLSTools) == "1" {
			t.Fatalf("%s is not installed (apt-get install %s; %s=1: this test must run)", name, pkg, envRequireTLSTools)
		}
		return "", false
	}
	return path, true
}

// requireTool is haveTool that skips the test when the program is missing.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, ok := haveTool(t, name, pkg)
	if !ok {
		t.Skipf("%s is not installed (apt-get install %s)", name, pkg)
	}
	return path
}

// tlsWant is what a TLS pair must count: every request of the mix once,
// over the protocol.
type tlsWant struct {
	src, dst, protocol string
	requests, missing  uint64
	invalid, email     uint64
}

// mixWant is tlsWant for n runs of tlsMix.
func mixWant(src, dst, protocol string, n uint64) tlsWant {
	return tlsWant{src, dst, protocol, n * tlsRequests, n * tlsMissing, n * tlsInvalid, n * tlsPII}
}

// checkTLSPairs checks that the pairs that touch the test (related) are
// exactly the wanted ones, each with tls: true and exact counts: anything
// else related (the same ends without tls, the ciphertext read as
// something, a gap) is an error.
func checkTLSPairs(t *testing.T, pairs []report.ReportPair, related func(report.ReportPair) bool, wants ...tlsWant) {
	t.Helper()
	found := make([]bool, len(wants))
	for _, p := range pairs {
		if !related(p) {
			continue
		}
		t.Logf("%s -> %s (%s, tls %v): %d requests, %d missing, %d invalid, %d truncated, pii %v, gaps %v, formats %v",
			p.Source, p.Destination, p.Protocol, p.TLS, p.Requests, p.MissingContext, p.InvalidContext, p.Truncated,
			p.PIIByKind, p.CoverageGaps, p.Formats)
		i := slices.IndexFunc(wants, func(w tlsWant) bool {
			return w.src == p.Source && w.dst == p.Destination && w.protocol == p.Protocol && p.TLS
		})
		if i < 0 || found[i] {
			t.Errorf("unexpected pair %s -> %s (%s, tls %v): %d requests, gaps %v",
				p.Source, p.Destination, p.Protocol, p.TLS, p.Requests, p.CoverageGaps)
			continue
		}
		found[i] = true
		w := wants[i]
		check := func(what string, got, want uint64) {
			t.Helper()
			if got != want {
				t.Errorf("%s -> %s %s = %d, want %d", w.src, w.dst, what, got, want)
			}
		}
		check("requests", p.Requests, w.requests)
		check("missing_context", p.MissingContext, w.missing)
		check("invalid_context", p.InvalidContext, w.invalid)
		check("invalid_reasons[traceparent.uppercase_hex]", p.InvalidReasons["traceparent.uppercase_hex"], w.invalid)
		check("formats[w3c]", p.Formats["w3c"], w.requests-w.missing)
		check("pii_by_kind[email]", p.PIIByKind["email"], w.email)
		check("truncated", p.Truncated, 0)
		check("oversized_baggage", p.OversizedBaggage, 0)
		for kind, n := range p.PIIByKind {
			if kind != "email" && n != 0 {
				t.Errorf("%s -> %s pii_by_kind[%s] = %d, want 0", w.src, w.dst, kind, n)
			}
		}
		if len(p.CoverageGaps) != 0 {
			t.Errorf("%s -> %s coverage gaps %v, want none", w.src, w.dst, p.CoverageGaps)
		}
	}
	for i, w := range wants {
		if !found[i] {
			t.Errorf("no pair %s -> %s (%s) with tls: true", w.src, w.dst, w.protocol)
		}
	}
}

// noParseFailures fails on any Kafka parse failure but up to notKafka
// kafka.not_kafka: the ciphertext of a TLS connection must not reach the
// decoders at all (the socket hooks skip a socket whose TLS library calls
// are read), and the Kafka sniffer, which looks at any port, is where it
// would show. Parse failures are not per pair, and other processes of the
// host make HTTP ones now and then (3 http.incomplete in one run here):
// those are logged only, as in the other end-to-end tests.
func noParseFailures(t *testing.T, rep report.Report, notKafka uint64) {
	t.Helper()
	for code, n := range rep.ParseFailures {
		if n == 0 {
			continue
		}
		if strings.HasPrefix(code, "kafka.") && (code != "kafka.not_kafka" || n > notKafka) {
			t.Errorf("parse failure %s: %d", code, n)
		} else {
			t.Logf("parse failure %s: %d", code, n)
		}
	}
}

// noPlanted fails when a planted value came out in the report or the log.
func noPlanted(t *testing.T, raw []byte, pw *running) {
	t.Helper()
	for name, out := range map[string]string{"report": string(raw), "log": pw.log.String()} {
		for _, planted := range []string{plantedEmail, "planted.canary", "4BF92F35"} {
			if strings.Contains(out, planted) {
				t.Errorf("%s contains planted value %q", name, planted)
			}
		}
	}
}

// waitLog waits until a line of propwatch's log holds every one of parts,
// and returns it. It fails if propwatch exits first, or after timeout.
func waitLog(t *testing.T, pw *running, timeout time.Duration, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, line := range strings.Split(pw.log.String(), "\n") {
			if !slices.ContainsFunc(parts, func(s string) bool { return !strings.Contains(line, s) }) {
				return line
			}
		}
		select {
		case err := <-pw.exited:
			pw.exited <- err // for stop
			t.Fatalf("propwatch exited (%v) before logging %q:\n%s", err, parts, pw.log.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("propwatch did not log a line with %q in %v:\n%s", parts, timeout, pw.log.String())
		}
	}
}

// waitAttached waits for propwatch's line saying it attached the TLS
// probes to path.
func waitAttached(t *testing.T, pw *running, path string) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	// The log names the file by device and inode, not by its path.
	file := fmt.Sprintf("file=%d:%d ", st.Dev, st.Ino)
	t.Logf("attached: %s", waitLog(t, pw, 20*time.Second, tlsAttachedLog, file))
}

// tlsFileOf is the file whose TLS functions process pid runs: the libssl
// it maps, else its executable (node with OpenSSL linked in, a Go binary),
// as the process's maps name it.
func tlsFileOf(t *testing.T, pid int) string {
	t.Helper()
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(maps), "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 && strings.HasPrefix(filepath.Base(f[5]), "libssl.so") {
			return f[5]
		}
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// e2eTag returns a random tag and the service naming of a test.
func e2eTag() (string, func(string) string) {
	tag := fmt.Sprintf("%06x", mrand.Uint32()&0xffffff)
	return tag, func(name string) string { return "e2e-" + name + "-" + tag }
}

// TestTLSFixtures runs the TLS tests' peers without propwatch, so that a
// failure of those tests is not the fixtures': the Go client and server
// over HTTP/1.1 and h2, curl to nginx on a libssl copy (the gate, the
// stdin hold and the request after it), the Node.js client, and franz-go
// with the TLS broker. It needs no root.
func TestTLSFixtures(t *testing.T) {
	certs := makeTLSCerts(t)
	_, svc := e2eTag()
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "go-http1", true: "go-h2"}[h2], func(t *testing.T) {
			server := startPeer(t, "tls-server", svc("gosrv"), append(certs.serverEnv(), h2Env(h2))...)
			cl := startTLSClient(t, svc("gocli"), server.line(t), certs, h2)
			sendMix(t, cl)
			sendMix(t, cl)
		})
	}
	t.Run("nginx-curl", func(t *testing.T) {
		nginx := requireTool(t, "nginx", "nginx")
		curl := requireTool(t, "curl", "curl")
		env, lib := privateLibSSL(t, nginx)
		ng := startNginxTLS(t, nginx, certs, env...)
		if got := tlsFileOf(t, ng.cmd.Process.Pid); got != lib {
			t.Errorf("nginx maps %s, not the copy %s", got, lib)
		}
		gate := makeGate(t)
		cl := curlMix(t, curl, certs, ng.port, svc("curl"), gate, env...)
		readOKs(t, cl, 1)
		if got := tlsFileOf(t, cl.cmd.Process.Pid); got != lib {
			t.Errorf("curl maps %s, not the copy %s", got, lib)
		}
		openGate(t, gate)
		readOKs(t, cl, tlsRequests)
		finishCurl(t, cl)
	})
	t.Run("node", func(t *testing.T) {
		node := requireTool(t, "node", "nodejs")
		server := startPeer(t, "tls-server", svc("gosrv"), append(certs.serverEnv(), "TLS_H2=0")...)
		cl := startNodeClient(t, node, svc("nodecli"), server.line(t), certs)
		t.Logf("node's TLS: %s", tlsFileOf(t, cl.cmd.Process.Pid))
		sendMix(t, cl)
		sendMix(t, cl)
	})
	t.Run("kafka", func(t *testing.T) {
		broker := startPeer(t, "tls-kafka-broker", svc("tlsbroker"), certs.serverEnv()...)
		env := append(certs.clientEnv(), "PEER_ADDR="+broker.line(t))
		if got := startPeer(t, "kafka-producer", svc("tp"), append(slices.Clone(env), "KAFKA_TOPIC=orders",
			"KAFKA_CODEC=gzip", "KAFKA_HEADERS=pii", "KAFKA_N=5")...).line(t); got != "done" {
			t.Fatalf("producer: %q", got)
		}
		if got := startPeer(t, "kafka-consumer", svc("tc"), append(slices.Clone(env), "KAFKA_TOPIC=orders",
			"KAFKA_N=5")...).line(t); got != "done" {
			t.Fatalf("consumer: %q", got)
		}
	})
}

// --- nginx and curl ---------------------------------------------------------

// nginxTLS is an nginx serving HTTPS on loopback with the test's
// certificate, from a prefix of its own: "ok" to every request.
type nginxTLS struct {
	cmd  *exec.Cmd
	port string
	out  *syncBuffer
}

// startNginxTLS starts nginx, with env added to its environment
// (LD_LIBRARY_PATH for a libssl of the test's own), and waits until it
// listens. It stops on cleanup.
func startNginxTLS(t *testing.T, nginx string, certs tlsCerts, env ...string) *nginxTLS {
	t.Helper()
	dir := t.TempDir()
	addr := freePort(t)
	_, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(dir, "nginx.conf")
	// Everything nginx writes goes to dir (error log with -e, before the
	// config is read; temp paths, else /var/lib/nginx).
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`daemon off;
master_process on;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    server {
        listen %[2]s ssl;
        ssl_certificate %[3]s;
        ssl_certificate_key %[4]s;
        location / {
            default_type text/plain;
            return 200 "ok\n";
        }
    }
}
`, dir, addr, certs.cert, certs.key)), 0o644); err != nil {
		t.Fatal(err)
	}
	n := &nginxTLS{port: port, out: &syncBuffer{}}
	n.cmd = exec.Command(nginx, "-c", conf, "-p", dir, "-e", filepath.Join(dir, "error.log"))
	n.cmd.Env = append(os.Environ(), env...)
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { n.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		n.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			n.cmd.Process.Kill()
			<-exited
		}
	})
	// A plain connect: a TLS handshake from the test binary, a Go program
	// propwatch may have probes on, would be traffic of its own.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return n
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %s%s", n.out.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx does not listen on %s after 10s", addr)
		}
	}
}

// privateLibSSL copies the system's libssl into a temp dir and returns the
// LD_LIBRARY_PATH that makes nginx and curl load the copy: a file no
// process maps when propwatch starts, so that its probes can only come
// from watching execs.
func privateLibSSL(t *testing.T, nginx string) (env []string, path string) {
	t.Helper()
	out, err := exec.Command("ldd", nginx).Output()
	if err != nil {
		t.Fatalf("ldd %s: %v", nginx, err)
	}
	var sys string
	for _, line := range strings.Split(string(out), "\n") {
		// libssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x...)
		if f := strings.Fields(line); len(f) >= 3 && strings.HasPrefix(f[0], "libssl.so") && f[1] == "=>" {
			sys = f[2]
		}
	}
	if sys == "" {
		t.Fatalf("%s does not link a shared libssl:\n%s", nginx, out)
	}
	dir := t.TempDir()
	path = filepath.Join(dir, filepath.Base(sys))
	copyFile(t, sys, path)
	return []string{"LD_LIBRARY_PATH=" + dir}, path
}

// curlMix starts curl sending the mix to https://127.0.0.1:port on one
// connection, named service, with env added (LD_LIBRARY_PATH). Each
// response prints "ok"; after the mix curl reads its stdin to the end (a
// file:// transfer), so that it is still running when propwatch names it,
// and once the test closes it, sends one request more (/after; see
// finishCurl) and exits. With gate set (a FIFO), curl first sends one
// request (/warmup) and then waits for the FIFO's writer to close it
// before the mix, on the same connection.
func curlMix(t *testing.T, curl string, certs tlsCerts, port, service, gate string, env ...string) *peer {
	t.Helper()
	base := "https://127.0.0.1:" + port
	// One group of options per transfer, between --next; curl keeps the
	// connection for the next group to the same host.
	tls := []string{"-sS", "-N", "--fail", "--cacert", certs.ca}
	args := []string{"--fail-early"}
	if gate != "" {
		args = append(args, tls...)
		args = append(args, base+"/warmup", "--next", "-sS", "file://"+gate, "--next")
	}
	for _, r := range tlsMix() {
		args = append(args, tls...)
		for k, v := range r.Headers {
			args = append(args, "-H", k+": "+v)
		}
		if r.Body != "" {
			args = append(args, "-X", r.Method, "--data-binary", r.Body)
		}
		args = append(args, base+r.Path, "--next")
	}
	args = append(args, "-sS", "file:///dev/stdin", "--next")
	args = append(args, tls...)
	args = append(args, base+"/after")
	cmd := exec.Command(curl, args...)
	cmd.Env = append(os.Environ(), env...)
	return startProcess(t, cmd, service)
}

// finishCurl closes curl's stdin, reads the response to its last request,
// sent then, and wants it to exit cleanly: after propwatch stopped, a
// process whose TLS library had probes goes on working.
func finishCurl(t *testing.T, cl *peer) {
	t.Helper()
	cl.stdin.Close()
	readOKs(t, cl, 1)
	if err := cl.cmd.Wait(); err != nil {
		t.Errorf("curl: %v", err)
	}
}

// openGate lets a curl waiting on the FIFO gate go on: it opens the FIFO
// for writing, once curl has it open for reading, and closes it.
func openGate(t *testing.T, gate string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		f, err := os.OpenFile(gate, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			f.Close() // curl reads the end of the FIFO and goes on
			return
		}
		if !errors.Is(err, syscall.ENXIO) || time.Now().After(deadline) {
			t.Fatalf("curl's gate: %v", err) // ENXIO: curl is not reading it
		}
	}
}

// makeGate makes a FIFO for curlMix.
func makeGate(t *testing.T) string {
	t.Helper()
	gate := filepath.Join(t.TempDir(), "gate")
	if err := syscall.Mkfifo(gate, 0o600); err != nil {
		t.Fatal(err)
	}
	return gate
}

// readOKs reads n "ok" lines from a client.
func readOKs(t *testing.T, p *peer, n int) {
	t.Helper()
	for i := range n {
		if got := p.line(t); got != "ok" {
			t.Fatalf("response %d: %q, want ok", i, got)
		}
	}
}

// TestObserveTLSNginxCurl: curl (libssl 3) sends the mix over HTTPS to
// nginx (libssl 3) on loopback; propwatch counts the pair curl -> nginx
// exactly, with tls: true, the planted email found in the encrypted
// baggage, and nothing else for that connection: no pair without tls, no
// gap, no parse failure from the ciphertext.
//
//   - before: propwatch starts first; nginx and curl load a copy of libssl
//     no process mapped when propwatch started, so its probes come from
//     the exec of nginx (attach on exec).
//   - after: nginx is running with the system's libssl when propwatch
//     starts (the library already mapped); curl starts after.
//   - joined: as after, and curl's connection was opened (and one request
//     sent on it) before propwatch started: both SSL* were tied to their
//     socket before propwatch was there to see it.
func TestObserveTLSNginxCurl(t *testing.T) {
	privtest.RequireBPF(t)
	nginx := requireTool(t, "nginx", "nginx")
	curl := requireTool(t, "curl", "curl")
	bin := buildPropwatch(t)
	certs := makeTLSCerts(t)

	for _, mode := range []string{"before", "after", "joined"} {
		t.Run(mode, func(t *testing.T) {
			_, svc := e2eTag()
			reportPath := filepath.Join(t.TempDir(), "report.json")
			args := append([]string{"--quiet", "--report", reportPath}, hooksArgs()...)
			var (
				pw  *running
				ng  *nginxTLS
				cl  *peer
				env []string
			)
			switch mode {
			case "before":
				var lib string
				env, lib = privateLibSSL(t, nginx)
				pw = startPropwatch(t, bin, args...)
				ng = startNginxTLS(t, nginx, certs, env...)
				if got := tlsFileOf(t, ng.cmd.Process.Pid); got != lib {
					t.Fatalf("nginx maps %s, not the copy %s", got, lib)
				}
				waitAttached(t, pw, lib)
			case "after":
				ng = startNginxTLS(t, nginx, certs)
				pw = startPropwatch(t, bin, args...)
				waitAttached(t, pw, tlsFileOf(t, ng.cmd.Process.Pid))
			case "joined":
				ng = startNginxTLS(t, nginx, certs)
				gate := makeGate(t)
				cl = curlMix(t, curl, certs, ng.port, svc("curl"), gate)
				readOKs(t, cl, 1) // the warm-up, before propwatch
				pw = startPropwatch(t, bin, args...)
				waitAttached(t, pw, tlsFileOf(t, ng.cmd.Process.Pid))
				openGate(t, gate)
			}
			if cl == nil {
				cl = curlMix(t, curl, certs, ng.port, svc("curl"), "", env...)
			}
			readOKs(t, cl, tlsRequests)
			time.Sleep(time.Second) // the naming delay
			pw.stop(t)
			finishCurl(t, cl)

			raw, rep, _ := pw.report(t, reportPath, "http", "")
			pairs := rep.Pairs
			// The test's connection, however its ends could be named:
			// curl by its service, or by its command name on a pair to
			// nginx (other tests on the host run curl too), nginx by its
			// command name or its address.
			related := func(p report.ReportPair) bool {
				return p.Source == svc("curl") || p.Source == "curl" && p.Destination == "nginx" ||
					strings.HasSuffix(p.Destination, ":"+ng.port)
			}
			checkTLSPairs(t, pairs, related, mixWant(svc("curl"), "nginx", "http", 1))
			noParseFailures(t, rep, 0)
			noPlanted(t, raw, pw)
		})
	}
}

// --- Go ---------------------------------------------------------------------

// h2Env is the TLS_H2 setting of the Go peers.
func h2Env(h2 bool) string {
	if h2 {
		return "TLS_H2=1"
	}
	return "TLS_H2=0"
}

// startTLSClient starts the Go TLS client peer and waits for its "ready".
func startTLSClient(t *testing.T, service, addr string, certs tlsCerts, h2 bool) *peer {
	t.Helper()
	env := append(certs.clientEnv(), "PEER_ADDR="+addr, h2Env(h2))
	cl := startPeer(t, "tls-client", service, env...)
	if got := cl.line(t); got != "ready" {
		t.Fatalf("TLS client: %q", got)
	}
	return cl
}

// sendMix has a ready client (the Go peer or the Node.js script) send the
// mix once.
func sendMix(t *testing.T, cl *peer) {
	t.Helper()
	io.WriteString(cl.stdin, "go\n")
	if got := cl.line(t); got != "done" {
		t.Fatalf("TLS client: %q", got)
	}
}

// TestObserveTLSGo: a Go client and server (crypto/tls under net/http,
// the test binary's own code) exchange the mix over TLS on loopback, over
// HTTP/1.1 (h2 taken out of ALPN on both sides) and over HTTP/2 (ALPN);
// propwatch, started while both run, counts the one pair exactly with tls:
// true (and tls="true" on its metrics), finds the planted email, and
// counts the ciphertext as nothing.
func TestObserveTLSGo(t *testing.T) {
	privtest.RequireBPF(t)
	bin := buildPropwatch(t)
	certs := makeTLSCerts(t)
	for _, tc := range []struct {
		name, protocol string
		h2             bool
	}{{"http1", "http", false}, {"h2", "http2", true}} {
		t.Run(tc.name, func(t *testing.T) {
			tag, svc := e2eTag()
			server := startPeer(t, "tls-server", svc("gosrv"), append(certs.serverEnv(), h2Env(tc.h2))...)
			addr := server.line(t)
			cl := startTLSClient(t, svc("gocli"), addr, certs, tc.h2)
			reportPath := filepath.Join(t.TempDir(), "report.json")
			metricsAddr := freePort(t)
			pw := startPropwatch(t, bin, append([]string{"--quiet", "--report", reportPath, "--metrics-addr", metricsAddr}, hooksArgs()...)...)
			waitAttached(t, pw, tlsFileOf(t, server.cmd.Process.Pid))
			sendMix(t, cl)
			time.Sleep(time.Second)
			// The pair's series carry tls="true".
			series := fmt.Sprintf(`propwatch_requests_total{destination=%q,destination_namespace="",protocol=%q,source=%q,source_namespace="",tls="true"} %d`,
				svc("gosrv"), tc.protocol, svc("gocli"), tlsRequests)
			if metrics := scrape(t, "http://"+metricsAddr+"/metrics"); !strings.Contains(metrics, series) {
				t.Errorf("metrics lack %s", series)
			}
			pw.stop(t)

			raw, rep, _ := pw.report(t, reportPath, tc.protocol, tag)
			related := func(p report.ReportPair) bool {
				return strings.HasSuffix(p.Source, tag) || strings.HasSuffix(p.Destination, tag) ||
					strings.HasSuffix(p.Destination, addr)
			}
			checkTLSPairs(t, rep.Pairs, related, mixWant(svc("gocli"), svc("gosrv"), tc.protocol, 1))
			// Go's server may write its SETTINGS before it has read the
			// preface, as over h2c (maxNotKafkaPerPreface).
			allow := uint64(0)
			if tc.h2 {
				allow = maxNotKafkaPerPreface
			}
			noParseFailures(t, rep, allow)
			noPlanted(t, raw, pw)
		})
	}
}

// --- Node.js ----------------------------------------------------------------

// nodeClientJS is the Node.js HTTPS client: node client.js URL CA MIX. It
// prints "ready", then sends the mix (MIX, tlsMix as JSON) on one
// keep-alive connection each time a line "go" comes on stdin and prints
// "done"; it exits when stdin closes.
const nodeClientJS = `'use strict';
const https = require('https');
const fs = require('fs');
const readline = require('readline');
const [base, caPath, mixPath] = process.argv.slice(2);
const mix = JSON.parse(fs.readFileSync(mixPath, 'utf8'));
const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: fs.readFileSync(caPath) });
function send(r) {
  return new Promise((resolve, reject) => {
    const headers = Object.assign({}, r.headers);
    if (r.body) headers['content-length'] = Buffer.byteLength(r.body);
    const req = https.request(new URL(r.path, base), { method: r.method, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(r.path + ': status ' + res.statusCode))));
    });
    req.on('error', reject);
    req.end(r.body || undefined);
  });
}
const rl = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
rl.on('line', (line) => {
  if (line !== 'go') { console.error('unexpected line', line); process.exit(2); }
  queue = queue.then(async () => {
    for (const r of mix) await send(r);
    console.log('done');
  }).catch((e) => { console.error(e); process.exit(1); });
});
rl.on('close', () => queue.then(() => process.exit(0)));
console.log('ready');
`

// startNodeClient writes the script and the mix to a temp dir and starts
// node on them against https://addr, named service; it waits for "ready".
func startNodeClient(t *testing.T, node, service, addr string, certs tlsCerts) *peer {
	t.Helper()
	dir := t.TempDir()
	script, mixPath := filepath.Join(dir, "client.js"), filepath.Join(dir, "mix.json")
	mix, err := json.Marshal(tlsMix())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte(nodeClientJS), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mixPath, mix, 0o644); err != nil {
		t.Fatal(err)
	}
	cl := startProcess(t, exec.Command(node, script, "https://"+addr, certs.ca, mixPath), service)
	if got := cl.line(t); got != "ready" {
		t.Fatalf("node client: %q", got)
	}
	return cl
}

// TestObserveTLSNode: a Node.js https client sends the mix to the Go TLS
// server (HTTP/1.1). Node's TLS is OpenSSL linked into the node executable
// (the official builds, NodeSource's) or Debian's libnode on the system
// libssl: the file waited for is whichever node maps. before: propwatch
// starts first and attaches node's file when it starts; after: node is
// running when propwatch starts. The pair is counted exactly, tls: true.
func TestObserveTLSNode(t *testing.T) {
	privtest.RequireBPF(t)
	node := requireTool(t, "node", "nodejs")
	bin := buildPropwatch(t)
	certs := makeTLSCerts(t)
	for _, mode := range []string{"before", "after"} {
		t.Run(mode, func(t *testing.T) {
			tag, svc := e2eTag()
			server := startPeer(t, "tls-server", svc("gosrv"), append(certs.serverEnv(), "TLS_H2=0")...)
			addr := server.line(t)
			reportPath := filepath.Join(t.TempDir(), "report.json")
			args := append([]string{"--quiet", "--report", reportPath}, hooksArgs()...)
			var pw *running
			var cl *peer
			if mode == "before" {
				pw = startPropwatch(t, bin, args...)
				cl = startNodeClient(t, node, svc("nodecli"), addr, certs)
			} else {
				cl = startNodeClient(t, node, svc("nodecli"), addr, certs)
				pw = startPropwatch(t, bin, args...)
			}
			file := tlsFileOf(t, cl.cmd.Process.Pid)
			t.Logf("node's TLS: %s", file)
			waitAttached(t, pw, file)
			waitAttached(t, pw, tlsFileOf(t, server.cmd.Process.Pid))
			sendMix(t, cl)
			time.Sleep(time.Second)
			pw.stop(t)

			raw, rep, _ := pw.report(t, reportPath, "http", tag)
			related := func(p report.ReportPair) bool {
				return strings.HasSuffix(p.Source, tag) || strings.HasSuffix(p.Destination, tag) ||
					p.Source == "node" || strings.HasSuffix(p.Destination, addr)
			}
			checkTLSPairs(t, rep.Pairs, related, mixWant(svc("nodecli"), svc("gosrv"), "http", 1))
			noParseFailures(t, rep, 0)
			noPlanted(t, raw, pw)
		})
	}
}

// --- Kafka ------------------------------------------------------------------

// TestObserveTLSKafka: franz-go producers and a consumer talk to a Kafka
// broker (kfake, franz-go's) over TLS (kgo.DialTLSConfig, kfake.TLS): Go
// crypto/tls on both ends. propwatch counts every record of each producer
// -> topic and topic -> consumer pair exactly, tls: true, with the
// planted email found in record headers, and no gap.
func TestObserveTLSKafka(t *testing.T) {
	privtest.RequireBPF(t)
	bin := buildPropwatch(t)
	certs := makeTLSCerts(t)
	tag, svc := e2eTag()

	broker := startPeer(t, "tls-kafka-broker", svc("tlsbroker"), certs.serverEnv()...)
	addr := broker.line(t)
	reportPath := filepath.Join(t.TempDir(), "report.json")
	pw := startPropwatch(t, bin, append([]string{"--quiet", "--report", reportPath}, hooksArgs()...)...)
	waitAttached(t, pw, tlsFileOf(t, broker.cmd.Process.Pid))

	clientEnv := append(certs.clientEnv(), "PEER_ADDR="+addr)
	producers := []struct {
		name, topic, headers string
		n                    int
	}{
		{"tp-valid", "orders", "valid", 12},
		{"tp-none", "orders", "none", 8},
		{"tp-pii", "payments", "pii", 5},
	}
	for _, p := range producers {
		env := append(slices.Clone(clientEnv), "KAFKA_TOPIC="+p.topic, "KAFKA_CODEC=gzip",
			"KAFKA_HEADERS="+p.headers, fmt.Sprintf("KAFKA_N=%d", p.n))
		if got := startPeer(t, "kafka-producer", svc(p.name), env...).line(t); got != "done" {
			t.Fatalf("producer %s: %q", p.name, got)
		}
	}
	if got := startPeer(t, "kafka-consumer", svc("tc-orders"),
		append(slices.Clone(clientEnv), "KAFKA_TOPIC=orders", "KAFKA_N=20")...).line(t); got != "done" {
		t.Fatalf("consumer: %q", got)
	}
	time.Sleep(time.Second)
	pw.stop(t)

	raw, rep, _ := pw.report(t, reportPath, "kafka", tag)
	pairs := rep.Pairs
	var wants []tlsWant
	for _, p := range producers {
		w := tlsWant{src: svc(p.name), dst: p.topic, protocol: "kafka", requests: uint64(p.n)}
		switch p.headers {
		case "none":
			w.missing = w.requests
		case "pii":
			w.email = w.requests
		}
		wants = append(wants, w)
	}
	wants = append(wants, tlsWant{src: "orders", dst: svc("tc-orders"), protocol: "kafka", requests: 20, missing: 8})
	related := func(p report.ReportPair) bool {
		return strings.HasSuffix(p.Source, tag) || strings.HasSuffix(p.Destination, tag) ||
			p.Source == "(unknown-topic)" || p.Destination == "(unknown-topic)"
	}
	checkTLSPairs(t, pairs, related, wants...)
	noParseFailures(t, rep, 0)
	noPlanted(t, raw, pw)
	if os.Getenv("PW_DEBUG") != "" {
		t.Logf("report: %s", raw)
	}
}

// --- nothing left behind ----------------------------------------------------

// isTLSProgram says whether a loaded program's name (the kernel keeps 15
// characters) is one of the TLS uprobe programs.
func isTLSProgram(name string) bool {
	return name != "" && slices.ContainsFunc(loader.TLSPrograms, func(p loader.TLSProgram) bool {
		s := string(p)
		return s[:min(len(s), 15)] == name
	})
}

// newTLSPrograms lists the TLS uprobe programs loaded now that were not in
// before (another propwatch on the host may hold some).
func newTLSPrograms(t *testing.T, before map[ebpf.ProgramID]string) []string {
	t.Helper()
	var names []string
	for id, name := range capturePrograms(t) {
		if _, old := before[id]; !old && isTLSProgram(name) {
			names = append(names, name)
		}
	}
	return names
}

// uprobeEvents is the content of tracefs's uprobe_events, the uprobes
// created through tracefs (mounted first if it is not).
func uprobeEvents(t *testing.T) string {
	t.Helper()
	const dir = "/sys/kernel/tracing"
	if _, err := os.Stat(filepath.Join(dir, "uprobe_events")); os.IsNotExist(err) {
		if err := syscall.Mount("tracefs", dir, "tracefs", 0, ""); err != nil {
			t.Fatalf("mount -t tracefs tracefs %s: %v", dir, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "uprobe_events"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// bpfLink is a BPF link of one of propwatch's programs, as bpftool shows it.
type bpfLink struct {
	typ, prog string
}

// pwLinks lists the BPF links of propwatch's programs (pw_*) by link id;
// ok is false without bpftool.
func pwLinks(t *testing.T) (links map[int]bpfLink, ok bool) {
	t.Helper()
	bpftool, err := exec.LookPath("bpftool")
	if err != nil {
		return nil, false
	}
	out, err := exec.Command(bpftool, "link", "show", "--json").Output()
	if err != nil {
		t.Fatalf("bpftool link show: %v", err)
	}
	var all []struct {
		ID     int    `json:"id"`
		Type   string `json:"type"`
		ProgID int    `json:"prog_id"`
	}
	if err := json.Unmarshal(out, &all); err != nil {
		t.Fatalf("bpftool link show: %v", err)
	}
	progs := capturePrograms(t)
	links = map[int]bpfLink{}
	for _, l := range all {
		if name, ok := progs[ebpf.ProgramID(l.ProgID)]; ok {
			links[l.ID] = bpfLink{l.Type, name}
		}
	}
	return links, true
}

// newTLSLinks counts the links of TLS programs now that were not in
// before; -1 without bpftool.
func newTLSLinks(t *testing.T, before map[int]bpfLink) int {
	t.Helper()
	now, ok := pwLinks(t)
	if !ok {
		return -1
	}
	n := 0
	for id, l := range now {
		if _, old := before[id]; !old && isTLSProgram(l.prog) {
			n++
		}
	}
	return n
}

// TestTLSNothingLeftBehind: a Go TLS client and server (the test binary's
// crypto/tls) and curl to nginx (a copy of libssl of the test's own; left
// out where they are not installed, as in the kernel matrix's guests, unless
// PROPWATCH_REQUIRE_TLS_TOOLS=1) run while propwatch runs twice. With --tls=off no TLS program is loaded,
// none attached, no attach logged, tracefs's uprobe_events does not move,
// and the TLS traffic is no pair at all (ciphertext only). With --tls=auto
// the programs are loaded and linked while it runs, both pairs are counted
// exactly; after it exits nothing remains: no TLS program or (bpftool)
// link of one, uprobe_events as before, and the same processes go on
// talking TLS (a breakpoint left in their code would kill them).
func TestTLSNothingLeftBehind(t *testing.T) {
	privtest.RequireBPF(t)
	nginx, haveNginx := haveTool(t, "nginx", "nginx")
	curl, haveCurl := haveTool(t, "curl", "curl")
	withCurl := haveNginx && haveCurl
	bin := buildPropwatch(t)
	certs := makeTLSCerts(t)
	tag, svc := e2eTag()

	server := startPeer(t, "tls-server", svc("gosrv"), append(certs.serverEnv(), "TLS_H2=0")...)
	addr := server.line(t)
	goClient := startTLSClient(t, svc("gocli"), addr, certs, false)
	var (
		lib, gate, nginxPort string
		curlClient           *peer
	)
	if withCurl {
		var env []string
		env, lib = privateLibSSL(t, nginx)
		ng := startNginxTLS(t, nginx, certs, env...)
		nginxPort = ng.port
		gate = makeGate(t)
		curlClient = curlMix(t, curl, certs, ng.port, svc("curl"), gate, env...)
		readOKs(t, curlClient, 1) // the warm-up, then it waits at the gate
	} else {
		t.Log("no nginx or curl: Go's crypto/tls only")
	}

	events := uprobeEvents(t)
	programs := capturePrograms(t)
	links, haveBpftool := pwLinks(t)
	if !haveBpftool {
		t.Log("no bpftool: links are not listed (the programs still are)")
	}
	related := func(p report.ReportPair) bool {
		return strings.HasSuffix(p.Source, tag) || strings.HasSuffix(p.Destination, tag) ||
			strings.HasSuffix(p.Destination, addr) ||
			withCurl && (p.Source == "curl" && p.Destination == "nginx" || strings.HasSuffix(p.Destination, ":"+nginxPort))
	}

	t.Run("off", func(t *testing.T) {
		reportPath := filepath.Join(t.TempDir(), "report.json")
		pw := startPropwatch(t, bin, append([]string{"--quiet", "--tls=off", "--report", reportPath}, hooksArgs()...)...)
		sendMix(t, goClient)
		if loaded := newTLSPrograms(t, programs); len(loaded) != 0 {
			t.Errorf("TLS programs loaded: %v", loaded)
		}
		if n := newTLSLinks(t, links); n > 0 {
			t.Errorf("%d links of TLS programs", n)
		}
		if got := uprobeEvents(t); got != events {
			t.Errorf("uprobe_events changed:\n%s\nwas:\n%s", got, events)
		}
		time.Sleep(time.Second)
		pw.stop(t)
		if strings.Contains(pw.log.String(), tlsAttachedLog) {
			t.Errorf("propwatch attached something:\n%s", pw.log.String())
		}
		_, rep, _ := pw.report(t, reportPath, "http", tag)
		checkTLSPairs(t, rep.Pairs, related) // none
	})

	gateOpen := false
	t.Run("auto", func(t *testing.T) {
		reportPath := filepath.Join(t.TempDir(), "report.json")
		pw := startPropwatch(t, bin, append([]string{"--quiet", "--tls=auto", "--report", reportPath}, hooksArgs()...)...)
		waitAttached(t, pw, tlsFileOf(t, server.cmd.Process.Pid))
		if withCurl {
			waitAttached(t, pw, lib)
		}
		if loaded := newTLSPrograms(t, programs); len(loaded) == 0 {
			t.Error("no TLS program loaded while propwatch runs with --tls=auto")
		}
		if n := newTLSLinks(t, links); n == 0 {
			t.Error("no link of a TLS program while propwatch runs with --tls=auto")
		}
		sendMix(t, goClient)
		wants := []tlsWant{mixWant(svc("gocli"), svc("gosrv"), "http", 1)}
		if withCurl {
			openGate(t, gate)
			gateOpen = true
			readOKs(t, curlClient, tlsRequests)
			wants = append(wants, mixWant(svc("curl"), "nginx", "http", 1))
		}
		time.Sleep(time.Second)
		pw.stop(t)
		_, rep, _ := pw.report(t, reportPath, "http", tag)
		checkTLSPairs(t, rep.Pairs, related, wants...)
	})

	// After both runs: no TLS program or link of propwatch's in the
	// kernel, tracefs as it was, and the probed processes unharmed. Other
	// pw_* programs are only logged: the host is shared, and another
	// capture (the loader's tests) may load some meanwhile; the other
	// end-to-end tests hold propwatch to leaving none.
	for id, name := range leftLoaded(t, programs) {
		if isTLSProgram(name) {
			t.Errorf("TLS program %d %s still loaded after exit", id, name)
		} else {
			t.Logf("program %d %s loaded now, not before (another capture on the host?)", id, name)
		}
	}
	if now, ok := pwLinks(t); ok {
		for id, l := range now {
			if _, old := links[id]; old {
				continue
			}
			if isTLSProgram(l.prog) {
				t.Errorf("link %d (%s, TLS program %s) still there after exit", id, l.typ, l.prog)
			} else {
				t.Logf("link %d (%s, program %s) there now, not before", id, l.typ, l.prog)
			}
		}
	}
	if got := uprobeEvents(t); got != events {
		t.Errorf("uprobe_events changed:\n%s\nwas:\n%s", got, events)
	}
	sendMix(t, goClient)
	if withCurl {
		if !gateOpen { // auto stopped before
			openGate(t, gate)
			readOKs(t, curlClient, tlsRequests)
		}
		finishCurl(t, curlClient)
	}
	for name, p := range map[string]*peer{"server": server, "client": goClient} {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
		if err != nil || bytes.Contains(st, []byte(") Z ")) {
			t.Errorf("the Go TLS %s did not survive propwatch", name)
		}
	}
}

// --- not readable -------------------------------------------------------------

// TestObserveTLSNotReadable: wget (GnuTLS) fetches three times from
// gnutls-serv, a TLS library propwatch does not read at either end: each
// connection is one tls.not_readable gap of the pair, protocol tls with
// tls: true, and no request, no other pair, no parse failure. A
// connection whose server end is read (the Go TLS server) is no gap, and
// its requests are counted.
func TestObserveTLSNotReadable(t *testing.T) {
	privtest.RequireBPF(t)
	wget := requireTool(t, "wget", "wget")
	serv := requireTool(t, "gnutls-serv", "gnutls-bin")
	bin := buildPropwatch(t)
	certs := makeTLSCerts(t)
	tag, svc := e2eTag()

	addr := freePort(t)
	_, port, _ := net.SplitHostPort(addr)
	srv := startProcess(t, exec.Command(serv, "--http", "--quiet", "-p", port,
		"--x509certfile", certs.cert, "--x509keyfile", certs.key), svc("gnutls"))
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gnutls-serv does not listen on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	goSrv := startPeer(t, "tls-server", svc("gosrv"), append(certs.serverEnv(), h2Env(false))...)
	goAddr := goSrv.line(t)

	reportPath := filepath.Join(t.TempDir(), "report.json")
	pw := startPropwatch(t, bin, append([]string{"--quiet", "--report", reportPath}, hooksArgs()...)...)
	waitAttached(t, pw, tlsFileOf(t, goSrv.cmd.Process.Pid))
	fetch := func(url string, n int) {
		for range n {
			cmd := exec.Command(wget, "-q", "-O", "/dev/null", "--ca-certificate", certs.ca, url)
			cmd.Env = append(os.Environ(), "OTEL_SERVICE_NAME="+svc("wget"))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("wget %s: %v\n%s", url, err, out)
			}
		}
	}
	fetch("https://"+addr+"/", 3)
	fetch("https://"+goAddr+"/tls-read", 2)
	time.Sleep(time.Second)
	pw.stop(t)
	_ = srv // stopped on cleanup

	raw, rep, _ := pw.report(t, reportPath, "tls", tag)
	var gap, read bool
	for _, p := range rep.Pairs {
		if p.Source != svc("wget") {
			continue
		}
		t.Logf("%s -> %s (%s, tls %v): %d requests, gaps %v", p.Source, p.Destination, p.Protocol, p.TLS, p.Requests, p.CoverageGaps)
		switch {
		case p.Destination == svc("gnutls") && p.Protocol == "tls" && p.TLS:
			gap = true
			if p.Requests != 0 || p.CoverageGaps["tls.not_readable"] != 3 || len(p.CoverageGaps) != 1 {
				t.Errorf("wget -> gnutls-serv: %d requests, gaps %v, want none and 3 tls.not_readable", p.Requests, p.CoverageGaps)
			}
		case p.Destination == svc("gosrv") && p.Protocol == "http" && p.TLS:
			read = true
			if p.Requests != 2 || len(p.CoverageGaps) != 0 {
				t.Errorf("wget -> Go server: %d requests, gaps %v, want 2 and none", p.Requests, p.CoverageGaps)
			}
		default:
			t.Errorf("unexpected pair %s -> %s (%s, tls %v)", p.Source, p.Destination, p.Protocol, p.TLS)
		}
	}
	if !gap || !read {
		t.Errorf("pairs of wget: gap %v, read %v, want both:\n%s", gap, read, raw)
	}
	noParseFailures(t, rep, 0)
	noPlanted(t, raw, pw)
}
