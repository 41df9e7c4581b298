//go:build linux && (amd64 || arm64)

package loader

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/propwatch/propwatch/internal/privtest"
)

// helperEnv makes the test binary a traffic helper: see TestMain.
const helperEnv = "PROPWATCH_LOADER_HELPER_ADDR"

func TestMain(m *testing.M) {
	if addr := os.Getenv(helperEnv); addr != "" {
		// A separate process that sends one request, for the tests of
		// what propwatch's own process is excluded from.
		c, err := net.Dial("tcp", addr)
		if err != nil {
			os.Exit(2)
		}
		fmt.Fprintf(c, "GET /from-helper HTTP/1.1\r\nHost: helper\r\n\r\n")
		c.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// TestKeepAliveGET sends two GETs over one keep-alive connection to a
// net/http server and expects, per request, exactly one egress start at the
// client socket and one ingress start at the server socket, never the
// response.
func TestKeepAliveGET(t *testing.T) { eachHookSet(t, testKeepAliveGET) }

func testKeepAliveGET(t *testing.T, hooks HookSet) {
	c := startCapture(t, Config{Hooks: hooks})

	var mu sync.Mutex
	var serverConn net.Conn
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	}))
	srv.Config.ConnState = func(conn net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			serverConn = conn
			mu.Unlock()
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	srvAddr := srv.Listener.Addr().(*net.TCPAddr).AddrPort()

	client := dial(t, srvAddr)
	br := bufio.NewReader(client)
	clientSock := inode(t, client)
	netns := netnsInode(t)

	for i, path := range []string{"/first", "/second"} {
		req := "GET " + path + " HTTP/1.1\r\nHost: example.test\r\ntraceparent: " + traceparent + "\r\n\r\n"
		if _, err := client.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()

		evs := on(c.sync(), srvAddr)
		if len(evs) != 2 {
			t.Fatalf("request %d: got %d events, want an egress and an ingress start:%s", i, len(evs), describe(evs))
		}
		mu.Lock()
		serverSock := inode(t, serverConn.(*net.TCPConn))
		mu.Unlock()

		for _, want := range []struct {
			dir           Direction
			local, remote netip.AddrPort
			sock          uint64
			syscall       string
		}{
			{Egress, localOf(client), srvAddr, clientSock, "write"},
			{Ingress, srvAddr, localOf(client), serverSock, "read"},
		} {
			got := where(evs, want.local, want.dir)
			if len(got) != 1 {
				t.Fatalf("request %d: %d %s events at %v, want 1:%s", i, len(got), want.dir, want.local, describe(evs))
			}
			ev := got[0]
			if !ev.Start || ev.Remote != want.remote || ev.Sock != want.sock || ev.Syscall != want.syscall ||
				ev.Len != len(req) || string(ev.Data) != req {
				t.Errorf("request %d %s: got start=%v remote=%v sock=%d syscall=%s len=%d data=%q; want start remote=%v sock=%d syscall=%s len=%d data=%q",
					i, want.dir, ev.Start, ev.Remote, ev.Sock, ev.Syscall, ev.Len, ev.Data, want.remote, want.sock, want.syscall, len(req), req)
			}
			if ev.TGID != uint32(os.Getpid()) || ev.PID == 0 || ev.CgroupID == 0 || ev.NetNS != netns || ev.KtimeNS == 0 {
				t.Errorf("request %d %s: tgid=%d (want %d) pid=%d cgroup=%d netns=%d (want %d) ktime=%d",
					i, want.dir, ev.TGID, os.Getpid(), ev.PID, ev.CgroupID, ev.NetNS, netns, ev.KtimeNS)
			}
			if comm := ev.CommString(); !strings.HasPrefix(filepath.Base(os.Args[0]), comm) || comm == "" {
				t.Errorf("request %d %s: comm %q is not the test binary %q", i, want.dir, comm, os.Args[0])
			}
		}
	}
}

// netnsInode is the inode of the test's network namespace.
func netnsInode(t *testing.T) uint32 {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	return uint32(st.Ino)
}

// TestSplitHead writes a head in three writes: one start and two
// continuations; what follows the head is not captured.
func TestSplitHead(t *testing.T) { eachHookSet(t, testSplitHead) }

func testSplitHead(t *testing.T, hooks HookSet) {
	c := startCapture(t, Config{Hooks: hooks})
	s := newSink(t, "127.0.0.1:0", readPlain)
	client := dial(t, s.addr())

	parts := []string{
		"POST /split HTTP/1.1\r\n",
		"Host: example.test\r\ntraceparent: " + traceparent + "\r\nContent-Length: 5\r\n",
		"\r\n",
		"hello", // the body: after the head ended, never captured
	}
	sent := 0
	for _, p := range parts {
		if _, err := client.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
		sent += len(p)
		time.Sleep(20 * time.Millisecond) // let the sink read each part alone
	}
	s.waitBytes(sent)

	evs := on(c.sync(), s.addr())
	egress := where(evs, localOf(client), Egress)
	if len(egress) != 3 {
		t.Fatalf("got %d egress events, want a start and 2 continuations:%s", len(egress), describe(evs))
	}
	for i, ev := range egress {
		if ev.Start != (i == 0) || string(ev.Data) != parts[i] || ev.Len != len(parts[i]) || ev.Syscall != "write" {
			t.Errorf("egress event %d: start=%v len=%d data=%q, want start=%v data=%q", i, ev.Start, ev.Len, ev.Data, i == 0, parts[i])
		}
	}
	// The sink may have read parts together; what it got adds up to the head.
	ingress := where(evs, s.addr(), Ingress)
	var got []byte
	for i, ev := range ingress {
		if ev.Start != (i == 0) {
			t.Errorf("ingress event %d: start=%v", i, ev.Start)
		}
		got = append(got, ev.Data...)
	}
	if head := strings.Join(parts[:3], ""); !strings.HasPrefix(string(got), head) {
		t.Errorf("ingress events carry %q, want the head %q", got, head)
	}
}

// TestHeadSizes: a head of 16 KiB in one write is seen whole; one of
// 20 KiB is cut at 16 KiB and Len says how long it was.
func TestHeadSizes(t *testing.T) { eachHookSet(t, testHeadSizes) }

func testHeadSizes(t *testing.T, hooks HookSet) {
	c := startCapture(t, Config{Hooks: hooks})
	s := newSink(t, "127.0.0.1:0", readPlain)

	for _, size := range []int{16384, 20480} {
		client := dial(t, s.addr())
		head := makeHead("/big", size)
		if _, err := client.Write(head); err != nil {
			t.Fatal(err)
		}
		// Bytes after a head longer than the budget are not continuations.
		if _, err := client.Write([]byte("more bytes that are not a request\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		evs := c.sync()
		egress := where(evs, localOf(client), Egress)
		if len(egress) != 1 {
			t.Fatalf("%d-byte head: got %d egress events, want 1:%s", size, len(egress), describe(egress))
		}
		ev := egress[0]
		want := head[:min(size, DefaultCaptureBytes)]
		if !ev.Start || ev.Len != size || !bytes.Equal(ev.Data, want) {
			t.Errorf("%d-byte head: start=%v len=%d len(data)=%d, want start len=%d len(data)=%d", size, ev.Start, ev.Len, len(ev.Data), size, len(want))
		}
	}
}

// makeHead returns a request head of exactly size bytes.
func makeHead(path string, size int) []byte {
	prefix := "GET " + path + " HTTP/1.1\r\nHost: example.test\r\nX-Pad: "
	suffix := "\r\n\r\n"
	return []byte(prefix + strings.Repeat("a", size-len(prefix)-len(suffix)) + suffix)
}

// TestHeadBudget: continuations stop once the head has spanned HeadBudget
// bytes, the last one cut to what was left.
func TestHeadBudget(t *testing.T) { eachHookSet(t, testHeadBudget) }

func testHeadBudget(t *testing.T, hooks HookSet) {
	c := startCapture(t, Config{Hooks: hooks})
	s := newSink(t, "127.0.0.1:0", readPlain)
	client := dial(t, s.addr())

	start := "GET /budget HTTP/1.1\r\nHost: example.test\r\n"
	chunk := bytes.Repeat([]byte("X-Filler: 0123456789abcdef\r\n"), 8192/28+1)[:8192]
	if _, err := client.Write([]byte(start)); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := client.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	egress := where(c.sync(), localOf(client), Egress)
	wantData := []int{len(start), 8192, HeadBudget - len(start) - 8192}
	if len(egress) != len(wantData) {
		t.Fatalf("got %d egress events, want %d:%s", len(egress), len(wantData), describe(egress))
	}
	for i, ev := range egress {
		if len(ev.Data) != wantData[i] || ev.Start != (i == 0) {
			t.Errorf("event %d: start=%v len=%d len(data)=%d, want len(data)=%d", i, ev.Start, ev.Len, len(ev.Data), wantData[i])
		}
	}
}

// TestHeadDone: once userspace says the head is done, continuations stop.
func TestHeadDone(t *testing.T) { eachHookSet(t, testHeadDone) }

func testHeadDone(t *testing.T, hooks HookSet) {
	c := startCapture(t, Config{Hooks: hooks})
	s := newSink(t, "127.0.0.1:0", readPlain)
	client := dial(t, s.addr())

	if _, err := client.Write([]byte("PUT /done HTTP/1.1\r\nHost: example.test\r\n")); err != nil {
		t.Fatal(err)
	}
	egress := where(c.sync(), localOf(client), Egress)
	if len(egress) != 1 || !egress[0].Start {
		t.Fatalf("want one start event:%s", describe(egress))
	}
	c.l.HeadDone(egress[0].TGID, egress[0].FD, Egress, false)
	if _, err := client.Write([]byte("X-After: 1\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if egress := where(c.sync(), localOf(client), Egress); len(egress) != 0 {
		t.Errorf("continuation captured after HeadDone:%s", describe(egress))
	}
}

// TestNotHTTP: binary data, a response, the second half of a request and a
// request cut before its method ended produce no event.
func TestNotHTTP(t *testing.T) { eachHookSet(t, testNotHTTP) }

func testNotHTTP(t *testing.T, hooks HookSet) {
	c := startCapture(t, Config{Hooks: hooks})
	s := newSink(t, "127.0.0.1:0", readPlain)

	sent := 0
	for _, data := range []string{
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03GET / HTTP/1.1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"Host: example.test\r\ntraceparent: " + traceparent + "\r\n\r\n",
		"GE",
		"POS",
		"get / HTTP/1.1\r\n\r\n",
		"GETS / HTTP/1.1\r\n\r\n",
	} {
		client := dial(t, s.addr())
		if _, err := client.Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
		client.Close()
		sent += len(data)
	}
	s.waitBytes(sent)
	if evs := on(c.sync(), s.addr()); len(evs) != 0 {
		t.Errorf("non-requests captured:%s", describe(evs))
	}
}

// TestDialedBeforeOpen: a connection made before the capture started is
// observed like any other.
func TestDialedBeforeOpen(t *testing.T) { eachHookSet(t, testDialedBeforeOpen) }

func testDialedBeforeOpen(t *testing.T, hooks HookSet) {
	privtest.RequireBPF(t)
	s := newSink(t, "127.0.0.1:0", readPlain)
	client := dial(t, s.addr())
	if _, err := client.Write([]byte("not yet watched\n")); err != nil {
		t.Fatal(err)
	}

	c := startCapture(t, Config{Hooks: hooks})
	req := "DELETE /old HTTP/1.1\r\nHost: example.test\r\n\r\n"
	if _, err := client.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	s.waitBytes(len("not yet watched\n") + len(req))
	evs := on(c.sync(), s.addr())
	for _, w := range []struct {
		local netip.AddrPort
		dir   Direction
	}{{localOf(client), Egress}, {s.addr(), Ingress}} {
		got := where(evs, w.local, w.dir)
		if len(got) != 1 || !got[0].Start || string(got[0].Data) != req {
			t.Errorf("%s at %v: want one start with the request:%s", w.dir, w.local, describe(evs))
		}
	}
}

// TestIPv6: addresses of an IPv6 connection come through as IPv6.
func TestIPv6(t *testing.T) { eachHookSet(t, testIPv6) }

func testIPv6(t *testing.T, hooks HookSet) {
	privtest.RequireBPF(t)
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	ln.Close()

	c := startCapture(t, Config{Hooks: hooks})
	s := newSink(t, "[::1]:0", readPlain)
	client := dial(t, s.addr())
	req := "OPTIONS * HTTP/1.1\r\nHost: [::1]\r\n\r\n"
	if _, err := client.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	s.waitBytes(len(req))
	evs := on(c.sync(), s.addr())
	loop := netip.IPv6Loopback()
	for _, w := range []struct {
		local, remote netip.AddrPort
		dir           Direction
	}{{localOf(client), s.addr(), Egress}, {s.addr(), localOf(client), Ingress}} {
		got := where(evs, w.local, w.dir)
		if len(got) != 1 || got[0].Remote != w.remote || got[0].Local.Addr() != loop || string(got[0].Data) != req {
			t.Errorf("%s: want one event %v -> %v:%s", w.dir, w.local, w.remote, describe(evs))
		}
	}
}

// mmsghdr is struct mmsghdr of the 64-bit syscall ABI.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// sendmmsg sends each buffer as one message of a single sendmmsg call.
func sendmmsg(fd int, bufs [][]byte) error {
	iovs := make([]unix.Iovec, len(bufs))
	msgs := make([]mmsghdr, len(bufs))
	for i, b := range bufs {
		iovs[i].Base = &b[0]
		iovs[i].SetLen(len(b))
		msgs[i].hdr.Iov = &iovs[i]
		msgs[i].hdr.SetIovlen(1)
	}
	n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), 0, 0, 0)
	runtime.KeepAlive(bufs)
	if errno != 0 {
		return errno
	}
	if int(n) != len(bufs) {
		return fmt.Errorf("sendmmsg sent %d of %d messages", n, len(bufs))
	}
	return nil
}

// recvmmsg receives into p as the one message of a recvmmsg call.
func recvmmsg(fd int, p []byte) (int, error) {
	iov := unix.Iovec{Base: &p[0]}
	iov.SetLen(len(p))
	msgs := []mmsghdr{{}}
	msgs[0].hdr.Iov = &iov
	msgs[0].hdr.SetIovlen(1)
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), 1, 0, 0, 0)
	runtime.KeepAlive(p)
	if errno != 0 {
		return 0, errno
	}
	if n == 0 {
		return 0, nil
	}
	return int(msgs[0].len), nil
}

// TestSyscalls drives every hooked send and receive syscall on both ends.
func TestSyscalls(t *testing.T) { eachHookSet(t, testSyscalls) }

func testSyscalls(t *testing.T, hooks HookSet) {
	c := startCapture(t, Config{Hooks: hooks})

	req := func(path string) []byte {
		return []byte("PATCH " + path + " HTTP/1.1\r\nHost: example.test\r\ntraceparent: " + traceparent + "\r\n\r\n")
	}
	split := func(b []byte, at ...int) [][]byte {
		var out [][]byte
		prev := 0
		for _, a := range at {
			out = append(out, b[prev:a])
			prev = a
		}
		return append(out, b[prev:])
	}
	for _, tc := range []struct {
		name       string
		send       func(fd int, b []byte) error
		sendName   string
		recv       readFunc
		recvName   string
		recvEvents int // 0: one event per request
	}{
		{"writev/readv", func(fd int, b []byte) error {
			_, err := unix.Writev(fd, split(b, 20, 40))
			return err
		}, "writev", func(fd int, p []byte) (int, error) {
			// A first iovec shorter than a method: decided after the copy.
			return unix.Readv(fd, [][]byte{p[:3], p[3:50], p[50:]})
		}, "readv", 0},
		{"writev short first iovec/read", func(fd int, b []byte) error {
			_, err := unix.Writev(fd, split(b, 2, 3))
			return err
		}, "writev", readPlain, "read", 0},
		{"sendto/recvfrom", func(fd int, b []byte) error {
			return unix.Sendto(fd, b, 0, nil)
		}, "sendto", func(fd int, p []byte) (int, error) {
			n, _, err := unix.Recvfrom(fd, p, 0)
			return n, err
		}, "recvfrom", 0},
		{"sendmsg/recvmsg", func(fd int, b []byte) error {
			_, err := unix.SendmsgBuffers(fd, split(b, 10), nil, nil, 0)
			return err
		}, "sendmsg", func(fd int, p []byte) (int, error) {
			n, _, _, _, err := unix.RecvmsgBuffers(fd, [][]byte{p[:7], p[7:]}, nil, 0)
			return n, err
		}, "recvmsg", 0},
		{"sendmmsg/recvmmsg", func(fd int, b []byte) error {
			return sendmmsg(fd, [][]byte{b, []byte("GET /second-message HTTP/1.1\r\n\r\n")})
		}, "sendmmsg", recvmmsg, "recvmmsg", 0},
		{"write/recvfrom MSG_PEEK then read", func(fd int, b []byte) error {
			_, err := unix.Write(fd, b)
			return err
		}, "write", func(fd int, p []byte) (int, error) {
			// The peeked bytes are read again: only the read is captured.
			if _, _, err := unix.Recvfrom(fd, p, unix.MSG_PEEK); err != nil {
				return 0, err
			}
			return unix.Read(fd, p)
		}, "read", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSink(t, "127.0.0.1:0", tc.recv)
			client := dial(t, s.addr())
			b := req("/" + tc.sendName)
			withFD(t, client, func(fd int) error { return tc.send(fd, b) })
			want := [][]byte{b}
			if tc.sendName == "sendmmsg" {
				want = append(want, []byte("GET /second-message HTTP/1.1\r\n\r\n"))
			}
			s.waitBytes(len(bytes.Join(want, nil)))
			checkRequests(t, on(c.sync(), s.addr()), localOf(client), s.addr(), tc.sendName, tc.recvName, want)
		})
	}
}

// mmsgArray is an mmsghdr array with one buffer per message, reused from
// call to call as programs that use sendmmsg and recvmmsg reuse theirs.
type mmsgArray struct {
	msgs []mmsghdr
	iovs []unix.Iovec
	bufs [][]byte
}

func newMmsgArray(n, size int) *mmsgArray {
	a := &mmsgArray{msgs: make([]mmsghdr, n), iovs: make([]unix.Iovec, n), bufs: make([][]byte, n)}
	for i := range n {
		a.bufs[i] = make([]byte, size)
		a.iovs[i].Base = &a.bufs[i][0]
		a.msgs[i].hdr.Iov = &a.iovs[i]
		a.msgs[i].hdr.SetIovlen(1)
	}
	return a
}

// mmsg makes one sendmmsg or recvmmsg call of the first len(sizes)
// messages, message i being sizes[i] bytes long, and returns the number
// of messages it moved.
func (a *mmsgArray) mmsg(trap uintptr, fd int, sizes []int, flags int) (int, error) {
	for i, n := range sizes {
		a.iovs[i].SetLen(n)
		a.msgs[i].len = 0
	}
	n, _, errno := unix.Syscall6(trap, uintptr(fd), uintptr(unsafe.Pointer(&a.msgs[0])), uintptr(len(sizes)), uintptr(flags), 0, 0)
	runtime.KeepAlive(a)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// TestMmsgArrays: sendmmsg and recvmmsg calls that reuse one array, and a
// recvmmsg that returns fewer messages than it asked for. The sock hooks
// see each message of such a call on its own and must keep count across
// calls (mmsg_index); every set must ship each message once, whole.
func TestMmsgArrays(t *testing.T) { eachHookSet(t, testMmsgArrays) }

func testMmsgArrays(t *testing.T, hooks HookSet) {
	c := startCapture(t, Config{Hooks: hooks})

	// The receiver asks for three messages a call on a non-blocking
	// socket: it gets what is there and the next message fails with
	// EAGAIN, which ends the call.
	recv := newMmsgArray(3, 4096)
	s := newSink(t, "127.0.0.1:0", func(fd int, _ []byte) (int, error) {
		n, err := recv.mmsg(unix.SYS_RECVMMSG, fd, []int{4096, 4096, 4096}, 0)
		total := 0
		for i := range n {
			total += int(recv.msgs[i].len)
		}
		return total, err
	})
	client := dial(t, s.addr())
	send := newMmsgArray(2, 256)
	var want [][]byte
	for call := range 3 {
		var sizes []int
		for i := range 2 {
			b := []byte(fmt.Sprintf("GET /call-%d/message-%d HTTP/1.1\r\n\r\n", call, i))
			copy(send.bufs[i], b)
			sizes = append(sizes, len(b))
			want = append(want, b)
		}
		withFD(t, client, func(fd int) error {
			n, err := send.mmsg(unix.SYS_SENDMMSG, fd, sizes, 0)
			if err == nil && n != 2 {
				err = fmt.Errorf("sendmmsg sent %d of 2 messages", n)
			}
			return err
		})
		s.waitBytes(len(bytes.Join(want, nil)))
	}
	checkRequests(t, on(c.sync(), s.addr()), localOf(client), s.addr(), "sendmmsg", "recvmmsg", want)
}

// checkRequests checks the events of requests sent from client to server:
// one egress start per request, made by sendName, carrying it whole; and
// ingress events made by recvName that carry all of them in order, the
// first a start.
func checkRequests(t *testing.T, evs []Event, client, server netip.AddrPort, sendName, recvName string, want [][]byte) {
	t.Helper()
	egress := where(evs, client, Egress)
	if len(egress) != len(want) {
		t.Fatalf("got %d egress events, want %d:%s", len(egress), len(want), describe(evs))
	}
	for i, ev := range egress {
		if !ev.Start || ev.Syscall != sendName || !bytes.Equal(ev.Data, want[i]) || ev.Len != len(want[i]) {
			t.Errorf("egress %d: %s start=%v len=%d data=%q, want %s %q", i, ev.Syscall, ev.Start, ev.Len, ev.Data, sendName, want[i])
		}
	}
	var got []byte
	for i, ev := range where(evs, server, Ingress) {
		if ev.Syscall != recvName || (i == 0 && !ev.Start) {
			t.Errorf("ingress %d: %s start=%v, want %s", i, ev.Syscall, ev.Start, recvName)
		}
		got = append(got, ev.Data...)
	}
	if !bytes.Equal(got, bytes.Join(want, nil)) {
		t.Errorf("ingress events carry %q, want %q:%s", got, bytes.Join(want, nil), describe(evs))
	}
}

// TestOwnProcessExcluded: without the test switch, propwatch's own traffic
// is not captured, another process's is.
func TestOwnProcessExcluded(t *testing.T) {
	privtest.RequireBPF(t)
	// Both ends: the helper sends, this process (excluded) receives.
	c := startCaptureRaw(t, Config{loopbackBoth: true})
	s := newSink(t, "127.0.0.1:0", readPlain)
	own := dial(t, s.addr())
	if _, err := own.Write([]byte("GET /own HTTP/1.1\r\n\r\n")); err != nil {
		t.Fatal(err)
	}

	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), helperEnv+"="+s.addr().String())
	if out, err := helper.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v %s", err, out)
	}
	want := "GET /from-helper HTTP/1.1\r\nHost: helper\r\n\r\n"
	deadline := time.After(10 * time.Second)
	var evs []Event
	for {
		select {
		case ev := <-c.events:
			if ev.Remote != s.addr() && ev.Local != s.addr() {
				continue
			}
			evs = append(evs, ev)
			if ev.TGID == uint32(os.Getpid()) {
				t.Fatalf("own process captured:%s", describe(evs))
			}
			if ev.TGID == uint32(helper.Process.Pid) && ev.Direction == Egress && string(ev.Data) == want {
				return
			}
		case <-deadline:
			t.Fatalf("the helper's request never came through:%s", describe(evs))
		}
	}
}

// TestLoopbackOnce: by default a request over loopback is emitted by its
// receiving end only, and names its sender: in the event when the kernel
// saw the send first, else through Owner.
func TestLoopbackOnce(t *testing.T) { eachHookSet(t, testLoopbackOnce) }

func testLoopbackOnce(t *testing.T, hooks HookSet) {
	privtest.RequireBPF(t)
	c := startCaptureRaw(t, Config{Hooks: hooks, captureSelf: true})
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "tcp6" {
				addr = "[::1]:0"
			}
			s := newSink(t, addr, readPlain)
			client := dial(t, s.addr())
			reqs := []string{
				"GET /once/1 HTTP/1.1\r\nHost: once\r\n\r\n",
				"POST /once/2 HTTP/1.1\r\nHost: once\r\nContent-Length: 0\r\n\r\n",
			}
			for _, r := range reqs {
				if _, err := client.Write([]byte(r)); err != nil {
					t.Fatal(err)
				}
				s.waitBytes(len(r))
			}
			evs := on(c.sync(), s.addr())
			if len(evs) != len(reqs) {
				t.Fatalf("%d events, want %d, all ingress:%s", len(evs), len(reqs), describe(evs))
			}
			clientEnd := client.LocalAddr().(*net.TCPAddr).AddrPort()
			for i, ev := range evs {
				if ev.Direction != Ingress || !ev.Start || string(ev.Data) != reqs[i] {
					t.Errorf("event %d: want the ingress start of request %d:%s", i, i, describe(evs))
				}
				if ev.Remote != unmapPort(clientEnd) {
					t.Errorf("event %d: remote %v, want the client %v", i, ev.Remote, clientEnd)
				}
			}
			// The second request surely came after the first send was
			// recorded; the first may have been read before.
			if last := evs[len(evs)-1]; last.PeerTGID != uint32(os.Getpid()) {
				t.Errorf("PeerTGID = %d, want this process %d", last.PeerTGID, os.Getpid())
			}
			first := evs[0]
			tgid, comm, ok := c.l.Owner(first.NetNS, first.Remote, first.Local)
			if !ok || tgid != uint32(os.Getpid()) {
				t.Errorf("Owner(client end) = %d, %v; want %d", tgid, ok, os.Getpid())
			}
			if string(bytes.TrimRight(comm[:], "\x00")) == "" {
				t.Errorf("Owner(client end) has no comm")
			}
			if _, _, ok := c.l.Owner(first.NetNS, first.Local, first.Remote); ok {
				t.Errorf("Owner(server end) found: the receiving end is not recorded")
			}
		})
	}
}

// unmapPort unmaps a v4-mapped address, as events carry addresses.
func unmapPort(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// TestLost: a one-page ring buffer nobody reads fills up, and the lost
// events are counted.
func TestLost(t *testing.T) {
	privtest.RequireBPF(t)
	l, err := Open(Config{RingBufferBytes: os.Getpagesize(), captureSelf: true, loopbackBoth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := newSink(t, "127.0.0.1:0", readPlain)
	client := dial(t, s.addr())
	req := []byte("GET /flood HTTP/1.1\r\nHost: example.test\r\n\r\n")
	for range 200 {
		if _, err := client.Write(req); err != nil {
			t.Fatal(err)
		}
	}
	s.waitBytes(200 * len(req))
	lost := l.Lost()
	if lost["ringbuf_full"] == 0 {
		t.Errorf("Lost() = %v, want ringbuf_full > 0", lost)
	}
	for _, name := range []string{"ringbuf_full", "read_failed", "args_full"} {
		if _, ok := lost[name]; !ok {
			t.Errorf("Lost() has no %q: %v", name, lost)
		}
	}
	// A full ring buffer loses events but no state: every site is
	// reported, and none failed.
	errs := l.KernelErrors()
	for _, name := range errorNames {
		if n, ok := errs[name]; !ok || n != 0 {
			t.Errorf("KernelErrors()[%q] = %d, %v; want 0, true", name, n, ok)
		}
	}
	l.Close()
	if after := l.Lost(); after["ringbuf_full"] < lost["ringbuf_full"] {
		t.Errorf("Lost() after Close = %v, want the counts at Close", after)
	}
	if after := l.KernelErrors(); len(after) != len(errorNames) {
		t.Errorf("KernelErrors() after Close = %v, want every site", after)
	}
}

// TestClose: Close interrupts Read, detaches everything and unloads every
// program and map; tracefs stays mounted.
func TestClose(t *testing.T) { eachHookSet(t, testClose) }

func testClose(t *testing.T, set HookSet) {
	privtest.RequireBPF(t)
	l, err := Open(Config{Hooks: set, captureSelf: true, loopbackBoth: true})
	if err != nil {
		t.Fatal(err)
	}
	hooks := l.Hooks()
	if l.HookSet() != set {
		t.Errorf("HookSet() = %q, want %q", l.HookSet(), set)
	}
	switch set {
	case HooksSock:
		if !slices.Equal(hooks, []string{"tp_btf/sock_recv_length", "tp_btf/sock_send_length"}) {
			t.Errorf("Hooks() = %v, want [tp_btf/sock_recv_length tp_btf/sock_send_length]", hooks)
		}
	case HooksBTF:
		if !slices.Equal(hooks, []string{"tp_btf/sys_exit"}) {
			t.Errorf("Hooks() = %v, want [tp_btf/sys_exit]", hooks)
		}
	case HooksRaw:
		if !slices.Equal(hooks, []string{"raw_tracepoint/sys_exit"}) {
			t.Errorf("Hooks() = %v, want [raw_tracepoint/sys_exit]", hooks)
		}
	default:
		if len(hooks) != 20 || !containsString(hooks, "tracepoint/syscalls/sys_enter_write") || !containsString(hooks, "tracepoint/syscalls/sys_exit_recvmmsg") {
			t.Errorf("Hooks() = %v, want the 20 syscall tracepoints", hooks)
		}
	}
	// Every program, and every map they use: the named maps and the
	// .rodata and .bss of the global variables.
	ours := map[ebpf.ProgramID]string{}
	mapSet := map[ebpf.MapID]bool{}
	for name, p := range l.progs {
		info, err := p.Info()
		if err != nil {
			t.Fatal(err)
		}
		id, _ := info.ID()
		ours[id] = name
		ids, _ := info.MapIDs()
		for _, m := range ids {
			mapSet[m] = true
		}
	}
	var mapIDs []ebpf.MapID
	for id := range mapSet {
		mapIDs = append(mapIDs, id)
	}
	// pw_args carries arguments from sys_enter to sys_exit; pw_mmsg,
	// pw_sk and pw_skip are the sock hooks' place in an mmsg call, their
	// notes on sockets and the directions they skip: the other sets have
	// no use for them. Every set's programs use pw_tls_calls,
	// pw_tls_awaits and pw_ssl_fds (tls_window), one entry each when TLS
	// capture is off.
	if want := map[HookSet]int{HooksSock: 15, HooksBTF: 12, HooksRaw: 12, HooksSyscalls: 13}[set]; len(mapIDs) != want {
		t.Errorf("programs use %d maps, want the %d named ones, .rodata and .bss", len(mapIDs), want-2)
	}

	readErr := make(chan error, 1)
	go func() {
		var ev Event
		for {
			if err := l.Read(&ev); err != nil {
				readErr <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-readErr:
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("Read during Close = %v, want os.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not interrupt Read")
	}
	var ev Event
	if err := l.Read(&ev); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read after Close = %v, want os.ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	l.HeadDone(1, 1, Egress, false) // a no-op after Close

	// The kernel frees programs once their last reference is gone, and the
	// maps after an RCU grace period: allow a moment.
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := append(loadedPrograms(t, ours), loadedMaps(mapIDs)...)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still loaded after Close: %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if p := findTracefs(); p == "" {
		t.Error("tracefs is not mounted after Close")
	}
}

// loadedPrograms lists the programs still loaded that are ours, and logs
// propwatch-named programs of other processes (a concurrent test run).
func loadedPrograms(t *testing.T, ours map[ebpf.ProgramID]string) []string {
	var left []string
	var id ebpf.ProgramID
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if errors.Is(err, os.ErrNotExist) {
			return left
		}
		if err != nil {
			t.Fatalf("ProgramGetNextID: %v", err)
		}
		id = next
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue // gone meanwhile
		}
		info, err := p.Info()
		p.Close()
		if err != nil {
			continue
		}
		if name, ok := ours[id]; ok {
			left = append(left, fmt.Sprintf("%d %s", id, name))
		} else if strings.HasPrefix(info.Name, "pw_enter_") || strings.HasPrefix(info.Name, "pw_exit_") {
			t.Logf("program %d %s belongs to another propwatch process", id, info.Name)
		}
	}
}

// loadedMaps lists the maps of ids that are still loaded.
func loadedMaps(ids []ebpf.MapID) []string {
	var left []string
	for _, id := range ids {
		m, err := ebpf.NewMapFromID(id)
		if err != nil {
			continue
		}
		info, err := m.Info()
		m.Close()
		if err == nil {
			left = append(left, fmt.Sprintf("map %d %s", id, info.Name))
		}
	}
	return left
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestVerifierStats logs how many instructions the verifier processed for
// each program and keeps them far from the 1M limit of older kernels.
func TestVerifierStats(t *testing.T) { eachHookSet(t, testVerifierStats) }

func testVerifierStats(t *testing.T, hooks HookSet) {
	privtest.RequireBPF(t)
	l, err := Open(Config{Hooks: hooks, TLS: true, captureSelf: true, loopbackBoth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.TLS(); err != nil {
		t.Fatalf("TLS programs: %v", err)
	}
	progs := maps.Clone(l.progs)
	maps.Copy(progs, l.tls.progs)
	for name, p := range progs {
		info, err := p.Info()
		if err != nil {
			t.Fatal(err)
		}
		n, ok := info.VerifiedInstructions()
		if !ok {
			t.Skip("kernel does not report verified instructions (5.16+)")
		}
		t.Logf("%-20s %6d instructions verified", name, n)
		if n > 200_000 {
			t.Errorf("%s: %d instructions verified, want at most 200000 to stay clear of the 1M limit", name, n)
		}
	}
}

// TestReadAllocs: Read allocates nothing once the Event has been used.
func TestReadAllocs(t *testing.T) {
	privtest.RequireBPF(t)
	l, err := Open(Config{captureSelf: true, loopbackBoth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := newSink(t, "127.0.0.1:0", readPlain)
	client := dial(t, s.addr())
	req := []byte("HEAD /allocs HTTP/1.1\r\nHost: example.test\r\n\r\n")
	const n = 200 // two events each: the write and the sink's read
	for range n {
		if _, err := client.Write(req); err != nil {
			t.Fatal(err)
		}
	}
	s.waitBytes(n * len(req))
	var ev Event
	if err := l.Read(&ev); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := l.Read(&ev); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Read allocates %v times per event, want 0", allocs)
	}
}

// BenchmarkRead measures the whole path, events per second: a goroutine
// writes requests on a loopback connection as fast as it can while Read
// takes their events. One op is one request written and its egress event
// read.
func BenchmarkRead(b *testing.B) {
	privtest.RequireBPF(b)
	l, err := Open(Config{captureSelf: true, loopbackBoth: true})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(io.Discard, c)
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	req := []byte("GET /bench HTTP/1.1\r\nHost: example.test\r\ntraceparent: " + traceparent + "\r\n\r\n")

	var ev Event
	events := 0
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for range b.N {
			if _, err := client.Write(req); err != nil {
				return
			}
		}
	}()
	for seen := 0; seen < b.N; {
		if err := l.Read(&ev); err != nil {
			b.Fatal(err)
		}
		events++
		if ev.Direction == Egress && ev.Remote.Port() == port {
			seen++
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	if lost := l.Lost(); lost["ringbuf_full"] > 0 {
		b.Logf("lost: %v", lost)
	}
}

// BenchmarkReadDrain measures Read alone: events are queued in the ring
// buffer with the timer stopped, then read back. One op is one event.
func BenchmarkReadDrain(b *testing.B) {
	privtest.RequireBPF(b)
	l, err := Open(Config{captureSelf: true, loopbackBoth: true})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	received := make(chan int, 1024)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			received <- n
		}
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	req := []byte("GET /bench HTTP/1.1\r\nHost: example.test\r\ntraceparent: " + traceparent + "\r\n\r\n")

	var ev Event
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		b.StopTimer()
		// Each write is one egress event; the server's reads add ingress
		// events. Count what was queued by reading exactly the writes'.
		batch := min(2048, b.N-done)
		for range batch {
			if _, err := client.Write(req); err != nil {
				b.Fatal(err)
			}
		}
		for got := 0; got < batch*len(req); {
			got += <-received
		}
		b.StartTimer()
		for range batch {
			if err := l.Read(&ev); err != nil {
				b.Fatal(err)
			}
		}
		done += batch
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// TestLoadError: a verifier rejection shows the last 40 lines of the log,
// or all of it with Verbose, and still unwraps to *ebpf.VerifierError.
func TestLoadError(t *testing.T) {
	privtest.RequireBPF(t)
	// 60 instructions the verifier logs, then a read of an unset register.
	var insns asm.Instructions
	for i := range 60 {
		insns = append(insns, asm.Mov.Imm(asm.R0, int32(i)))
	}
	insns = append(insns, asm.Mov.Reg(asm.R0, asm.R5), asm.Return())
	_, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SocketFilter, License: "GPL", Instructions: insns})
	var ve *ebpf.VerifierError
	if !errors.As(err, &ve) {
		t.Fatalf("want a verifier error, got %v", err)
	}
	for _, verbose := range []bool{false, true} {
		err := loadError(fmt.Errorf("program broken: %w", err), verbose)
		msg := err.Error()
		lines := strings.Count(msg, "\n") + 1
		if !strings.HasPrefix(msg, "load capture program: program broken: ") || !strings.Contains(msg, "R5 !read_ok") {
			t.Errorf("verbose=%v: message %q does not name the program and the cause", verbose, msg)
		}
		if !errors.As(err, &ve) {
			t.Errorf("verbose=%v: does not unwrap to *ebpf.VerifierError", verbose)
		}
		if verbose && lines < 60 || !verbose && lines > 43 {
			t.Errorf("verbose=%v: %d lines:\n%s", verbose, lines, msg)
		}
	}
}

// TestDetachThenDrain: after Detach no new event is made, and the events
// made before it can still be read, which is how propwatch run stops
// without losing the requests of its last moments.
func TestDetachThenDrain(t *testing.T) {
	privtest.RequireBPF(t)
	l, err := Open(Config{captureSelf: true, loopbackBoth: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer l.Close()
	srv := newSink(t, "127.0.0.1:0", readPlain)
	conn := dial(t, srv.addr())
	before := "GET /before-detach HTTP/1.1\r\n\r\n"
	if _, err := conn.Write([]byte(before)); err != nil {
		t.Fatal(err)
	}
	srv.waitBytes(len(before))
	if err := l.Detach(); err != nil {
		t.Fatalf("Detach: %v", err)
	}
	after := "GET /after-detach HTTP/1.1\r\n\r\n"
	if _, err := conn.Write([]byte(after)); err != nil {
		t.Fatal(err)
	}
	srv.waitBytes(len(before) + len(after))

	var got []string
	var ev Event
	for l.Pending() > 0 {
		if err := l.Read(&ev); err != nil {
			t.Fatalf("Read: %v", err)
		}
		if ev.Local == srv.addr() || ev.Remote == srv.addr() {
			got = append(got, ev.Direction.String()+" "+string(ev.Data))
		}
	}
	want := []string{"egress " + before, "ingress " + before}
	if len(got) != 2 || !slices.Contains(got, want[0]) || !slices.Contains(got, want[1]) {
		t.Fatalf("drained %q, want %q", got, want)
	}
	if err := l.Detach(); err != nil {
		t.Fatalf("second Detach: %v", err)
	}
}

// TestFDReuse: a head left open on a descriptor that is closed and reused
// for another connection does not make the new connection's bytes a
// continuation: the stream state is keyed by descriptor and checked
// against the socket.
func TestFDReuse(t *testing.T) { eachHookSet(t, testFDReuse) }

func testFDReuse(t *testing.T, hooks HookSet) {
	c := startCapture(t, Config{Hooks: hooks})
	s := newSink(t, "127.0.0.1:0", readPlain)
	open := "GET /reuse HTTP/1.1\r\nHost: reuse\r\n"
	a := dial(t, s.addr())
	if _, err := a.Write([]byte(open)); err != nil {
		t.Fatal(err)
	}
	s.waitBytes(len(open))
	first := on(c.sync(), s.addr())
	if len(first) != 2 {
		t.Fatalf("%d events for the open head, want 2:%s", len(first), describe(first))
	}
	a.Close()

	b := dial(t, s.addr())
	rest := "X-Not-A-Continuation: 1\r\n\r\n"
	if _, err := b.Write([]byte(rest)); err != nil {
		t.Fatal(err)
	}
	s.waitBytes(len(open) + len(rest))
	if evs := on(c.sync(), s.addr()); len(evs) != 0 {
		var reused bool
		for _, ev := range evs {
			for _, f := range first {
				reused = reused || (ev.FD == f.FD && ev.Direction == f.Direction)
			}
		}
		t.Errorf("bytes of a new connection captured (descriptor reused: %v):%s", reused, describe(evs))
	}
}
