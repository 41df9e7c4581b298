package identity

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/propwatch/propwatch/internal/hint"
)

func TestServiceFromEnviron(t *testing.T) {
	tests := []struct{ env, want string }{
		{"PATH=/bin\x00OTEL_SERVICE_NAME=checkout\x00", "checkout"},
		{"OTEL_RESOURCE_ATTRIBUTES=deployment.environment=prod,service.name=inventory", "inventory"},
		{"OTEL_RESOURCE_ATTRIBUTES=service.name=cart%20api\x00", "cart api"},
		{"OTEL_RESOURCE_ATTRIBUTES=service.name=a\x00OTEL_SERVICE_NAME=b", "b"},
		{"OTEL_SERVICE_NAME=\x00OTEL_RESOURCE_ATTRIBUTES=service.name=c", "c"},
		{"OTEL_SERVICE_NAMEX=x\x00HOME=/root", ""},
		{"", ""},
		{"OTEL_RESOURCE_ATTRIBUTES=service.namespace=shop", ""},
	}
	for _, tt := range tests {
		if got := ServiceFromEnviron([]byte(tt.env)); got != tt.want {
			t.Errorf("ServiceFromEnviron(%q) = %q, want %q", tt.env, got, tt.want)
		}
	}
}

// fakeProc lays out a /proc with the given processes.
func fakeProc(t *testing.T, procs map[uint32][2]string) string {
	t.Helper()
	root := t.TempDir()
	for pid, p := range procs {
		dir := filepath.Join(root, fmt.Sprint(pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "environ"), []byte(p[0]), 0o600)
		os.WriteFile(filepath.Join(dir, "comm"), []byte(p[1]+"\n"), 0o600)
	}
	return root
}

func TestResolver(t *testing.T) {
	root := fakeProc(t, map[uint32][2]string{
		10: {"OTEL_SERVICE_NAME=checkout\x00", "java"},
		11: {"HOME=/\x00", "nginx"},
	})
	r := NewResolver(Config{ProcRoot: root, MaxProcesses: 2, TTL: time.Hour})
	if got := r.Service(10, []byte("java")); got != "checkout" {
		t.Errorf("10 = %q", got)
	}
	if got := r.Service(11, []byte("nginx")); got != "nginx" {
		t.Errorf("11 = %q", got)
	}
	// Gone before it was ever read: the event's comm names it.
	if got := r.Service(12, []byte("curl")); got != "curl" {
		t.Errorf("12 = %q", got)
	}
	if r.Len() != 2 {
		t.Errorf("cap 2 holds %d", r.Len())
	}
	// 10 was evicted (least recently used); reading it again still works.
	if got := r.Service(10, []byte("java")); got != "checkout" {
		t.Errorf("10 again = %q", got)
	}
}

func TestResolverKeepsNameOfExitedProcess(t *testing.T) {
	root := fakeProc(t, map[uint32][2]string{20: {"OTEL_SERVICE_NAME=billing\x00", "python3"}})
	r := NewResolver(Config{ProcRoot: root, TTL: time.Millisecond})
	clock := time.Now()
	r.now = func() time.Time { return clock }
	if got := r.Service(20, []byte("python3")); got != "billing" {
		t.Fatalf("got %q", got)
	}
	os.RemoveAll(filepath.Join(root, "20"))
	clock = clock.Add(time.Second)
	if got := r.Service(20, []byte("python3")); got != "billing" {
		t.Fatalf("after exit got %q", got)
	}
}

func TestResolverRealProcess(t *testing.T) {
	r := NewResolver(Config{})
	if got := r.Service(uint32(os.Getpid()), []byte("ignored")); got == "" {
		t.Fatal("own process has no name")
	}
}

func TestOwners(t *testing.T) {
	w := NewOwners(2)
	client := netip.MustParseAddrPort("127.0.0.1:40000")
	server := netip.MustParseAddrPort("127.0.0.1:8080")
	w.Learn(1, server, client, Owner{TGID: 7})
	if o, ok := w.Peer(1, client, server); !ok || o.TGID != 7 {
		t.Fatalf("peer = %v %v", o, ok)
	}
	// Same loopback addresses in another network namespace: not the same
	// connection.
	if _, ok := w.Peer(2, client, server); ok {
		t.Fatal("loopback peer found across namespaces")
	}
	// Non-loopback addresses are unique on a host whatever the namespace.
	a, b := netip.MustParseAddrPort("10.1.0.5:40000"), netip.MustParseAddrPort("10.1.0.9:80")
	w.Learn(3, b, a, Owner{TGID: 8})
	if o, ok := w.Peer(4, a, b); !ok || o.TGID != 8 {
		t.Fatalf("pod peer = %v %v", o, ok)
	}
	w.Learn(1, client, server, Owner{TGID: 9})
	if w.Len() != 2 {
		t.Fatalf("cap 2 holds %d", w.Len())
	}
}

func TestLocalAddrs(t *testing.T) {
	var l LocalAddrs
	if err := l.Refresh(); err != nil {
		t.Fatal(err)
	}
	if !l.Has(netip.MustParseAddr("127.0.0.5")) || !l.Has(netip.MustParseAddr("::1")) {
		t.Fatal("loopback is not local")
	}
	if l.Has(netip.MustParseAddr("192.0.2.1")) {
		t.Fatal("TEST-NET address is local")
	}
}

func BenchmarkServiceCached(b *testing.B) {
	r := NewResolver(Config{})
	pid := uint32(os.Getpid())
	r.Service(pid, []byte("x"))
	b.ReportAllocs()
	for b.Loop() {
		r.Service(pid, []byte("x"))
	}
}

func BenchmarkOwnersLearn(b *testing.B) {
	w := NewOwners(0)
	l, r := netip.MustParseAddrPort("127.0.0.1:1"), netip.MustParseAddrPort("127.0.0.1:2")
	b.ReportAllocs()
	for b.Loop() {
		w.Learn(1, l, r, Owner{TGID: 1})
	}
}

// TestResolverRuntime: a process is named with its runtime, told from
// its executable (this test binary is a Go program); one that cannot be
// read has none.
func TestResolverRuntime(t *testing.T) {
	r := NewResolver(Config{})
	svc, rt := r.Process(uint32(os.Getpid()), []byte("identity.test"))
	if svc.Service == "" || rt != hint.Go {
		t.Errorf("this process: %q, %v; want a name and go", svc, rt)
	}
	root := fakeProc(t, map[uint32][2]string{10: {"OTEL_SERVICE_NAME=checkout\x00", "java"}})
	r = NewResolver(Config{ProcRoot: root})
	if svc, rt := r.Process(10, nil); svc.Service != "checkout" || rt != hint.Unknown {
		t.Errorf("no executable: %q, %v", svc, rt)
	}
	if svc, rt := r.Process(12, []byte("curl")); svc.Service != "curl" || rt != hint.Unknown {
		t.Errorf("gone: %q, %v", svc, rt)
	}
}

// fakeCluster names processes by their pid and one address.
type fakeCluster struct {
	pods  map[uint32]string // pid → pod's own name
	seen  []string          // envService of each Process call
	addr  netip.Addr
	named Name
}

func (c *fakeCluster) Process(tgid uint32, envService string) (Name, bool) {
	c.seen = append(c.seen, envService)
	name, ok := c.pods[tgid]
	if !ok {
		return Name{}, false
	}
	if envService != "" {
		name = envService
	}
	return Name{Service: name, Namespace: "shop"}, true
}

func (c *fakeCluster) Address(ip netip.Addr) (Name, bool) {
	return c.named, ip == c.addr
}

// TestResolverCluster: a process in a pod is named by the Cluster (its
// environment's name first) with the pod's namespace; one outside any pod
// keeps the host rules and no namespace.
func TestResolverCluster(t *testing.T) {
	root := fakeProc(t, map[uint32][2]string{
		10: {"HOME=/\x00", "java"},
		11: {"OTEL_SERVICE_NAME=checkout\x00", "node"},
		12: {"HOME=/\x00", "sshd"},
	})
	c := &fakeCluster{pods: map[uint32]string{10: "inventory", 11: "inventory"},
		addr: netip.MustParseAddr("10.96.0.10"), named: Name{Service: "inventory", Namespace: "shop"}}
	r := NewResolver(Config{ProcRoot: root, Cluster: c})
	for _, tc := range []struct {
		pid  uint32
		comm string
		want Name
	}{
		{10, "java", Name{"inventory", "shop"}},
		{11, "node", Name{"checkout", "shop"}},
		{12, "sshd", Name{Service: "sshd"}},
	} {
		if got, _ := r.Process(tc.pid, []byte(tc.comm)); got != tc.want {
			t.Errorf("pid %d: %+v, want %+v", tc.pid, got, tc.want)
		}
	}
	if want := []string{"", "checkout", ""}; fmt.Sprint(c.seen) != fmt.Sprint(want) {
		t.Errorf("environment names told to the cluster %q, want %q", c.seen, want)
	}
	if n, ok := r.Address(netip.MustParseAddr("10.96.0.10")); !ok || n != c.named {
		t.Errorf("service address: %+v %v", n, ok)
	}
	if _, ok := r.Address(netip.MustParseAddr("10.96.0.11")); ok {
		t.Error("unknown address named")
	}
	if _, ok := NewResolver(Config{}).Address(netip.MustParseAddr("10.96.0.10")); ok {
		t.Error("address named off-cluster")
	}
}
