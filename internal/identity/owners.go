package identity

import (
	"net"
	"net/netip"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Owner is the local process behind one end of a TCP connection.
type Owner struct {
	TGID uint32
	Comm [16]byte
}

// CommString returns Comm up to its first NUL.
func (o Owner) CommString() string {
	for i, c := range o.Comm {
		if c == 0 {
			return string(o.Comm[:i])
		}
	}
	return string(o.Comm[:])
}

// connKey names one end of a connection. Loopback addresses repeat in every
// network namespace (each pod has its own 127.0.0.1), so for them the
// namespace is part of the key; other addresses are unique on a host.
type connKey struct {
	netns         uint32
	local, remote netip.AddrPort
}

func newConnKey(netns uint32, local, remote netip.AddrPort) connKey {
	if !local.Addr().IsLoopback() {
		netns = 0
	}
	return connKey{netns: netns, local: local, remote: remote}
}

// Owners remembers which local process owns which end of the connections
// propwatch has seen traffic on, so that the peer of a connection can be
// named by the service on its other end. It is safe for concurrent use.
type Owners struct {
	mu    sync.Mutex
	table *simplelru.LRU[connKey, Owner]
}

// NewOwners returns an Owners that remembers at most max connection ends,
// forgetting the least recently seen first.
func NewOwners(max int) *Owners {
	if max <= 0 {
		max = 65536
	}
	table, _ := simplelru.NewLRU[connKey, Owner](max, nil)
	return &Owners{table: table}
}

// Learn records that the process o owns the end (local, remote).
func (w *Owners) Learn(netns uint32, local, remote netip.AddrPort, o Owner) {
	k := newConnKey(netns, local, remote)
	w.mu.Lock()
	if have, ok := w.table.Get(k); !ok || have != o {
		w.table.Add(k, o)
	}
	w.mu.Unlock()
}

// Peer returns the owner of the other end of the connection whose end on
// this side is (local, remote), if that end is a local process propwatch
// has seen.
func (w *Owners) Peer(netns uint32, local, remote netip.AddrPort) (Owner, bool) {
	k := newConnKey(netns, remote, local)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.table.Get(k)
}

// Len is the number of connection ends remembered.
func (w *Owners) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.table.Len()
}

// LocalAddrs is the set of addresses of this host's interfaces, used to
// decide whether a peer may be a local process.
type LocalAddrs struct {
	mu    sync.RWMutex
	addrs map[netip.Addr]struct{}
}

// Refresh rereads the interface addresses of the current network
// namespace.
func (l *LocalAddrs) Refresh() error {
	ifaddrs, err := net.InterfaceAddrs()
	if err != nil {
		return err
	}
	set := make(map[netip.Addr]struct{}, len(ifaddrs))
	for _, a := range ifaddrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			set[p.Addr().Unmap()] = struct{}{}
		}
	}
	l.mu.Lock()
	l.addrs = set
	l.mu.Unlock()
	return nil
}

// Has reports whether a is loopback or an address of this host.
func (l *LocalAddrs) Has(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLoopback() {
		return true
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	_, ok := l.addrs[a]
	return ok
}
