//go:build linux && (amd64 || arm64 || loong64 || mips64le || ppc64le || riscv64)

package loader

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
)

// Loader holds the capture program: loaded, attached to every hook, and
// read through a ring buffer. Close releases all of it.
type Loader struct {
	objs  loadedObjects
	progs map[string]*ebpf.Program // objs' programs by name
	links []link.Link
	hooks []string
	rd    *ringbuf.Reader

	// readMu serialises Read: rec is reused across calls.
	readMu sync.Mutex
	rec    ringbuf.Record

	// mu guards the maps against Close while HeadDone and Lost use them.
	mu        sync.RWMutex
	closed    bool
	lostFinal map[string]uint64

	closeOnce sync.Once
	closeErr  error
}

// Sizes of struct event and of its header, from the generated type.
const (
	eventSize       = int(unsafe.Sizeof(captureEvent{}))
	eventHeaderSize = int(unsafe.Offsetof(captureEvent{}.Data))
)

// Wakeup batching (wakeup_flags in bpf/capture.h): waking a blocked Read
// costs the syscall that emits the event more than the capture itself, so
// the kernel wakes Read only when a sixteenth of the ring buffer is waiting
// or wakeupInterval has passed since the last wakeup, and Read looks at the
// ring every pollInterval for events that woke nobody.
const (
	wakeupInterval = time.Millisecond
	pollInterval   = 20 * time.Millisecond
)

// lostNames names the pw_lost counters, indexed by enum lost_reason.
var lostNames = [captureLostReasonLOST_REASONS]string{
	captureLostReasonLOST_RINGBUF_FULL: "ringbuf_full",
	captureLostReasonLOST_READ_FAILED:  "read_failed",
	captureLostReasonLOST_ARGS_FULL:    "args_full",
}

// Open loads the capture program and attaches it to every hook. It removes
// the memlock rlimit, probes the kernel for what the program needs (and
// says what is missing), mounts tracefs when it is not mounted, and loads
// the program so that it ignores the calling process.
//
// Open needs root, or CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN before Linux
// 5.8), plus CAP_SYS_ADMIN once to mount tracefs when it is missing.
func Open(cfg Config) (*Loader, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("remove memlock rlimit: %w", needsCaps(err, bpfCaps+"; before Linux 5.11 also CAP_SYS_RESOURCE"))
	}
	if err := probeFeatures(); err != nil {
		return nil, err
	}
	tracefs, err := ensureTracefs()
	if err != nil {
		return nil, err
	}
	if err := checkSyscallFormat(tracefs); err != nil {
		return nil, err
	}

	spec, err := loadCapture()
	if err != nil {
		return nil, fmt.Errorf("read embedded capture program: %w", err)
	}
	if err := configure(spec, cfg); err != nil {
		return nil, err
	}

	// A program the verifier rejects comes back with its log either way;
	// cfg.Verbose only decides how much of it the error shows.
	l := &Loader{}
	if err := spec.LoadAndAssign(&l.objs, nil); err != nil {
		return nil, loadError(err, cfg.Verbose)
	}
	l.progs = programsByName(&l.objs.capturePrograms)
	l.rd, err = ringbuf.NewReader(l.objs.PwEvents)
	if err != nil {
		l.objs.close()
		return nil, fmt.Errorf("open ring buffer %s: %w", captureMapPwEvents, err)
	}
	if err := l.attach(spec); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// loadedObjects is what Open loads: the programs and maps, but not the
// global variables. Assigning a variable makes cilium/ebpf memory-map its
// .rodata or .bss map, and that mapping, and with it the map, lives until
// the garbage collector finds it; without variables the maps go when the
// programs do.
type loadedObjects struct {
	capturePrograms
	captureMaps
}

func (o *loadedObjects) close() {
	o.capturePrograms.Close()
	o.captureMaps.Close()
}

// programsByName indexes the generated programs by their ebpf tag, the
// name of their C function.
func programsByName(p *capturePrograms) map[string]*ebpf.Program {
	out := map[string]*ebpf.Program{}
	v := reflect.ValueOf(p).Elem()
	for i := range v.NumField() {
		if prog, ok := v.Field(i).Interface().(*ebpf.Program); ok {
			out[v.Type().Field(i).Tag.Get("ebpf")] = prog
		}
	}
	return out
}

// withDefaults fills in zero fields and checks the others.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.CaptureBytes == 0 {
		cfg.CaptureBytes = DefaultCaptureBytes
	}
	if cfg.CaptureBytes < MinCaptureBytes || cfg.CaptureBytes > DefaultCaptureBytes {
		return cfg, fmt.Errorf("capture bytes %d: must be between %d and %d", cfg.CaptureBytes, MinCaptureBytes, DefaultCaptureBytes)
	}
	if cfg.RingBufferBytes == 0 {
		cfg.RingBufferBytes = DefaultRingBufferBytes
	}
	n := cfg.RingBufferBytes
	if n < os.Getpagesize() || n&(n-1) != 0 || n > 1<<30 {
		return cfg, fmt.Errorf("ring buffer bytes %d: must be a power of two between the page size (%d) and 1 GiB", n, os.Getpagesize())
	}
	return cfg, nil
}

// configure sets the program's constants and map sizes before loading.
func configure(spec *ebpf.CollectionSpec, cfg Config) error {
	self := uint32(os.Getpid())
	if cfg.captureSelf {
		self = 0 // no user process has tgid 0
	}
	for name, v := range map[string]any{
		captureVarSelfTgid:     self,
		captureVarCaptureBytes: uint32(cfg.CaptureBytes),
		captureVarHeadBudget:   uint32(HeadBudget),
		captureVarWakeupBytes:  uint32(cfg.RingBufferBytes / 16),
		captureVarWakeupNs:     uint64(wakeupInterval.Nanoseconds()),
	} {
		vs, ok := spec.Variables[name]
		if !ok {
			return fmt.Errorf("capture program has no variable %s", name)
		}
		if err := vs.Set(v); err != nil {
			return fmt.Errorf("set %s: %w", name, err)
		}
	}

	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		return fmt.Errorf("count possible CPUs: %w", err)
	}
	for name, size := range map[string]uint32{
		captureMapPwEvents:  uint32(cfg.RingBufferBytes),
		captureMapPwScratch: uint32(cpus), // one event under construction per CPU
	} {
		ms, ok := spec.Maps[name]
		if !ok {
			return fmt.Errorf("capture program has no map %s", name)
		}
		ms.MaxEntries = size
	}
	return nil
}

// attach attaches every program of spec to its tracepoint: all sys_exit
// programs first, so that no sys_enter program stashes arguments that
// nothing picks up.
func (l *Loader) attach(spec *ebpf.CollectionSpec) error {
	var exits, enters []string
	for name, ps := range spec.Programs {
		if strings.Contains(ps.SectionName, "/sys_exit_") {
			exits = append(exits, name)
		} else {
			enters = append(enters, name)
		}
	}
	slices.Sort(exits)
	slices.Sort(enters)

	for _, name := range append(exits, enters...) {
		ps := spec.Programs[name]
		group, event, ok := strings.Cut(strings.TrimPrefix(ps.SectionName, "tracepoint/"), "/")
		if ps.Type != ebpf.TracePoint || !ok {
			return fmt.Errorf("program %s: section %q is not a tracepoint", name, ps.SectionName)
		}
		lk, err := link.Tracepoint(group, event, l.progs[name], nil)
		if err != nil {
			return fmt.Errorf("attach tracepoint %s/%s: %w", group, event, needsCaps(err, bpfCaps))
		}
		l.links = append(l.links, lk)
		l.hooks = append(l.hooks, ps.SectionName)
	}
	return nil
}

// Read blocks until the next event and fills ev with it. It reuses ev's
// buffers: ev.Data is valid until the next Read into ev, and Read makes no
// allocation once ev has been used. Events come in syscall order; since the
// kernel batches wakeups, an event can reach Read up to pollInterval (20ms)
// after its syscall. After Close, Read returns an error wrapping
// os.ErrClosed (which is ringbuf.ErrClosed). Read is safe for concurrent
// use, though events are then split between the callers.
func (l *Loader) Read(ev *Event) error {
	if cap(ev.raw) < eventSize {
		ev.raw = make([]byte, eventSize)
	}

	l.readMu.Lock()
	defer l.readMu.Unlock()
	l.rec.RawSample = ev.raw[:0]
	for {
		l.rd.SetDeadline(time.Now().Add(pollInterval))
		err := l.rd.ReadInto(&l.rec)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("read events: %w", err)
		}
	}
	ev.raw = l.rec.RawSample
	return ev.decode(ev.raw)
}

// decode fills ev from one ring buffer record. raw's capacity must hold a
// whole struct event, so that the header can be read in place.
func (ev *Event) decode(raw []byte) error {
	if len(raw) < eventHeaderSize || cap(raw) < eventSize {
		return fmt.Errorf("read events: record of %d bytes is shorter than the event header (%d)", len(raw), eventHeaderSize)
	}
	h := (*captureEvent)(unsafe.Pointer(unsafe.SliceData(raw)))
	n := int(h.Captured)
	if n > len(raw)-eventHeaderSize {
		return fmt.Errorf("read events: record of %d bytes says it holds %d bytes of data", len(raw), n)
	}

	ev.KtimeNS = h.KtimeNs
	ev.TGID = h.Tgid
	ev.PID = h.Pid
	ev.Comm = h.Comm
	ev.CgroupID = h.CgroupId
	ev.NetNS = h.Netns
	ev.Sock = h.SockIno
	ev.Local = addrPort(h.Laddr, h.Lport)
	ev.Remote = addrPort(h.Raddr, h.Rport)
	ev.Direction = Direction(h.Direction)
	ev.Start = h.Start != 0
	ev.Syscall = syscallName(captureSyscallId(h.Syscall))
	ev.Len = int(h.Len)
	ev.Data = raw[eventHeaderSize : eventHeaderSize+n : eventHeaderSize+n]
	return nil
}

// syscallName names a syscall id of the capture program.
func syscallName(id captureSyscallId) string {
	switch id {
	case captureSyscallIdSYS_WRITE:
		return "write"
	case captureSyscallIdSYS_WRITEV:
		return "writev"
	case captureSyscallIdSYS_SENDTO:
		return "sendto"
	case captureSyscallIdSYS_SENDMSG:
		return "sendmsg"
	case captureSyscallIdSYS_SENDMMSG:
		return "sendmmsg"
	case captureSyscallIdSYS_READ:
		return "read"
	case captureSyscallIdSYS_READV:
		return "readv"
	case captureSyscallIdSYS_RECVFROM:
		return "recvfrom"
	case captureSyscallIdSYS_RECVMSG:
		return "recvmsg"
	case captureSyscallIdSYS_RECVMMSG:
		return "recvmmsg"
	}
	return "unknown"
}

// Lost returns how many events the kernel side could not deliver, by
// reason: "ringbuf_full" (Read did not keep up), "read_failed" (the user
// buffer could not be read), "args_full" (too many threads inside hooked
// syscalls at once). After Close it returns the counts as they were then.
func (l *Loader) Lost() map[string]uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return maps.Clone(l.lostFinal)
	}
	return l.readLost()
}

// readLost sums the per-CPU pw_lost counters. l.mu must be held.
func (l *Loader) readLost() map[string]uint64 {
	out := make(map[string]uint64, len(lostNames))
	m := l.objs.PwLost
	var perCPU []uint64
	for reason, name := range lostNames {
		out[name] = 0
		if err := m.Lookup(uint32(reason), &perCPU); err != nil {
			continue
		}
		for _, n := range perCPU {
			out[name] += n
		}
	}
	return out
}

// HeadDone tells the kernel that userspace has seen the end of the request
// head on this socket and direction, so that the chunks after it (the body)
// are no longer shipped as continuations. It is a no-op when no head is
// open there, and after Close.
func (l *Loader) HeadDone(sock uint64, dir Direction) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return
	}
	key := captureHeadKey{Ino: sock, Dir: uint32(dir)}
	// ErrKeyNotExist is the common case: the kernel closed the head itself.
	_ = l.objs.PwHeads.Delete(&key)
}

// Hooks returns the hooks the program is attached to, such as
// "tracepoint/syscalls/sys_enter_write", in the order they were attached.
func (l *Loader) Hooks() []string {
	return slices.Clone(l.hooks)
}

// Close detaches every hook and unloads the program and its maps; nothing
// is pinned, so nothing of propwatch stays in the kernel. It interrupts a
// blocked Read. Close is safe to call more than once.
func (l *Loader) Close() error {
	l.closeOnce.Do(func() {
		var errs []error
		// First wake a blocked Read: it holds the reader until it returns.
		if l.rd != nil {
			if err := l.rd.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close ring buffer reader: %w", err))
			}
		}

		l.mu.Lock()
		defer l.mu.Unlock()
		l.lostFinal = l.readLost()
		l.closed = true
		errs = append(errs, l.detachLocked())
		l.objs.close()
		l.closeErr = errors.Join(errs...)
	})
	return l.closeErr
}

// addrPort reads an address of struct event: 16 bytes, IPv4 v4-mapped.
func addrPort(a [16]uint8, port uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom16(a).Unmap(), port)
}

// Detach detaches every hook but keeps the ring buffer, so that the events
// already in it can still be read: a clean stop detaches, drains until
// Pending is zero, then closes. Detach is safe to call more than once and
// before Close.
func (l *Loader) Detach() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.detachLocked()
}

// detachLocked closes the links not yet closed, in reverse order: the
// sys_enter programs go before their sys_exit ones. l.mu must be held.
func (l *Loader) detachLocked() error {
	var errs []error
	for i := len(l.links) - 1; i >= 0; i-- {
		if err := l.links[i].Close(); err != nil {
			errs = append(errs, fmt.Errorf("detach %s: %w", l.hooks[i], err))
		}
	}
	l.links = nil
	return errors.Join(errs...)
}

// Pending returns how many bytes of events wait in the ring buffer, 0
// after Close.
func (l *Loader) Pending() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return 0
	}
	return l.rd.AvailableBytes()
}
