//go:build linux && (amd64 || arm64)

package loader

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/propwatch/propwatch/internal/privtest"
)

// capture is a Loader under test, with a goroutine copying its events into
// a channel and a marker connection that tells when the events of
// everything done before have been read.
type capture struct {
	t      *testing.T
	l      *Loader
	events chan Event
	done   chan struct{}

	marker     *sink
	markerConn net.Conn
	markerSeq  int
}

// startCapture opens a Loader that also captures the test process itself,
// at both ends of its loopback connections.
func startCapture(t *testing.T, cfg Config) *capture {
	t.Helper()
	privtest.RequireBPF(t)
	cfg.captureSelf = true
	cfg.loopbackBoth = true
	return startCaptureRaw(t, cfg)
}

// clockSlack is how far Clock may put an event outside the moments it
// surely lies between.
const clockSlack = 5 * time.Millisecond

// eachHookSet runs test once per hook set, as subtests named after it.
func eachHookSet(t *testing.T, test func(t *testing.T, hooks HookSet)) {
	for _, hooks := range []HookSet{HooksSock, HooksBTF, HooksRaw, HooksSyscalls} {
		t.Run(string(hooks), func(t *testing.T) {
			requireHookSet(t, hooks)
			test(t, hooks)
		})
	}
}

// requireHookSet skips a test of the sock hooks on a kernel that has not
// their tracepoints (before Linux 6.3): there the set is not supported, and
// Open with HooksAuto passes over it. Nothing else is skipped: every other
// set loads on every kernel propwatch supports, and a failure to load
// them is a failure.
func requireHookSet(t *testing.T, hooks HookSet) {
	t.Helper()
	if hooks != HooksSock {
		return
	}
	if err := probeSock(); errors.Is(err, ebpf.ErrNotSupported) {
		t.Skipf("hook set %s not supported by this kernel: %v", hooks, err)
	}
}

func startCaptureRaw(t *testing.T, cfg Config) *capture {
	t.Helper()
	opened := time.Now()
	l, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	c := &capture{t: t, l: l, events: make(chan Event, 1<<14), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		var ev Event
		clock := NewClock()
		for {
			if err := l.Read(&ev); err != nil {
				if !errors.Is(err, os.ErrClosed) {
					t.Errorf("Read: %v", err)
				}
				return
			}
			// Every event's syscall returned after Open began and
			// before it was read (the slack is for the clock reads).
			if at := clock.Time(ev.KtimeNS); at.Before(opened.Add(-clockSlack)) || at.After(time.Now().Add(clockSlack)) {
				t.Errorf("event of %s at %v: outside [%v, now]", ev.Syscall, at, opened)
			}
			cp := ev
			cp.Data = bytes.Clone(ev.Data)
			cp.raw = nil
			c.events <- cp
		}
	}()
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		<-c.done
	})

	c.marker = newSink(t, "127.0.0.1:0", readPlain)
	c.markerConn = dial(t, c.marker.addr())
	return c
}

// sync returns the events read until the events of a marker request
// written now have come through. The ring buffer is ordered, so every
// syscall that returned before the marker was written has its event in the
// result.
func (c *capture) sync() []Event {
	c.t.Helper()
	c.markerSeq++
	req := fmt.Sprintf("GET /__sync/%d HTTP/1.1\r\n\r\n", c.markerSeq)
	if _, err := c.markerConn.Write([]byte(req)); err != nil {
		c.t.Fatalf("write marker: %v", err)
	}
	var out []Event
	timeout := time.After(10 * time.Second)
	marker := c.marker.addr()
	for {
		select {
		case ev := <-c.events:
			if ev.Local == marker || ev.Remote == marker {
				if ev.Direction == Ingress && string(ev.Data) == req {
					return out
				}
				continue
			}
			out = append(out, ev)
		case <-timeout:
			c.t.Fatalf("marker request %d never came through; lost: %v", c.markerSeq, c.l.Lost())
			return nil
		}
	}
}

// on keeps the events of the connections of server, at either end.
func on(events []Event, server netip.AddrPort) []Event {
	var out []Event
	for _, ev := range events {
		if ev.Local == server || ev.Remote == server {
			out = append(out, ev)
		}
	}
	return out
}

// where keeps the events of one socket and direction.
func where(events []Event, local netip.AddrPort, dir Direction) []Event {
	var out []Event
	for _, ev := range events {
		if ev.Local == local && ev.Direction == dir {
			out = append(out, ev)
		}
	}
	return out
}

func describe(events []Event) string {
	var b bytes.Buffer
	for _, ev := range events {
		fmt.Fprintf(&b, "\n\t%s %s %v->%v start=%v len=%d data=%q", ev.Syscall, ev.Direction, ev.Local, ev.Remote, ev.Start, ev.Len, trim(ev.Data))
	}
	return b.String()
}

func trim(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}

// readFunc reads from a connection's socket with one particular syscall.
type readFunc func(fd int, p []byte) (int, error)

func readPlain(fd int, p []byte) (int, error) { return unix.Read(fd, p) }

// sink is a TCP server that reads everything its clients send, with the
// syscall of its readFunc, and counts what it received.
type sink struct {
	t    *testing.T
	ln   net.Listener
	read readFunc

	mu    sync.Mutex
	cond  *sync.Cond
	got   int
	conns []net.Conn
}

func newSink(t *testing.T, addr string, read readFunc) *sink {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	s := &sink{t: t, ln: ln, read: read}
	s.cond = sync.NewCond(&s.mu)
	go s.serve()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	return s
}

func (s *sink) addr() netip.AddrPort {
	return s.ln.Addr().(*net.TCPAddr).AddrPort()
}

func (s *sink) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		go s.drain(c)
	}
}

func (s *sink) drain(c net.Conn) {
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 64<<10)
	for {
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, rerr = s.read(int(fd), buf)
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err != nil || rerr != nil || n <= 0 {
			return
		}
		s.mu.Lock()
		s.got += n
		s.cond.Broadcast()
		s.mu.Unlock()
	}
}

// waitBytes waits until the sink has read n bytes in all.
func (s *sink) waitBytes(n int) {
	s.t.Helper()
	deadline := time.AfterFunc(10*time.Second, func() {
		s.mu.Lock()
		s.got = -1 << 40
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer deadline.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.got >= 0 && s.got < n {
		s.cond.Wait()
	}
	if s.got < 0 {
		s.t.Fatalf("sink never received %d bytes", n)
	}
}

func dial(t *testing.T, addr netip.AddrPort) *net.TCPConn {
	t.Helper()
	c, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatalf("dial %v: %v", addr, err)
	}
	// Room for the largest test write, so that no write(2) comes back short
	// and splits one chunk into two events.
	if err := c.SetWriteBuffer(1 << 20); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func localOf(c net.Conn) netip.AddrPort { return c.LocalAddr().(*net.TCPAddr).AddrPort() }

// withFD runs f on the socket of c, waiting for writability first.
func withFD(t *testing.T, c *net.TCPConn, f func(fd int) error) {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ferr error
	err = rc.Write(func(fd uintptr) bool {
		ferr = f(int(fd))
		return !errors.Is(ferr, unix.EAGAIN)
	})
	if err != nil || ferr != nil {
		t.Fatalf("syscall on socket: %v %v", err, ferr)
	}
}

// inode returns the inode number of c's socket: what Event.Sock reports.
func inode(t *testing.T, c syscallConn) uint64 {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil || serr != nil {
		t.Fatalf("fstat: %v %v", err, serr)
	}
	return st.Ino
}

type syscallConn interface {
	SyscallConn() (syscall.RawConn, error)
}
