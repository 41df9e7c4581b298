//go:build linux && (amd64 || arm64)

package loader

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/propwatch/propwatch/internal/parse/kafka"
	"github.com/propwatch/propwatch/internal/tlsprobe"
)

// tlsCert makes a self-signed certificate for 127.0.0.1 and writes it as
// PEM to dir/cert.pem (for clients that verify, as curl does).
func tlsCert(t *testing.T, dir string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "propwatch test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if dir != "" {
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		if err := os.WriteFile(filepath.Join(dir, "cert.pem"), pemBytes, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// tlsServer accepts TLS connections on loopback and, for each request
// head read (up to its blank line), answers a 200 with no body.
func tlsServer(t *testing.T, cert tls.Certificate) netip.AddrPort {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert},
		NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for {
					for {
						line, err := br.ReadString('\n')
						if err != nil {
							return
						}
						if line == "\r\n" {
							break
						}
					}
					if _, err := io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// attachGoTLS puts the Go crypto/tls probes on this test binary, which
// is both ends of TestTLSGo's connections.
func attachGoTLS(t *testing.T, l *Loader) {
	t.Helper()
	in, err := tlsprobe.InspectFile(os.Args[0])
	if err != nil || in.Go == nil {
		t.Fatalf("inspect the test binary: %v (%+v)", err, in)
	}
	w, okW := in.Go.Funcs[tlsprobe.GoConnWrite]
	r, okR := in.Go.Funcs[tlsprobe.GoConnRead]
	if !okW || !okR {
		t.Fatalf("the test binary's crypto/tls: %+v", in.Go.Funcs)
	}
	attach := func(off uint64, p TLSProgram) {
		t.Helper()
		c, err := l.AttachUprobe(os.Args[0], off, p)
		if err != nil {
			t.Fatalf("attach %s: %v", p, err)
		}
		t.Cleanup(func() { c.Close() })
	}
	attach(w.Body, GoTLSWrite)
	attach(r.Body, GoTLSRead)
	for _, ret := range r.Returns {
		attach(ret, GoTLSReadRet)
	}
}

// tlsEvents keeps the events of the connections of server: TLS
// plaintext, and the socket events, which must be none but one ClientHello
// at each end of each connection.
func tlsEvents(t *testing.T, evs []Event, server netip.AddrPort, conns int) (plain []Event) {
	t.Helper()
	hellos := map[Direction]int{}
	for _, ev := range on(evs, server) {
		if ev.Protocol == TLSHello && !ev.TLS && ev.Start && len(ev.Data) == 0 {
			hellos[ev.Direction]++
			if (ev.Direction == Egress) == (ev.Local == server) {
				t.Errorf("a ClientHello %s at the wrong end:%s", ev.Direction, describe([]Event{ev}))
			}
			continue
		}
		if !ev.TLS {
			t.Errorf("ciphertext captured as socket bytes:%s", describe([]Event{ev}))
			continue
		}
		plain = append(plain, ev)
	}
	if hellos[Egress] != conns || hellos[Ingress] != conns {
		t.Errorf("ClientHello events %v, want %d at each end", hellos, conns)
	}
	return plain
}

// TestTLSGo: the plaintext of Go's crypto/tls at both ends of a loopback
// connection, each end once, on its own socket, and nothing of the
// ciphertext.
func TestTLSGo(t *testing.T) { eachHookSet(t, testTLSGo) }

func testTLSGo(t *testing.T, hooks HookSet) {
	c := startCapture(t, Config{Hooks: hooks, TLS: true})
	if err := c.l.TLS(); err != nil {
		t.Fatalf("TLS: %v", err)
	}
	attachGoTLS(t, c.l)
	server := tlsServer(t, tlsCert(t, ""))

	conn, err := tls.Dial("tcp", server.String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().(*net.TCPAddr).AddrPort()
	reqs := []string{
		"GET /a HTTP/1.1\r\nHost: example.test\r\ntraceparent: " + traceparent + "\r\n\r\n",
		"POST /b HTTP/1.1\r\nHost: example.test\r\nbaggage: user=someone@example.test\r\nContent-Length: 0\r\n\r\n",
	}
	br := bufio.NewReader(conn)
	for _, req := range reqs {
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatal(err)
		}
		if _, err := http1Response(br); err != nil {
			t.Fatal(err)
		}
	}
	plain := tlsEvents(t, c.sync(), server, 1)
	for _, w := range []struct {
		local   netip.AddrPort
		dir     Direction
		syscall string
	}{{local, Egress, "tls_write"}, {server, Ingress, "tls_read"}} {
		got := where(plain, w.local, w.dir)
		if len(got) != len(reqs) {
			t.Errorf("%s at %v: %d events, want %d:%s", w.dir, w.local, len(got), len(reqs), describe(plain))
			continue
		}
		for i, ev := range got {
			if !ev.Start || string(ev.Data) != reqs[i] || ev.Syscall != w.syscall || ev.Protocol != HTTP1 {
				t.Errorf("%s event %d: start=%v syscall=%s data=%q, want the request %q", w.dir, i, ev.Start, ev.Syscall, ev.Data, reqs[i])
			}
		}
	}
}

// http1Response reads one response head (no body) from br.
func http1Response(br *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return b.String(), err
		}
		b.WriteString(line)
		if line == "\r\n" {
			return b.String(), nil
		}
	}
}

// libssl returns the host's libssl.so.3, which curl maps.
func libssl(t *testing.T) string {
	t.Helper()
	for _, glob := range []string{"/usr/lib/*/libssl.so.3", "/lib/*/libssl.so.3", "/usr/lib/libssl.so.3", "/usr/lib64/libssl.so.3"} {
		if m, _ := filepath.Glob(glob); len(m) > 0 {
			return m[0]
		}
	}
	t.Skip("no libssl.so.3 on this host")
	return ""
}

// attachOpenSSL puts the OpenSSL probes on the library at path.
func attachOpenSSL(t *testing.T, l *Loader, path string) {
	t.Helper()
	syms, err := tlsprobe.ResolveOpenSSL(path)
	if err != nil {
		t.Fatalf("resolve %s: %v", path, err)
	}
	for _, p := range []struct {
		sym  string
		prog TLSProgram
	}{
		{tlsprobe.SymSSLSetFD, SSLSetFD},
		{tlsprobe.SymSSLWrite, SSLWrite}, {tlsprobe.SymSSLWrite, SSLWriteRet},
		{tlsprobe.SymSSLWriteEx, SSLWriteEx}, {tlsprobe.SymSSLWriteEx, SSLWriteRet},
		{tlsprobe.SymSSLRead, SSLRead}, {tlsprobe.SymSSLRead, SSLReadRet},
		{tlsprobe.SymSSLReadEx, SSLReadEx}, {tlsprobe.SymSSLReadEx, SSLReadRet},
	} {
		s, ok := syms.Found[p.sym]
		if !ok {
			t.Fatalf("%s: no %s", path, p.sym)
		}
		c, err := l.AttachUprobe(path, s.Offset, p.prog)
		if err != nil {
			t.Fatalf("attach %s on %s: %v", p.prog, p.sym, err)
		}
		t.Cleanup(func() { c.Close() })
	}
}

// TestTLSCurl: curl (OpenSSL 3, its own BIO: no SSL_set_fd) sends three
// requests on one connection; each is captured once, as plaintext, on
// curl's socket, and so is its receipt by the Go server.
func TestTLSCurl(t *testing.T) { eachHookSet(t, testTLSCurl) }

func testTLSCurl(t *testing.T, hooks HookSet) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	lib := libssl(t)
	c := startCapture(t, Config{Hooks: hooks, TLS: true})
	attachOpenSSL(t, c.l, lib)
	attachGoTLS(t, c.l)
	dir := t.TempDir()
	server := tlsServer(t, tlsCert(t, dir))

	url := "https://" + server.String() + "/x"
	out, err := exec.Command(curl, "-sS", "--http1.1", "--cacert", filepath.Join(dir, "cert.pem"),
		"-H", "traceparent: "+traceparent, url, url, url).CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	plain := tlsEvents(t, c.sync(), server, 1)
	var sent, received []Event
	for _, ev := range plain {
		switch {
		case ev.Direction == Egress && ev.Local != server:
			sent = append(sent, ev)
		case ev.Direction == Ingress && ev.Local == server:
			received = append(received, ev)
		}
	}
	for _, w := range []struct {
		what string
		evs  []Event
	}{{"curl's SSL_write", sent}, {"the server's Read", received}} {
		if len(w.evs) != 3 {
			t.Errorf("%s: %d events, want 3:%s", w.what, len(w.evs), describe(plain))
			continue
		}
		for _, ev := range w.evs {
			if !ev.Start || !strings.HasPrefix(string(ev.Data), "GET /x HTTP/1.1\r\n") ||
				!strings.Contains(string(ev.Data), "traceparent: "+traceparent) {
				t.Errorf("%s: %q, want curl's request", w.what, ev.Data)
			}
		}
	}
	if len(sent) == 3 && sent[0].CommString() != "curl" {
		t.Errorf("sent by %q, want curl", sent[0].CommString())
	}
}

// TestGoLayout: the offsets the kernel follows from a *tls.Conn to its
// descriptor (enum go_layout, bpf/tls.h) are those of the Go that built
// this binary, read with reflect, which sees unexported fields' offsets.
func TestGoLayout(t *testing.T) {
	field := func(typ reflect.Type, name string) reflect.StructField {
		t.Helper()
		f, ok := typ.FieldByName(name)
		if !ok {
			t.Fatalf("%v has no field %s", typ, name)
		}
		return f
	}
	conn := field(reflect.TypeFor[tls.Conn](), "conn")
	if conn.Type != reflect.TypeFor[net.Conn]() {
		t.Fatalf("tls.Conn.conn is a %v, want net.Conn", conn.Type)
	}
	// An interface is two words: its type, then its data.
	if got := conn.Offset + 8; uint64(got) != uint64(captureGoLayoutGO_TLSCONN_CONN_DATA) {
		t.Errorf("tls.Conn.conn's data word at %d, C says %d", got, captureGoLayoutGO_TLSCONN_CONN_DATA)
	}
	inner := field(reflect.TypeFor[net.TCPConn](), "conn")
	fd := field(inner.Type, "fd")
	if got := inner.Offset + fd.Offset; uint64(got) != uint64(captureGoLayoutGO_TCPCONN_FD) {
		t.Errorf("net.TCPConn's fd at %d, C says %d", got, captureGoLayoutGO_TCPCONN_FD)
	}
	netFD := fd.Type.Elem()
	pfd := field(netFD, "pfd")
	sysfd := field(pfd.Type, "Sysfd")
	if got := pfd.Offset + sysfd.Offset; uint64(got) != uint64(captureGoLayoutGO_NETFD_SYSFD) {
		t.Errorf("netFD.pfd.Sysfd at %d, C says %d", got, captureGoLayoutGO_NETFD_SYSFD)
	}
	if sysfd.Type.Kind() != reflect.Int || sysfd.Type.Size() != 8 {
		t.Errorf("Sysfd is a %v, the kernel reads 8 bytes", sysfd.Type)
	}
}

// nodeClient is a Node.js https client: three GET requests, one after
// another on one keep-alive connection, to the URL in argv.
const nodeClient = `
const https = require('https');
const agent = new https.Agent({keepAlive: true, maxSockets: 1});
const url = process.argv[2], tp = process.argv[3];
let left = 3;
function next() {
  if (left-- === 0) { agent.destroy(); return; }
  https.get(url, {agent, rejectUnauthorized: false, headers: {traceparent: tp}}, (res) => {
    res.resume();
    res.on('end', next);
  }).on('error', (e) => { console.error(e); process.exit(1); });
}
next();
`

// TestTLSNode: node links OpenSSL in and writes the ciphertext to the
// socket itself after SSL_write returns (TLS_AWAIT): each request is
// captured once, as plaintext, on node's socket.
func TestTLSNode(t *testing.T) { eachHookSet(t, testTLSNode) }

func testTLSNode(t *testing.T, hooks HookSet) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	if node, err = filepath.EvalSymlinks(node); err != nil {
		t.Fatal(err)
	}
	// NodeSource's node links OpenSSL in; Debian's links the system's
	// libssl (through libnode).
	lib := node
	if syms, err := tlsprobe.ResolveOpenSSL(node); err != nil || !syms.Readable() {
		lib = libssl(t)
	}
	c := startCapture(t, Config{Hooks: hooks, TLS: true})
	attachOpenSSL(t, c.l, lib)
	server := tlsServer(t, tlsCert(t, ""))
	script := filepath.Join(t.TempDir(), "client.js")
	if err := os.WriteFile(script, []byte(nodeClient), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(node, script, "https://"+server.String()+"/n", traceparent).CombinedOutput(); err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	plain := tlsEvents(t, c.sync(), server, 1)
	var sent []Event
	for _, ev := range plain {
		if ev.Direction == Egress && ev.Local != server {
			sent = append(sent, ev)
		}
	}
	if len(sent) != 3 {
		t.Fatalf("node's SSL_write: %d events, want 3:%s\nlost: %v", len(sent), describe(plain), c.l.Lost())
	}
	for _, ev := range sent {
		if !ev.Start || !strings.HasPrefix(string(ev.Data), "GET /n HTTP/1.1\r\n") ||
			!strings.Contains(string(ev.Data), "traceparent: "+traceparent) || ev.CommString() != "node" {
			t.Errorf("%s %q by %q, want node's request", ev.Syscall, ev.Data, ev.CommString())
		}
	}
}

// TestTLSKafka: a Fetch request written through Go's crypto/tls is
// matched to its response read through it, both as plaintext on the
// connection's TLS streams.
func TestTLSKafka(t *testing.T) { eachHookSet(t, testTLSKafka) }

func testTLSKafka(t *testing.T, hooks HookSet) {
	c := startCapture(t, Config{Hooks: hooks, TLS: true})
	attachGoTLS(t, c.l)
	broker, rawClient, rawConn := kafkaPair(t)
	cert := tlsCert(t, "")
	conn := tls.Server(rawConn, &tls.Config{Certificates: []tls.Certificate{cert}})
	client := tls.Client(rawClient, &tls.Config{InsecureSkipVerify: true})
	errc := make(chan error, 1)
	go func() { errc <- conn.Handshake() }()
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	fetch := kafkaRequest(kafka.APIFetch, 12, 8, randomBytes(40))
	fetchResp := kafkaResponse(8, randomBytes(3000))
	if _, err := client.Write(fetch); err != nil {
		t.Fatal(err)
	}
	readFrame(t, conn)
	if _, err := conn.Write(fetchResp); err != nil {
		t.Fatal(err)
	}
	if got := readFrame(t, client); !bytes.Equal(got, fetchResp) {
		t.Fatalf("client read %d bytes", len(got))
	}
	var toClient []Event
	for _, ev := range tlsEvents(t, c.sync(), broker, 1) {
		if ev.Direction == Ingress && ev.Remote == broker {
			toClient = append(toClient, ev)
		}
	}
	first, data := kafkaShipped(t, toClient)
	if !bytes.Equal(data, fetchResp) || first.KafkaAPIKey != kafka.APIFetch {
		t.Errorf("fetch response: %d bytes (api %d), want %d answering Fetch:%s", len(data), first.KafkaAPIKey, len(fetchResp), describe(toClient))
	}
}
