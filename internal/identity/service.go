// Package identity names the two ends of an observed connection: the local
// process by its OpenTelemetry service name, and the peer by the local
// process that owns the other end of the connection when there is one.
//
// Every table here has a cap and an eviction rule: a host with process and
// connection churn must not grow propwatch's memory.
package identity

import (
	"bytes"
	"io"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/propwatch/propwatch/internal/hint"
)

// Config sizes a Resolver.
type Config struct {
	// ProcRoot is where procfs is mounted; "/proc" when empty. A
	// DaemonSet that mounts the host's /proc elsewhere sets it.
	ProcRoot string
	// MaxProcesses caps the processes remembered; the least recently used
	// are forgotten first. 4096 when zero.
	MaxProcesses int
	// TTL is how long a name is trusted before /proc is read again, which
	// is what catches a PID reused by another program. 30s when zero.
	TTL time.Duration
	// MaxExecutables caps the executables whose runtime is remembered
	// (hint.Identifier). 256 when zero.
	MaxExecutables int
	// Cluster, when set, names processes that run in Kubernetes pods and
	// the addresses of pods and Services (package kube).
	Cluster Cluster
}

// Name names one end of a pair: its service and, in a Kubernetes cluster,
// its namespace ("" off-cluster, and for what is not a pod or Service).
type Name struct {
	Service, Namespace string
}

// Cluster names what runs in a Kubernetes cluster. Its methods are called
// on the hot path and must answer from memory, never from the network.
type Cluster interface {
	// Process names process tgid when it runs in a pod the cluster
	// knows (by its cgroup): envService, the name its environment gave
	// (OTEL_SERVICE_NAME or service.name), when not empty, else the pod's
	// (its spec's OTel variables, labels, owning workload, name), and the
	// pod's namespace. ok is false for a process outside any known pod.
	Process(tgid uint32, envService string) (n Name, ok bool)
	// Address names a pod IP or a Service's cluster IP.
	Address(ip netip.Addr) (n Name, ok bool)
}

// maxEnviron bounds what is read of one process's environment. Service
// variables are set by deployment tooling and sit well inside it; a process
// with a larger environment is named by its command instead.
const maxEnviron = 256 << 10

// Resolver names local processes. It is safe for concurrent use.
type Resolver struct {
	root string
	ttl  time.Duration
	now  func() time.Time

	mu    sync.Mutex
	procs *simplelru.LRU[uint32, procEntry]
	buf   []byte
	// runtimes tells a process's runtime from its executable.
	runtimes *hint.Identifier
	cluster  Cluster
}

type procEntry struct {
	name    Name
	runtime hint.Runtime
	checked time.Time
}

// NewResolver returns a Resolver configured by cfg.
func NewResolver(cfg Config) *Resolver {
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = "/proc"
	}
	if cfg.MaxProcesses <= 0 {
		cfg.MaxProcesses = 4096
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 30 * time.Second
	}
	procs, _ := simplelru.NewLRU[uint32, procEntry](cfg.MaxProcesses, nil) // errors only on size <= 0
	return &Resolver{root: cfg.ProcRoot, ttl: cfg.TTL, now: time.Now, procs: procs,
		runtimes: hint.NewIdentifier(cfg.ProcRoot, cfg.MaxExecutables), cluster: cfg.Cluster}
}

// Address names a peer address through the cluster: a pod IP or a
// Service's cluster IP. ok is false off-cluster and for other addresses.
func (r *Resolver) Address(ip netip.Addr) (Name, bool) {
	if r.cluster == nil {
		return Name{}, false
	}
	return r.cluster.Address(ip)
}

// Service names process tgid: OTEL_SERVICE_NAME from its environment, else
// service.name from OTEL_RESOURCE_ATTRIBUTES, else (in a pod the Cluster
// knows) the pod's name for it, else comm (the name the kernel reported
// with the event, NUL-padded or not). A process that has already exited
// keeps the name it was first seen with, or comm if it was never read.
func (r *Resolver) Service(tgid uint32, comm []byte) string {
	n, _ := r.Process(tgid, comm)
	return n.Service
}

// Process is Service with the runtime of the process, told from its
// executable when it is read (hint.Identifier): once per process and TTL,
// and an executable already seen costs a stat. A process that exec()s
// another program is told again after the TTL, as its name is.
func (r *Resolver) Process(tgid uint32, comm []byte) (Name, hint.Runtime) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	e, known := r.procs.Get(tgid)
	if known && now.Sub(e.checked) < r.ttl {
		return e.name, e.runtime
	}
	name, fromEnv, ok := r.read(tgid)
	if !ok && known {
		// Gone since: keep the name and runtime it had while it ran.
		e.checked = now
		r.procs.Add(tgid, e)
		return e.name, e.runtime
	}
	if i := bytes.IndexByte(comm, 0); i >= 0 {
		comm = comm[:i]
	}
	e = procEntry{checked: now}
	if ok {
		e.runtime = r.runtimes.Process(tgid)
	}
	env := ""
	if fromEnv {
		env = name
	}
	if n, in := r.pod(tgid, env); in {
		e.name = n
	} else {
		e.name = Name{Service: pick(name, fromEnv, string(comm))}
	}
	r.procs.Add(tgid, e)
	return e.name, e.runtime
}

// pod names process tgid through the Cluster, with r.mu held.
func (r *Resolver) pod(tgid uint32, envService string) (Name, bool) {
	if r.cluster == nil {
		return Name{}, false
	}
	return r.cluster.Process(tgid, envService)
}

// Len is the number of processes remembered.
func (r *Resolver) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.procs.Len()
}

func pick(name string, fromEnv bool, comm string) string {
	if fromEnv && name != "" {
		return name
	}
	if comm != "" {
		return comm
	}
	return name
}

// read looks the service up in /proc. ok is false when the process could
// not be read at all (gone, or no permission).
func (r *Resolver) read(tgid uint32) (name string, fromEnv, ok bool) {
	dir := r.root + "/" + strconv.FormatUint(uint64(tgid), 10)
	f, err := os.Open(dir + "/environ")
	if err == nil {
		if cap(r.buf) < maxEnviron {
			r.buf = make([]byte, maxEnviron)
		}
		n, _ := io.ReadFull(f, r.buf[:maxEnviron])
		f.Close()
		if svc := ServiceFromEnviron(r.buf[:n]); svc != "" {
			return svc, true, true
		}
		ok = true
	}
	comm, err := os.ReadFile(dir + "/comm")
	if err != nil {
		return "", false, ok
	}
	return string(bytes.TrimRight(comm, "\n")), false, true
}

// ServiceFromEnviron finds the service name in a NUL-separated environment
// block: OTEL_SERVICE_NAME wins over service.name in
// OTEL_RESOURCE_ATTRIBUTES, as the OpenTelemetry SDKs do.
func ServiceFromEnviron(env []byte) string {
	var attrs []byte
	for len(env) > 0 {
		kv := env
		if i := bytes.IndexByte(env, 0); i >= 0 {
			kv, env = env[:i], env[i+1:]
		} else {
			env = nil
		}
		switch {
		case bytes.HasPrefix(kv, []byte("OTEL_SERVICE_NAME=")):
			if v := bytes.TrimSpace(kv[len("OTEL_SERVICE_NAME="):]); len(v) > 0 {
				return string(v)
			}
		case bytes.HasPrefix(kv, []byte("OTEL_RESOURCE_ATTRIBUTES=")):
			attrs = kv[len("OTEL_RESOURCE_ATTRIBUTES="):]
		}
	}
	return serviceFromAttributes(attrs)
}

// serviceFromAttributes reads service.name out of "k1=v1,k2=v2", whose
// values the OpenTelemetry spec percent-encodes.
func serviceFromAttributes(attrs []byte) string {
	for len(attrs) > 0 {
		item := attrs
		if i := bytes.IndexByte(attrs, ','); i >= 0 {
			item, attrs = attrs[:i], attrs[i+1:]
		} else {
			attrs = nil
		}
		k, v, found := bytes.Cut(item, []byte("="))
		if !found || string(bytes.TrimSpace(k)) != "service.name" {
			continue
		}
		if s := unescape(bytes.TrimSpace(v)); s != "" {
			return s
		}
	}
	return ""
}

func unescape(b []byte) string {
	if bytes.IndexByte(b, '%') < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '%' && i+2 < len(b) && ishex(b[i+1]) && ishex(b[i+2]) {
			out = append(out, unhex(b[i+1])<<4|unhex(b[i+2]))
			i += 2
			continue
		}
		out = append(out, b[i])
	}
	return string(out)
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}
