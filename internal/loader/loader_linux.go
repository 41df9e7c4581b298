//go:build linux && (amd64 || arm64)

package loader

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Loader holds the capture program: loaded, attached to one hook set, and
// read through a ring buffer. Close releases all of it.
type Loader struct {
	maps  captureMaps
	progs map[string]*ebpf.Program // the loaded programs by name
	set   HookSet                  // the hook set attached
	links []link.Link
	hooks []string
	// skipped says why HooksAuto did not take the cheaper hook sets.
	skipped error

	// readMu serialises Read: waited is reused across calls.
	readMu sync.Mutex
	// ringMu guards rd against Close, which unmaps it; Read holds it while
	// it reads a record, not while it waits.
	ringMu  sync.RWMutex
	rd      *ring
	closing atomic.Bool
	// wake is the ring buffer's descriptor again, non-blocking, so that
	// Read waits for the kernel's wakeups in Go's netpoller (see
	// pollInterval); waitFn is waitOnce, bound once.
	wake   *os.File
	wakeRC syscall.RawConn
	waitFn func(uintptr) bool
	waited bool

	// mu guards the maps against Close while HeadDone, Owner, Lost and
	// KernelErrors use them; the counts at Close are kept for after.
	mu     sync.RWMutex
	closed bool

	// tls is the TLS capture, when Config.TLS asked for it.
	tls         tlsState
	lostFinal   map[string]uint64
	errorsFinal map[string]uint64

	closeOnce sync.Once
	closeErr  error
}

// Sizes of struct event and of its header, from the generated type.
const (
	eventSize       = int(unsafe.Sizeof(captureEvent{}))
	eventHeaderSize = int(unsafe.Offsetof(captureEvent{}.Data))
)

// How Read waits for events. The kernel wakes it at most once per
// wakeupInterval (wakeup_ns in bpf/pipeline.h): a wakeup costs the syscall
// that emits the event more than the capture itself, so under load only
// one event in hundreds pays it, while the first event on a quiet host
// wakes Go at once (a short-lived client must be named from /proc while it
// runs). Read waits in Go's netpoller, not in a blocking epoll_wait: a
// goroutine parked there holds no thread in a syscall, where Go's runtime
// would hand its P off and keep its monitor thread waking every 20µs (a
// quarter of propwatch's CPU under load, measured with perf). Events that
// woke nobody are picked up within pollInterval.
const (
	wakeupInterval = 10 * time.Millisecond
	pollInterval   = 10 * time.Millisecond
)

// Open loads the capture program and attaches it to the hook set
// cfg.Hooks names. It removes the memlock rlimit, probes the kernel for
// what the program needs (and says what is missing), and loads the program
// so that it ignores the calling process. HooksAuto takes the first of
// HooksSock, HooksBTF, HooksRaw and HooksSyscalls that loads and attaches
// (Fallback says why it passed the others); HooksSyscalls mounts tracefs
// when it is not mounted. When no set it tries loads and attaches, the
// error is an *OpenError: one line per set with its reason.
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
	spec, err := loadCapture()
	if err != nil {
		return nil, fmt.Errorf("read embedded capture program: %w", err)
	}
	if err := configure(spec, cfg); err != nil {
		return nil, err
	}

	sets := []HookSet{cfg.Hooks}
	if cfg.Hooks == HooksAuto {
		sets = []HookSet{HooksSock, HooksBTF, HooksRaw, HooksSyscalls} // cheapest first
	}
	// Each failure says why the next set was taken, or, when none is
	// left, why nothing loads.
	var failed []*HookSetError
	for _, set := range sets {
		l, err := open(spec, cfg, set)
		if err == nil {
			l.skipped = joinSetErrors(failed)
			return l, nil
		}
		failed = append(failed, hookSetError(set, err, cfg.Verbose))
	}
	return nil, &OpenError{Kernel: kernelRelease(), Sets: failed}
}

// joinSetErrors joins errs into one error, one set a line; nil when there
// are none.
func joinSetErrors(errs []*HookSetError) error {
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}

// kernelRelease returns the kernel's release, as uname -r prints it.
func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// open loads the programs of one hook set, opens the ring buffer and
// attaches.
func open(spec *ebpf.CollectionSpec, cfg Config, set HookSet) (*Loader, error) {
	l := &Loader{set: set}
	var err error
	switch set {
	case HooksBTF:
		err = probeBTF()
	case HooksRaw:
		err = probeRaw()
	case HooksSyscalls:
		err = prepareSyscalls()
	case HooksSock:
		err = probeSock()
	default:
		err = fmt.Errorf("unknown hook set %q", set)
	}
	if err != nil {
		return nil, err
	}

	// A program the verifier rejects comes back with its log either way;
	// cfg.Verbose only decides how much of it the error shows.
	objs := map[HookSet]loadable{HooksSock: &sockObjects{}, HooksBTF: &btfObjects{}, HooksRaw: &rawObjects{}, HooksSyscalls: &syscallObjects{}}[set]
	if err := spec.LoadAndAssign(objs, nil); err != nil {
		return nil, loadError(err, cfg.Verbose)
	}
	l.maps = *objs.captureMapsOf()
	l.progs = programsByName(objs)
	l.rd, err = newRing(l.maps.PwEvents)
	if err != nil {
		l.closeObjects()
		return nil, fmt.Errorf("open ring buffer %s: %w", captureMapPwEvents, err)
	}
	if err := l.openWake(); err != nil {
		l.Close()
		return nil, err
	}
	if err := l.attach(spec); err != nil {
		l.Close()
		return nil, err
	}
	if cfg.TLS {
		if err := l.openTLS(spec, cfg.Verbose); err != nil {
			l.tls.err = fmt.Errorf("TLS capture off: %w", err)
		}
	}
	return l, nil
}

// sockObjects, btfObjects, rawObjects and syscallObjects are what open
// loads for each hook set: the programs of that set and the maps, but not
// the global variables. Assigning a variable makes cilium/ebpf memory-map
// its .rodata or .bss map, and that mapping, and with it the map, lives
// until the garbage collector finds it; without variables the maps go when the
// programs do. (The generated capturePrograms holds every set's programs,
// and LoadAndAssign loads every program a struct names.)
type sockObjects struct {
	PwSockRecv *ebpf.Program `ebpf:"pw_sock_recv"`
	PwSockSend *ebpf.Program `ebpf:"pw_sock_send"`
	captureMaps
}

type btfObjects struct {
	PwBtfSysExit *ebpf.Program `ebpf:"pw_btf_sys_exit"`
	captureMaps
}

type rawObjects struct {
	PwSysExit *ebpf.Program `ebpf:"pw_sys_exit"`
	captureMaps
}

type syscallObjects struct {
	PwEnterRead     *ebpf.Program `ebpf:"pw_enter_read"`
	PwEnterReadv    *ebpf.Program `ebpf:"pw_enter_readv"`
	PwEnterRecvfrom *ebpf.Program `ebpf:"pw_enter_recvfrom"`
	PwEnterRecvmmsg *ebpf.Program `ebpf:"pw_enter_recvmmsg"`
	PwEnterRecvmsg  *ebpf.Program `ebpf:"pw_enter_recvmsg"`
	PwEnterSendmmsg *ebpf.Program `ebpf:"pw_enter_sendmmsg"`
	PwEnterSendmsg  *ebpf.Program `ebpf:"pw_enter_sendmsg"`
	PwEnterSendto   *ebpf.Program `ebpf:"pw_enter_sendto"`
	PwEnterWrite    *ebpf.Program `ebpf:"pw_enter_write"`
	PwEnterWritev   *ebpf.Program `ebpf:"pw_enter_writev"`
	PwExitRead      *ebpf.Program `ebpf:"pw_exit_read"`
	PwExitReadv     *ebpf.Program `ebpf:"pw_exit_readv"`
	PwExitRecvfrom  *ebpf.Program `ebpf:"pw_exit_recvfrom"`
	PwExitRecvmmsg  *ebpf.Program `ebpf:"pw_exit_recvmmsg"`
	PwExitRecvmsg   *ebpf.Program `ebpf:"pw_exit_recvmsg"`
	PwExitSendmmsg  *ebpf.Program `ebpf:"pw_exit_sendmmsg"`
	PwExitSendmsg   *ebpf.Program `ebpf:"pw_exit_sendmsg"`
	PwExitSendto    *ebpf.Program `ebpf:"pw_exit_sendto"`
	PwExitWrite     *ebpf.Program `ebpf:"pw_exit_write"`
	PwExitWritev    *ebpf.Program `ebpf:"pw_exit_writev"`
	captureMaps
}

// loadable is one of the objects structs: its maps, through the embedded
// captureMaps.
type loadable interface{ captureMapsOf() *captureMaps }

func (m *captureMaps) captureMapsOf() *captureMaps { return m }

// closeObjects closes the programs and maps.
func (l *Loader) closeObjects() {
	for _, p := range l.progs {
		p.Close()
	}
	l.maps.Close()
}

// programsByName indexes the programs of a struct (a pointer to one) by
// their ebpf tag, the name of their C function.
func programsByName(p any) map[string]*ebpf.Program {
	out := map[string]*ebpf.Program{}
	v := reflect.ValueOf(p).Elem()
	for i := range v.NumField() {
		if f := v.Type().Field(i); f.Type == reflect.TypeFor[*ebpf.Program]() {
			out[f.Tag.Get("ebpf")] = v.Field(i).Interface().(*ebpf.Program)
		}
	}
	return out
}

// withDefaults fills in zero fields and checks the others.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Hooks == "" {
		cfg.Hooks = HooksAuto
	}
	if cfg.CaptureBytes == 0 {
		cfg.CaptureBytes = DefaultCaptureBytes
	}
	if cfg.CaptureBytes < MinCaptureBytes || cfg.CaptureBytes > DefaultCaptureBytes {
		return cfg, fmt.Errorf("capture bytes %d: must be between %d and %d", cfg.CaptureBytes, MinCaptureBytes, DefaultCaptureBytes)
	}
	if cfg.KafkaCaptureBytes == 0 {
		cfg.KafkaCaptureBytes = DefaultKafkaCaptureBytes
	}
	if cfg.KafkaCaptureBytes < MinCaptureBytes || cfg.KafkaCaptureBytes > MaxKafkaCaptureBytes {
		return cfg, fmt.Errorf("kafka capture bytes %d: must be between %d and %d", cfg.KafkaCaptureBytes, MinCaptureBytes, MaxKafkaCaptureBytes)
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
		captureVarLoopbackBoth: boolU32(cfg.loopbackBoth),
		captureVarWakeupNs:     uint64(wakeupInterval.Nanoseconds()),
		captureVarKafkaBudget:  uint32(cfg.KafkaCaptureBytes),
		captureVarTlsOn:        boolU32(cfg.TLS),
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
	sizes := map[string]uint32{
		captureMapPwEvents:  uint32(cfg.RingBufferBytes),
		captureMapPwScratch: uint32(cpus), // one event under construction per CPU
	}
	if !cfg.TLS {
		// The socket hooks refer to the TLS tables (tls_window), so
		// they exist; without TLS capture nothing fills them, and an
		// LRU hash allocates all its entries up front.
		for _, m := range []string{captureMapPwTlsCalls, captureMapPwTlsAwaits, captureMapPwSslFds, captureMapPwGoReads} {
			sizes[m] = 1
		}
		sizes[captureMapPwProcs] = uint32(os.Getpagesize())
	}
	for name, size := range sizes {
		ms, ok := spec.Maps[name]
		if !ok {
			return fmt.Errorf("capture program has no map %s", name)
		}
		ms.MaxEntries = size
	}
	return nil
}

// boolU32 is a C boolean.
func boolU32(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// attach attaches the loaded programs to their hooks. For HooksSyscalls,
// all sys_exit programs go first, so that no sys_enter program stashes
// arguments that nothing picks up.
func (l *Loader) attach(spec *ebpf.CollectionSpec) error {
	var exits, enters []string
	for name := range l.progs {
		if strings.Contains(spec.Programs[name].SectionName, "/sys_enter_") {
			enters = append(enters, name)
		} else {
			exits = append(exits, name)
		}
	}
	slices.Sort(exits)
	slices.Sort(enters)

	for _, name := range append(exits, enters...) {
		ps := spec.Programs[name]
		var (
			lk  link.Link
			err error
		)
		switch ps.Type {
		case ebpf.Tracing:
			lk, err = link.AttachTracing(link.TracingOptions{Program: l.progs[name], AttachType: ps.AttachType})
			if err != nil {
				return fmt.Errorf("attach tp_btf %s: %w", ps.AttachTo, needsCaps(err, bpfCaps))
			}
		case ebpf.RawTracepoint:
			tp := strings.TrimPrefix(ps.SectionName, "raw_tracepoint/")
			lk, err = link.AttachRawTracepoint(link.RawTracepointOptions{Name: tp, Program: l.progs[name]})
			if err != nil {
				return fmt.Errorf("attach raw tracepoint %s: %w", tp, needsCaps(err, bpfCaps))
			}
		case ebpf.TracePoint:
			group, event, ok := strings.Cut(strings.TrimPrefix(ps.SectionName, "tracepoint/"), "/")
			if !ok {
				return fmt.Errorf("program %s: section %q names no tracepoint", name, ps.SectionName)
			}
			lk, err = link.Tracepoint(group, event, l.progs[name], nil)
			if err != nil {
				return fmt.Errorf("attach tracepoint %s/%s: %w", group, event, needsCaps(err, bpfCaps))
			}
		default:
			return fmt.Errorf("program %s: section %q is not a hook propwatch attaches", name, ps.SectionName)
		}
		l.links = append(l.links, lk)
		l.hooks = append(l.hooks, ps.SectionName)
	}
	return nil
}

// HookSet returns the hook set the program is attached to.
func (l *Loader) HookSet() HookSet { return l.set }

// Fallback returns why HooksAuto did not take the cheaper hook sets, one
// *HookSetError a line (errors.Join), or nil when it took the cheapest or
// was not asked to choose.
func (l *Loader) Fallback() error { return l.skipped }

// Read blocks until the next event and fills ev with it. It reuses ev's
// buffers: ev.Data is valid until the next Read into ev, and Read makes no
// allocation once ev has been used. Events come in syscall order; since
// the kernel batches wakeups, an event can reach Read up to pollInterval
// (10ms) after its syscall. After Close, Read returns an error wrapping
// os.ErrClosed. Read is safe for concurrent use, though events are then
// split between the callers.
func (l *Loader) Read(ev *Event) error {
	if cap(ev.raw) < eventSize {
		ev.raw = make([]byte, eventSize)
	}

	l.readMu.Lock()
	defer l.readMu.Unlock()
	for {
		if got, err := l.next(ev); got || err != nil {
			return err
		}
		l.wait()
	}
}

// next fills ev with the next record when there is one.
func (l *Loader) next(ev *Event) (bool, error) {
	l.ringMu.RLock()
	defer l.ringMu.RUnlock()
	if l.rd == nil || l.closing.Load() {
		return false, fmt.Errorf("read events: %w", os.ErrClosed)
	}
	rec := l.rd.next()
	if rec == nil {
		return false, nil
	}
	// Copied out before the kernel may reuse the space.
	ev.raw = append(ev.raw[:0], rec...)
	l.rd.release()
	return true, ev.decode(ev.raw)
}

// openWake opens the descriptor Read waits on: a non-blocking duplicate of
// the ring buffer's, which os.NewFile hands to Go's netpoller.
func (l *Loader) openWake() error {
	fd, err := unix.FcntlInt(uintptr(l.maps.PwEvents.FD()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("duplicate ring buffer descriptor: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return fmt.Errorf("ring buffer descriptor: %w", err)
	}
	l.wake = os.NewFile(uintptr(fd), captureMapPwEvents)
	if l.wakeRC, err = l.wake.SyscallConn(); err != nil {
		return fmt.Errorf("ring buffer descriptor: %w", err)
	}
	l.waitFn = l.waitOnce
	return nil
}

// wait returns when the kernel wakes the ring buffer, after pollInterval,
// or once Close has begun. l.readMu must be held.
func (l *Loader) wait() {
	if err := l.wake.SetReadDeadline(time.Now().Add(pollInterval)); err != nil {
		// Closed, or not pollable after all: wait the interval out.
		time.Sleep(pollInterval)
		return
	}
	l.waited = false
	l.wakeRC.Read(l.waitFn) // ends on a wakeup, the deadline, or Close
}

// waitOnce is the RawConn.Read callback of wait: the first call says "not
// ready" (Read found the ring empty), so the netpoller waits; the next,
// after a wakeup or the deadline, ends the wait.
func (l *Loader) waitOnce(uintptr) bool {
	done := l.waited
	l.waited = true
	return done
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
	ev.FD = h.Fd
	ev.Comm = h.Comm
	ev.PeerTGID = h.PeerTgid
	ev.PeerComm = h.PeerComm
	ev.CgroupID = h.CgroupId
	ev.NetNS = h.Netns
	ev.Sock = h.SockIno
	ev.Local = addrPort(h.Laddr, h.Lport)
	ev.Remote = addrPort(h.Raddr, h.Rport)
	ev.Direction = Direction(h.Direction)
	ev.Start = h.Start != 0
	ev.Protocol = Protocol(h.Proto)
	ev.KafkaAPIKey = h.KafkaApiKey
	ev.KafkaAPIVersion = h.KafkaApiVersion
	ev.Syscall = syscallName(captureSyscallId(h.Syscall))
	ev.TLS = h.Tls != 0
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
	case captureSyscallIdSYS_TLS_WRITE:
		return "tls_write"
	case captureSyscallIdSYS_TLS_READ:
		return "tls_read"
	}
	return "unknown"
}

// HeadDone tells the kernel that userspace has seen the end of the request
// head on the stream of process tgid's descriptor fd in direction dir (the
// TLS plaintext's stream when tls), so
// that the chunks after it (the body) are no longer shipped as
// continuations. It is a no-op when no head is open there, and after Close.
func (l *Loader) HeadDone(tgid, fd uint32, dir Direction, tls bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return
	}
	key := captureHeadKey{Tgid: tgid, Fd: fd, Dir: uint32(dir), Tls: boolU32(tls)}
	// ErrKeyNotExist is the common case: the kernel closed the head itself.
	_ = l.maps.PwHeads.Delete(&key)
}

// Owner returns the process that last sent on the connection end (local,
// remote) in network namespace netns, when that end is the sending end of
// a loopback connection the kernel has seen a request start on. The
// receiving end's events carry it already (Event.PeerTGID); Owner is for
// the events that came before the kernel knew.
func (l *Loader) Owner(netns uint32, local, remote netip.AddrPort) (tgid uint32, comm [16]byte, ok bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return 0, comm, false
	}
	key := captureConnKey{Netns: netns, Lport: local.Port(), Rport: remote.Port(),
		Laddr: local.Addr().As16(), Raddr: remote.Addr().As16()}
	var o captureOwner
	if err := l.maps.PwOwners.Lookup(&key, &o); err != nil {
		return 0, comm, false
	}
	return o.Tgid, o.Comm, true
}

// Hooks returns the hooks the program is attached to, such as
// "tracepoint/syscalls/sys_enter_write", in the order they were attached.
func (l *Loader) Hooks() []string {
	return slices.Clone(l.hooks)
}

// Close detaches every hook and unloads the program and its maps; nothing
// is pinned, so nothing of propwatch stays in the kernel. It interrupts a
// waiting Read. Close is safe to call more than once.
func (l *Loader) Close() error {
	l.closeOnce.Do(func() {
		var errs []error
		// Wake a waiting Read, which then sees closing and returns;
		// then unmap the ring once no Read holds it.
		l.closing.Store(true)
		if l.wake != nil {
			l.wake.Close()
		}
		l.ringMu.Lock()
		if l.rd != nil {
			if err := l.rd.close(); err != nil {
				errs = append(errs, fmt.Errorf("unmap ring buffer: %w", err))
			}
			l.rd = nil
		}
		l.ringMu.Unlock()

		l.mu.Lock()
		defer l.mu.Unlock()
		l.lostFinal = l.readLost()
		l.errorsFinal = l.readErrors()
		l.closed = true
		errs = append(errs, l.detachLocked())
		errs = append(errs, l.closeTLS())
		l.closeObjects()
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
	return errors.Join(l.detachLocked(), l.closeTLS())
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
	if l.closed || l.closing.Load() {
		return 0
	}
	l.ringMu.RLock()
	defer l.ringMu.RUnlock()
	if l.rd == nil {
		return 0
	}
	return l.rd.available()
}
