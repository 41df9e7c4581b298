package loader

import (
	"bytes"
	"fmt"
	"net/netip"
)

// Direction says which way the bytes of an Event went, seen from the
// process that made the syscall.
type Direction uint8

const (
	// Egress: the process sent the bytes (write, sendto, ...).
	Egress Direction = 0
	// Ingress: the process received them (read, recvfrom, ...).
	Ingress Direction = 1
)

// String returns "egress" or "ingress".
func (d Direction) String() string {
	switch d {
	case Egress:
		return "egress"
	case Ingress:
		return "ingress"
	}
	return "unknown"
}

// Event is one chunk of a message as a syscall moved it: either the start
// of a message (Start) or a continuation of a message still open on the
// same socket and direction. The messages are HTTP/1.x request heads
// (Protocol HTTP1) and Kafka frames (Protocol Kafka): Produce requests,
// Fetch and Metadata responses. HTTP responses, bodies and other protocols
// never become events.
//
// A Kafka frame is shipped up to Config.KafkaCaptureBytes (its int32 size
// plus 4 bytes, or that cap, whichever is less): its Start event and the
// continuations after it carry those bytes in order, and a syscall that
// moved more than one event holds is shipped as several events with the
// same Sock, Direction and Syscall. Where Data is shorter than Len, bytes
// of the chunk were not captured: the frame has a gap there.
//
// Events are filled by Loader.Read, which reuses the Event's buffers: Data
// is valid until the next Read into the same Event.
type Event struct {
	// KtimeNS is CLOCK_MONOTONIC (bpf_ktime_get_ns) at syscall exit.
	KtimeNS uint64
	// TGID is the process id, PID the thread id.
	TGID, PID uint32
	// FD is the file descriptor the syscall was made on.
	FD uint32
	// Comm is the thread's command name, NUL-padded.
	Comm [16]byte
	// PeerTGID and PeerComm name the process on the other end of a
	// loopback connection, when the kernel saw it send (PeerTGID 0 when
	// not): a request over loopback is emitted only by its receiving end,
	// so this is how the sender is known.
	PeerTGID uint32
	PeerComm [16]byte
	// CgroupID is the cgroup v2 id of the thread (its container, its
	// systemd unit).
	CgroupID uint64
	// NetNS is the inode number of the socket's network namespace.
	NetNS uint32
	// Sock is the socket's inode number: the identity of the connection on
	// this host (as in /proc/PID/fd/N -> socket:[Sock]). Kernel pointers are
	// never exposed.
	Sock uint64
	// Local and Remote are the socket's addresses. IPv4-mapped IPv6
	// addresses (a dual-stack socket talking IPv4) are unmapped to IPv4.
	Local, Remote netip.AddrPort
	// Direction says whether the process sent or received the bytes.
	Direction Direction
	// Protocol is what the kernel recognised the message as.
	Protocol Protocol
	// Start is true when Data begins a message: for HTTP, a method token
	// followed by a space; for Kafka, a frame's int32 size field.
	Start bool
	// KafkaAPIKey and KafkaAPIVersion name the request a Kafka response
	// answers (the kernel matched it by correlation id on the connection):
	// set on the Start event of a Kafka response, -1 on every other event.
	// A Kafka request's own key and version are in its frame.
	KafkaAPIKey, KafkaAPIVersion int16
	// Syscall names the syscall: "write", "writev", "sendto", "sendmsg",
	// "sendmmsg", "read", "readv", "recvfrom", "recvmsg" or "recvmmsg";
	// or, for plaintext read at a TLS library, "tls_write" or "tls_read".
	Syscall string
	// TLS is true when Data is plaintext read at the process's TLS library
	// (uprobes, bpf/tls.h) rather than the bytes of a socket syscall. The
	// connection (Sock, Local, Remote, FD) is the socket the library
	// writes the ciphertext to.
	TLS bool
	// Len is the syscall's full byte count for this chunk (for sendmmsg and
	// recvmmsg, the message's). When a short read or write of a method's
	// first bytes ("G") was held back until the next chunk showed the
	// method, the start event carries both and Len counts both.
	Len int
	// Data is the captured prefix of the chunk, len(Data) <= Len. It is
	// shorter than Len when the chunk was longer than Config.CaptureBytes or
	// than what was left of the head's budget.
	Data []byte

	// raw is the buffer the ring buffer record is copied into; Data points
	// into it.
	//lint:ignore U1000 used by the Linux loader only
	raw []byte
}

// CommString returns Comm up to its first NUL byte.
func (e *Event) CommString() string {
	n := bytes.IndexByte(e.Comm[:], 0)
	if n < 0 {
		n = len(e.Comm)
	}
	return string(e.Comm[:n])
}

// Config tunes a Loader. The zero value is ready to use.
type Config struct {
	// CaptureBytes is the most bytes of one syscall copied into an Event.
	// Zero means the default and largest, 16384. A request head of up to
	// CaptureBytes written in one syscall is seen whole; a longer head is
	// seen whole only if it is written in several syscalls. It must be at
	// least 64.
	CaptureBytes int
	// RingBufferBytes is the size of the ring buffer between the kernel and
	// Read: a power of two, at least the page size. Zero means 8 MiB. Events
	// that find it full are lost and counted (Lost()["ringbuf_full"]).
	RingBufferBytes int
	// KafkaCaptureBytes is the most bytes of one Kafka frame shipped,
	// across its events. Zero means DefaultKafkaCaptureBytes (1 MiB).
	KafkaCaptureBytes int
	// Verbose makes load errors carry the whole error of each hook set,
	// the whole verifier log included, instead of one line a set.
	Verbose bool
	// Hooks chooses the hook set. Zero means HooksAuto.
	Hooks HookSet
	// TLS loads the uprobe programs that read TLS plaintext (TLSProgram)
	// and the process exec/exit notices (Loader.ReadProc). Nothing is
	// attached to a TLS library until Loader.AttachUprobe; the socket
	// hooks then also tie each library call to its socket.
	TLS bool

	// captureSelf lets the program capture propwatch's own process, so that
	// tests can make traffic in the test binary.
	//lint:ignore U1000 used by the Linux loader only
	captureSelf bool
	// loopbackBoth makes both ends of a loopback connection emit, so that
	// tests can see the sending end.
	//lint:ignore U1000 used by the Linux loader only
	loopbackBoth bool
}

// Protocol is the protocol of an Event.
type Protocol uint8

const (
	// HTTP1 is an HTTP/1.x request head.
	HTTP1 Protocol = iota
	// Kafka is a Kafka frame: a Produce request, or a Fetch or Metadata
	// response (requests of other API keys are not captured).
	Kafka
	// HTTP2 is an HTTP/2 client's frames: HEADERS, CONTINUATION and
	// SETTINGS, from the preface on or from a HEADERS frame where the
	// preface was missed. Start says the data begins at a frame header (or
	// the preface); otherwise it continues the frame the stream's last
	// event ended in. Frames of other types are not copied, except one
	// between two copied frames of the same chunk.
	HTTP2
	// TLSHello is a TLS ClientHello: a connection starting encrypted, seen
	// at either end. It carries no data; Len is the chunk's length. Sent
	// only with Config.TLS, so that connections whose plaintext the
	// process's library does not give up can be counted.
	TLSHello
)

// String returns "http", "kafka", "http2" or "tls_hello".
func (p Protocol) String() string {
	switch p {
	case Kafka:
		return "kafka"
	case HTTP2:
		return "http2"
	case TLSHello:
		return "tls_hello"
	}
	return "http"
}

// HookSet names the kernel hooks the capture attaches to.
type HookSet string

const (
	// HooksAuto is the first of HooksSock, HooksBTF, HooksRaw and
	// HooksSyscalls that loads and attaches on this kernel.
	HooksAuto HookSet = "auto"
	// HooksSock is the tracepoints sock/sock_send_length and
	// sock/sock_recv_length as BTF-typed tracepoints: they run for socket
	// sends and receives only, not at every syscall's exit, and hand the
	// program the socket. The cheapest set; it needs Linux 6.3+ (the
	// tracepoints) and bpf_task_pt_regs (5.15+).
	HooksSock HookSet = "sock"
	// HooksBTF is HooksRaw as a BTF-typed tracepoint (tp_btf): the
	// registers are read with plain loads, not helper calls. It needs
	// BTF-typed tracepoints and bpf_get_current_task_btf (Linux 5.11+ on
	// x86-64).
	HooksBTF HookSet = "btf"
	// HooksRaw is one raw tracepoint at every syscall's exit (sys_exit)
	// that reads the arguments from the saved registers.
	HooksRaw HookSet = "raw"
	// HooksSyscalls is the syscall tracepoints syscalls/sys_enter_* and
	// sys_exit_* of the hooked calls: the set that works everywhere.
	HooksSyscalls HookSet = "syscalls"
)

// ParseHookSet reads a HookSet from its name.
func ParseHookSet(s string) (HookSet, error) {
	switch h := HookSet(s); h {
	case HooksAuto, HooksSock, HooksBTF, HooksRaw, HooksSyscalls:
		return h, nil
	case "":
		return HooksAuto, nil
	}
	return "", fmt.Errorf("hook set %q: want auto, sock, btf, raw or syscalls", s)
}

// Defaults and limits of Config. Those that stand for constants of the
// capture program (named in brackets) are checked against the compiled
// objects by TestMirroredConstants.
const (
	// DefaultCaptureBytes is CaptureBytes when it is zero, and its maximum
	// (CAPTURE_MAX, the size of struct event's data).
	DefaultCaptureBytes = 16384
	// MinCaptureBytes is the smallest CaptureBytes accepted (CAPTURE_MIN,
	// which the compiled object does not show: kept equal by hand).
	MinCaptureBytes = 64
	// DefaultKafkaCaptureBytes is KafkaCaptureBytes when it is zero
	// (KAFKA_BUDGET_DEFAULT).
	DefaultKafkaCaptureBytes = 1 << 20
	// MaxKafkaCaptureBytes is the largest KafkaCaptureBytes.
	MaxKafkaCaptureBytes = 64 << 20
	// DefaultRingBufferBytes is RingBufferBytes when it is zero
	// (RINGBUF_DEFAULT_BYTES).
	DefaultRingBufferBytes = 8 << 20
	// HeadBudget is how many bytes a request head may span across the
	// chunks of one socket and direction before continuations stop being
	// captured (HEAD_BUDGET_DEFAULT).
	HeadBudget = 16384
)
