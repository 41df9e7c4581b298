package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// The end-to-end tests need real processes on both ends of a connection,
// each with its own OTEL_SERVICE_NAME. Rather than build helper binaries,
// the test binary runs itself as a peer when PROPWATCH_E2E_PEER names a
// role; TestMain sends it there before any test runs.
const peerEnv = "PROPWATCH_E2E_PEER"

func TestMain(m *testing.M) {
	if role := os.Getenv(peerEnv); role != "" {
		if err := runPeer(role, os.Args); err != nil {
			fmt.Fprintln(os.Stderr, "peer:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Planted values. The peers put them in baggage; the e2e test asserts the
// report, the metrics and the log never contain them.
const (
	plantedEmail = "planted.canary@example.com"
	plantedCard  = "4111111111111111"
	validTP      = "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
	invalidTP    = "traceparent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01\r\n"
)

// The client's traffic mix, and what propwatch must count for it.
const (
	mixValid     = 5
	mixMissing   = 4
	mixInvalid   = 3
	mixPII       = 2
	mixSplit     = 2
	mixPipelined = 3
	mixPost      = 1
	mixBig       = 1
	mixRequests  = mixValid + mixMissing + mixInvalid + mixPII + mixSplit + mixPipelined + mixPost + mixBig
	earlyCount   = 4
)

func runPeer(role string, args []string) error {
	if ok, err := runKafkaPeer(role); ok {
		io.Copy(io.Discard, os.Stdin) // alive until the test is done, as below
		return err
	}
	if ok, err := runOTLPPeer(role); ok {
		io.Copy(io.Discard, os.Stdin)
		return err
	}
	if ok, err := runH2Peer(role); ok {
		io.Copy(io.Discard, os.Stdin)
		return err
	}
	if ok, err := runChainPeer(role); ok {
		io.Copy(io.Discard, os.Stdin)
		return err
	}
	if ok, err := runGRPCPeer(role); ok {
		if role != "grpc-early" { // it reads stdin to its end itself
			io.Copy(io.Discard, os.Stdin)
		}
		return err
	}
	if ok, err := runTLSPeer(role); ok {
		if role != "tls-client" { // it reads stdin to its end itself
			io.Copy(io.Discard, os.Stdin)
		}
		return err
	}
	if ok, err := runKubePeer(role); ok {
		return err // it reads stdin to its end itself
	}
	var err error
	switch role {
	case "server":
		return peerServer()
	case "client":
		err = peerClient(os.Getenv("PEER_ADDR"))
	case "early":
		err = peerEarly(os.Getenv("PEER_ADDR"))
	case "bad":
		err = peerBad(os.Getenv("PEER_ADDR"))
	default:
		return fmt.Errorf("unknown role %q", role)
	}
	// Stay alive until the test is done with us: a process that exits
	// before propwatch reads its first event can only be named by its
	// command name, and the test asserts service names.
	io.Copy(io.Discard, os.Stdin)
	return err
}

// peerServer serves HTTP/1.1 with keep-alive on loopback until its stdin
// closes. It prints its address first.
func peerServer() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("ok"))
	})}
	go srv.Serve(ln)
	fmt.Println(ln.Addr().String())
	io.Copy(io.Discard, os.Stdin)
	return srv.Close()
}

// conn is a raw keep-alive client connection: the test decides exactly
// which bytes each write carries.
type conn struct {
	c  net.Conn
	br *bufio.Reader
}

func dialPeer(addr string) (*conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &conn{c: c, br: bufio.NewReader(c)}, nil
}

// write sends each part in its own syscall, pausing between them so the
// server's reads see them apart too.
func (c *conn) write(parts ...string) error {
	for i, p := range parts {
		if i > 0 {
			time.Sleep(30 * time.Millisecond)
		}
		if _, err := io.WriteString(c.c, p); err != nil {
			return err
		}
	}
	return nil
}

func (c *conn) responses(n int) error {
	for i := 0; i < n; i++ {
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
	}
	return nil
}

func (c *conn) request(parts ...string) error {
	if err := c.write(parts...); err != nil {
		return err
	}
	return c.responses(1)
}

func get(path string, headers ...string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: inventory\r\nUser-Agent: e2e\r\n" + strings.Join(headers, "") + "\r\n"
}

// peerClient sends the mix over one keep-alive connection.
func peerClient(addr string) error {
	c, err := dialPeer(addr)
	if err != nil {
		return err
	}
	defer c.c.Close()
	steps := []func() error{}
	add := func(n int, f func(i int) error) {
		for i := 0; i < n; i++ {
			steps = append(steps, func() error { return f(i) })
		}
	}
	add(mixValid, func(i int) error {
		return c.request(get(fmt.Sprint("/valid/", i), validTP, "baggage: tenant=acme,region=eu\r\n"))
	})
	add(mixMissing, func(i int) error { return c.request(get(fmt.Sprint("/missing/", i))) })
	add(mixInvalid, func(i int) error { return c.request(get(fmt.Sprint("/invalid/", i), invalidTP)) })
	add(mixPII, func(i int) error {
		return c.request(get(fmt.Sprint("/pii/", i), validTP,
			"baggage: user.id=42,contact="+strings.Replace(plantedEmail, "@", "%40", 1)+",card="+plantedCard+"\r\n"))
	})
	add(mixSplit, func(i int) error {
		h := get(fmt.Sprint("/split/", i), validTP, "baggage: a=1,b=2\r\n")
		return c.request(h[:7], h[7:60], h[60:])
	})
	add(1, func(int) error {
		if err := c.write(get("/pipe/1", validTP) + get("/pipe/2", validTP) + get("/pipe/3", validTP)); err != nil {
			return err
		}
		return c.responses(mixPipelined)
	})
	add(mixPost, func(int) error {
		body := "GET /not/a/request HTTP/1.1\r\n\r\n"
		return c.request("POST /post HTTP/1.1\r\nHost: inventory\r\n" + validTP +
			fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body))
	})
	add(mixBig, func(int) error {
		// A 16 KiB baggage value: the head is longer than the capture.
		return c.request(get("/big", validTP, "baggage: k="+strings.Repeat("v", 16384)+"\r\n"))
	})
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	fmt.Println("done")
	return nil
}

// peerEarly connects before propwatch starts, waits for a line on stdin,
// then sends its requests on that connection.
func peerEarly(addr string) error {
	c, err := dialPeer(addr)
	if err != nil {
		return err
	}
	defer c.c.Close()
	fmt.Println("connected")
	if _, err := readLine(os.Stdin); err != nil {
		return err
	}
	for i := 0; i < earlyCount; i++ {
		if err := c.request(get(fmt.Sprint("/early/", i), validTP)); err != nil {
			return err
		}
	}
	fmt.Println("done")
	return nil
}

// peerBad writes what no well-behaved client would: binary garbage, a
// request line followed by garbage, and half a request before closing.
func peerBad(addr string) error {
	send := func(b string) error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = io.WriteString(c, b)
		time.Sleep(50 * time.Millisecond)
		return err
	}
	garbage := make([]byte, 4096)
	for i := range garbage {
		garbage[i] = byte(i*7 + 3)
	}
	for _, b := range []string{
		string(garbage),
		"GET \x00\x01\x02\x03 binary after a method\r\n\r\n",
		"GET /half HTTP/1.1\r\nHost: inventory\r\n" + validTP + "baggage: a=",
	} {
		if err := send(b); err != nil {
			return err
		}
	}
	fmt.Println("done")
	return nil
}

// readLine reads one line byte by byte, so that nothing after it is
// buffered away from the io.Copy that waits for stdin to close.
func readLine(r io.Reader) (string, error) {
	var line []byte
	b := make([]byte, 1)
	for {
		if _, err := r.Read(b); err != nil {
			return string(line), err
		}
		if b[0] == '\n' {
			return string(line), nil
		}
		line = append(line, b[0])
	}
}
