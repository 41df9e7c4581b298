package observe

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/propwatch/propwatch/internal/identity"
	"github.com/propwatch/propwatch/internal/loader"
	"github.com/propwatch/propwatch/internal/parse"
	"github.com/propwatch/propwatch/internal/report"
)

const tp = "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"

var (
	clientAddr = netip.MustParseAddrPort("127.0.0.1:40000")
	serverAddr = netip.MustParseAddrPort("127.0.0.1:8080")
	remoteAddr = netip.MustParseAddrPort("192.0.2.10:443")
	remoteCli  = netip.MustParseAddrPort("192.0.2.20:51000")
)

const (
	clientPID = 100
	serverPID = 200
)

type fixture struct {
	t    *testing.T
	agg  *report.Aggregator
	obs  *Observer
	now  time.Time
	done []doneCall
}

// doneCall is one call of Config.HeadDone.
type doneCall struct {
	tgid, fd uint32
	dir      loader.Direction
	tls      bool
}

func newFixture(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	return newFixtureIn(t, procRoot(t), mod)
}

// procRoot makes a /proc with the environments of the client and server
// processes.
func procRoot(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	for pid, env := range map[int]string{clientPID: "OTEL_SERVICE_NAME=checkout\x00", serverPID: "OTEL_RESOURCE_ATTRIBUTES=service.name=inventory\x00"} {
		dir := filepath.Join(root, fmt.Sprint(pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "environ"), []byte(env), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// newFixtureIn is newFixture with a /proc made by procRoot.
func newFixtureIn(t *testing.T, root string, mod func(*Config)) *fixture {
	f := &fixture{t: t, agg: report.NewAggregator(report.AggregatorConfig{}), now: time.Unix(1000, 0)}
	cfg := Config{
		Aggregator: f.agg,
		Resolver:   identity.NewResolver(identity.Config{ProcRoot: root}),
		HeadDone: func(tgid, fd uint32, dir loader.Direction, tls bool) {
			f.done = append(f.done, doneCall{tgid, fd, dir, tls})
		},
		// These tests play both ends of loopback connections; the
		// kernel's default, the receiving end only, has tests of its own.
		LoopbackBothEnds: true,
	}
	if mod != nil {
		mod(&cfg)
	}
	f.obs = New(cfg)
	return f
}

// send delivers one chunk as the client process sending it.
func (f *fixture) send(sock uint64, start bool, data string) {
	f.event(&loader.Event{TGID: clientPID, FD: uint32(sock), Sock: sock, Local: clientAddr, Remote: serverAddr,
		Direction: loader.Egress, Start: start, Len: len(data), Data: []byte(data)})
}

// recv delivers one chunk as the server process receiving it.
func (f *fixture) recv(sock uint64, start bool, data string) {
	f.event(&loader.Event{TGID: serverPID, FD: uint32(sock), Sock: sock, Local: serverAddr, Remote: clientAddr,
		Direction: loader.Ingress, Start: start, Len: len(data), Data: []byte(data)})
}

func (f *fixture) event(ev *loader.Event) {
	copy(ev.Comm[:], "comm")
	f.obs.Handle(ev, f.now)
}

// settle lets the name delay pass and names everything queued.
func (f *fixture) settle() report.Snapshot {
	f.now = f.now.Add(time.Second)
	f.obs.Tick(f.now)
	return f.agg.Snapshot()
}

func (f *fixture) pair(s report.Snapshot, src, dst string) report.PairStats {
	f.t.Helper()
	for _, p := range s.Pairs {
		if p.Source == src && p.Destination == dst {
			return p
		}
	}
	f.t.Fatalf("no pair %s -> %s in %+v", src, dst, s.Pairs)
	return report.PairStats{}
}

func get(path string, headers ...string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: inventory:8080\r\n" + strings.Join(headers, "") + "\r\n"
}

func TestBothEndsCountOnce(t *testing.T) {
	for _, order := range []string{"client first", "server first"} {
		t.Run(order, func(t *testing.T) {
			f := newFixture(t, nil)
			req := get("/a", tp)
			if order == "client first" {
				f.send(1, true, req)
				f.recv(2, true, req)
			} else {
				f.recv(2, true, req)
				f.send(1, true, req)
			}
			s := f.settle()
			if len(s.Pairs) != 1 {
				t.Fatalf("pairs %+v", s.Pairs)
			}
			p := f.pair(s, "checkout", "inventory")
			if p.Requests != 1 || p.MissingContext != 0 || p.Protocol != "http" {
				t.Fatalf("pair %+v", p)
			}
		})
	}
}

func TestKeepAliveRepeats(t *testing.T) {
	f := newFixture(t, nil)
	req := get("/same")
	for i := 0; i < 5; i++ {
		f.send(1, true, req)
	}
	for i := 0; i < 5; i++ {
		f.recv(2, true, req)
	}
	p := f.pair(f.settle(), "checkout", "inventory")
	if p.Requests != 5 || p.MissingContext != 5 {
		t.Fatalf("pair %+v", p)
	}
}

func TestSplitHead(t *testing.T) {
	f := newFixture(t, nil)
	req := get("/split", tp, "baggage: user=jane%40example.com\r\n")
	f.send(1, true, req[:10])
	f.send(1, false, req[10:50])
	f.send(1, false, req[50:])
	p := f.pair(f.settle(), "checkout", "inventory")
	if p.Requests != 1 || p.PIIByKind["email"] != 1 || p.Truncated != 0 {
		t.Fatalf("pair %+v", p)
	}
}

func TestPipelined(t *testing.T) {
	f := newFixture(t, nil)
	post := "POST /p HTTP/1.1\r\nHost: inventory\r\nContent-Length: 5\r\n" + tp + "\r\nhello"
	f.send(1, true, get("/1", tp)+post+get("/3"))
	p := f.pair(f.settle(), "checkout", "inventory")
	if p.Requests != 3 || p.MissingContext != 1 {
		t.Fatalf("pair %+v", p)
	}
}

func TestPipelinedSplitAcrossChunks(t *testing.T) {
	f := newFixture(t, nil)
	two := get("/1", tp) + get("/2", tp)
	cut := len(get("/1", tp)) + 7
	f.recv(2, true, two[:cut])
	f.recv(2, false, two[cut:])
	s := f.settle()
	if s.ParseFailures[FailIncomplete] != 0 {
		t.Fatalf("failures %v", s.ParseFailures)
	}
	// Only the server's end was seen: the client is named by its address.
	if p := f.pair(s, "127.0.0.1", "inventory"); p.Requests != 2 || p.MissingContext != 0 {
		t.Fatalf("pair %+v", p)
	}
}

func TestBodyIsNotRead(t *testing.T) {
	f := newFixture(t, nil)
	f.send(1, true, "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nGET / HTTP/1.1")
	// The continuation carries the body; no head is open, so it is ignored.
	f.send(1, false, strings.Repeat("z", 86))
	s := f.settle()
	p := f.pair(s, "checkout", "x") // the server's end was not seen: its Host names it
	if p.Requests != 1 || len(s.ParseFailures) != 0 {
		t.Fatalf("pair %+v failures %v", p, s.ParseFailures)
	}
	if len(f.done) != 1 || f.done[0] != (doneCall{clientPID, 1, loader.Egress, false}) {
		t.Fatalf("HeadDone calls %v", f.done)
	}
}

func TestHalfRequestIsAFailureNotARequest(t *testing.T) {
	f := newFixture(t, nil)
	f.send(1, true, "GET /half HTTP/1.1\r\nHost: x\r\ntracep")
	f.now = f.now.Add(10 * time.Second)
	s := f.settle()
	if len(s.Pairs) != 0 || s.ParseFailures[FailIncomplete] != 1 {
		t.Fatalf("pairs %+v failures %v", s.Pairs, s.ParseFailures)
	}
}

func TestGarbage(t *testing.T) {
	f := newFixture(t, nil)
	f.send(1, true, "GET \x00\x01\x02\xff garbage\r\n\r\n")
	f.send(3, true, "PUT "+strings.Repeat("\x7f", 100))
	s := f.settle()
	if len(s.Pairs) != 0 || s.ParseFailures[FailNotHTTP] != 2 {
		t.Fatalf("pairs %+v failures %v", s.Pairs, s.ParseFailures)
	}
}

func TestNewStartAbandonsHalfHead(t *testing.T) {
	f := newFixture(t, nil)
	f.send(1, true, "GET /a HTTP/1.1\r\nHost: x\r\n")
	f.send(1, true, get("/b", tp))
	s := f.settle()
	if s.ParseFailures[FailIncomplete] != 1 || f.pair(s, "checkout", "inventory").Requests != 1 {
		t.Fatalf("failures %v pairs %+v", s.ParseFailures, s.Pairs)
	}
}

func TestHeadLargerThanCapture(t *testing.T) {
	f := newFixture(t, nil)
	head := get("/big", tp, "baggage: k="+strings.Repeat("v", 20000)+"\r\n")
	ev := &loader.Event{TGID: clientPID, Sock: 1, Local: clientAddr, Remote: serverAddr,
		Direction: loader.Egress, Start: true, Len: len(head), Data: []byte(head[:16384])}
	f.event(ev)
	p := f.pair(f.settle(), "checkout", "inventory")
	if p.Requests != 1 || p.Truncated != 1 || p.MissingContext != 0 {
		t.Fatalf("pair %+v", p)
	}
}

func TestHeadOverBudgetAcrossChunks(t *testing.T) {
	f := newFixture(t, nil)
	head := get("/big", tp, "baggage: k="+strings.Repeat("v", 20000)+"\r\n")
	f.send(1, true, head[:8000])
	f.send(1, false, head[8000:16000])
	// The kernel's budget ends at 16 KiB: this chunk is cut.
	f.event(&loader.Event{TGID: clientPID, Sock: 1, Local: clientAddr, Remote: serverAddr,
		Direction: loader.Egress, Len: len(head) - 16000, Data: []byte(head[16000:16384])})
	p := f.pair(f.settle(), "checkout", "inventory")
	if p.Requests != 1 || p.Truncated != 1 {
		t.Fatalf("pair %+v", p)
	}
}

func TestRemotePeers(t *testing.T) {
	f := newFixture(t, nil)
	// This host's client calls a remote server: named by the Host header.
	f.event(&loader.Event{TGID: clientPID, Sock: 1, Local: netip.MustParseAddrPort("10.0.0.1:5000"), Remote: remoteAddr,
		Direction: loader.Egress, Start: true, Len: 60, Data: []byte("GET / HTTP/1.1\r\nHost: api.example.net:443\r\n\r\n")})
	// Without a Host header: the address.
	f.event(&loader.Event{TGID: clientPID, Sock: 2, Local: netip.MustParseAddrPort("10.0.0.1:5001"), Remote: remoteAddr,
		Direction: loader.Egress, Start: true, Len: 20, Data: []byte("GET / HTTP/1.0\r\n\r\n")})
	// A remote client calls this host's server: named by its address.
	f.event(&loader.Event{TGID: serverPID, Sock: 3, Local: netip.MustParseAddrPort("10.0.0.1:8080"), Remote: remoteCli,
		Direction: loader.Ingress, Start: true, Len: 20, Data: []byte("GET / HTTP/1.1\r\n\r\n")})
	// A Host that looks like PII never becomes a pair name: the address does.
	f.event(&loader.Event{TGID: clientPID, Sock: 4, Local: netip.MustParseAddrPort("10.0.0.1:5002"), Remote: remoteAddr,
		Direction: loader.Egress, Start: true, Len: 60, Data: []byte("GET / HTTP/1.1\r\nHost: jane.doe@example.com\r\n\r\n")})
	s := f.settle()
	for _, p := range s.Pairs {
		if strings.Contains(p.Destination, "jane") {
			t.Fatalf("a Host that looks like an email named a pair: %+v", p)
		}
	}
	if p := f.pair(s, "checkout", "192.0.2.10:443"); p.Requests != 2 {
		t.Fatalf("address pair: %+v", p)
	}
	f.pair(s, "checkout", "api.example.net")
	f.pair(s, "192.0.2.20", "inventory")
}

func TestStreamCap(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxStreams = 8 })
	for i := 0; i < 100; i++ {
		f.send(uint64(i), true, "GET /a HTTP/1.1\r\nHost: x\r\n")
	}
	if n := f.obs.streams.Len(); n != 8 {
		t.Fatalf("%d streams kept", n)
	}
	f.obs.Flush()
	s := f.agg.Snapshot()
	if s.ParseFailures[FailEvicted] != 92 || s.ParseFailures[FailIncomplete] != 8 {
		t.Fatalf("failures %v", s.ParseFailures)
	}
}

func TestQueueOverflowNamesAtOnce(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxQueued = 4 })
	for i := 0; i < 10; i++ {
		f.send(uint64(i), true, get(fmt.Sprint("/", i)))
	}
	if got := f.agg.Snapshot(); len(got.Pairs) != 1 || got.Pairs[0].Requests != 6 {
		t.Fatalf("before the delay: %+v", got.Pairs)
	}
	if p := f.pair(f.settle(), "checkout", "inventory"); p.Requests != 10 {
		t.Fatalf("pair %+v", p)
	}
}

// TestChurnIsBounded drives a million connections through the observer,
// each leaving a half head or an unmatched local request behind, and checks
// that every table stays within its cap.
func TestChurnIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	f := newFixture(t, func(c *Config) { c.MaxStreams = 1024; c.MaxQueued = 4096 })
	for i := 0; i < 1_000_000; i++ {
		port := uint16(1024 + i%60000)
		local := netip.AddrPortFrom(clientAddr.Addr(), port)
		data := get(fmt.Sprint("/", i))
		if i%2 == 0 {
			data = data[:20]
		}
		f.event(&loader.Event{TGID: clientPID, Sock: uint64(i), Local: local, Remote: serverAddr,
			Direction: loader.Egress, Start: true, Len: len(data), Data: []byte(data)})
		if i%1000 == 0 {
			f.now = f.now.Add(100 * time.Millisecond)
			f.obs.Tick(f.now)
		}
	}
	if n := f.obs.streams.Len(); n > 1024 {
		t.Fatalf("%d streams", n)
	}
	if n := f.obs.dedupe.len(); n > 2*4096 {
		t.Fatalf("%d dedupe entries", n)
	}
	if n := len(f.obs.queue.buf); n > 4096 {
		t.Fatalf("queue of %d", n)
	}
	if n := f.obs.cfg.Owners.Len(); n > 65536 {
		t.Fatalf("%d owners", n)
	}
}

func TestVerdictReachesAggregator(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Analyzer = parse.Options{} })
	f.send(1, true, get("/x", "traceparent: 00-zz\r\n", "baggage: password=x\r\n"))
	p := f.pair(f.settle(), "checkout", "inventory")
	if p.InvalidContext != 1 || p.InvalidReasons["traceparent.bad_length"]+p.InvalidReasons["traceparent.bad_hex"] != 1 || p.SuspectKeys != 1 {
		t.Fatalf("pair %+v", p)
	}
}

// BenchmarkLoopbackRequest is the observer's share of one request seen at
// both ends: two events, one judgement, one record.
func BenchmarkLoopbackRequest(b *testing.B) {
	// The request bench/overhead.sh drives nginx with.
	req := []byte("GET /api/v1/cart?id=42 HTTP/1.1\r\nHost: propwatch-bench.invalid\r\nUser-Agent: propwatch-bench/1\r\nAccept: */*\r\n" + tp +
		"tracestate: congo=t61rcWkgMzE,rojo=00f067aa0ba902b7\r\n" +
		"baggage: tenant.id=acme-corp,session.region=eu-west-1,feature.flags=new-checkout%3Bdark-mode,request.priority=high\r\n\r\n")
	send := &loader.Event{TGID: clientPID, Sock: 1, Local: clientAddr, Remote: serverAddr, Direction: loader.Egress, Start: true, Len: len(req), Data: req}
	recv := &loader.Event{TGID: serverPID, Sock: 2, Local: serverAddr, Remote: clientAddr, Direction: loader.Ingress, Start: true, Len: len(req), Data: req}
	// receiver-only is the kernel's default: one event per request, the
	// sender named by the event; both-ends matches two events.
	for _, mode := range []struct {
		name   string
		both   bool
		events []*loader.Event
	}{
		{"receiver-only", false, []*loader.Event{{TGID: serverPID, PeerTGID: clientPID, Sock: 2, Local: serverAddr, Remote: clientAddr, Direction: loader.Ingress, Start: true, Len: len(req), Data: req}}},
		{"both-ends", true, []*loader.Event{send, recv}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			f := newFixture(&testing.T{}, func(c *Config) { c.LoopbackBothEnds = mode.both })
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				for _, ev := range mode.events {
					f.obs.Handle(ev, f.now)
				}
				i++
				if i%1024 == 0 {
					f.now = f.now.Add(time.Second)
					f.obs.Tick(f.now)
				}
			}
			var n uint64
			for _, p := range f.settle().Pairs {
				n += p.Requests
				if p.Source != "checkout" || p.Destination != "inventory" {
					b.Errorf("pair %s -> %s: %d requests", p.Source, p.Destination, p.Requests)
				}
			}
			if n != uint64(i) {
				b.Fatalf("%d requests counted, want %d", n, i)
			}
		})
	}
}

// BenchmarkChurn drives connection churn through the observer (every
// connection new, half of them leaving a head in reassembly) and reports
// the live heap after each round, which stays flat: every table is capped.
func BenchmarkChurn(b *testing.B) {
	f := newFixture(&testing.T{}, nil)
	var ms runtime.MemStats
	i := 0
	for b.Loop() {
		for n := 0; n < 100_000; n++ {
			i++
			local := netip.AddrPortFrom(clientAddr.Addr(), uint16(1024+i%60000))
			data := get(fmt.Sprint("/", i%1000))
			if i%2 == 0 {
				data = data[:20]
			}
			f.event(&loader.Event{TGID: clientPID, Sock: uint64(i), Local: local, Remote: serverAddr,
				Direction: loader.Egress, Start: true, Len: len(data), Data: []byte(data)})
			if n%1000 == 0 {
				f.now = f.now.Add(100 * time.Millisecond)
				f.obs.Tick(f.now)
			}
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	b.ReportMetric(float64(i), "conns")
}

// TestLoopbackReceiverOnly: in the kernel's default mode a loopback request
// arrives once, from the receiving end, and its sender is named by the
// event (PeerTGID), else by Config.Owner; nothing waits to be matched.
func TestLoopbackReceiverOnly(t *testing.T) {
	var asked []netip.AddrPort
	f := newFixture(t, func(c *Config) {
		c.LoopbackBothEnds = false
		c.Owner = func(netns uint32, local, remote netip.AddrPort) (uint32, [16]byte, bool) {
			asked = append(asked, local, remote)
			return clientPID, [16]byte{'c'}, true
		}
	})
	recv := func(peer uint32, path string) {
		data := get(path, tp)
		f.event(&loader.Event{TGID: serverPID, PeerTGID: peer, Sock: 2, Local: serverAddr, Remote: clientAddr,
			Direction: loader.Ingress, Start: true, Len: len(data), Data: []byte(data)})
	}
	recv(clientPID, "/named-by-event")
	recv(0, "/named-by-owner")
	if n := f.obs.dedupe.len(); n != 0 {
		t.Errorf("%d observations wait for a match, want 0", n)
	}
	s := f.settle()
	if p := f.pair(s, "checkout", "inventory"); p.Requests != 2 {
		t.Errorf("checkout -> inventory: %d requests, want 2", p.Requests)
	}
	if len(asked) != 2 || asked[0] != clientAddr || asked[1] != serverAddr {
		t.Errorf("Owner asked for %v, want the client end once [%v %v]", asked, clientAddr, serverAddr)
	}
}

// TestRecordHasNoPointers: the queue of records waiting to be named is
// memory the garbage collector must never have to scan.
func TestRecordHasNoPointers(t *testing.T) {
	var walk func(typ reflect.Type, path string)
	walk = func(typ reflect.Type, path string) {
		switch typ.Kind() {
		case reflect.Pointer, reflect.String, reflect.Slice, reflect.Map, reflect.Interface, reflect.Chan, reflect.Func, reflect.UnsafePointer:
			t.Errorf("%s is a %s", path, typ.Kind())
		case reflect.Array:
			walk(typ.Elem(), path+"[]")
		case reflect.Struct:
			for i := range typ.NumField() {
				walk(typ.Field(i).Type, path+"."+typ.Field(i).Name)
			}
		}
	}
	walk(reflect.TypeFor[record](), "record")
}
