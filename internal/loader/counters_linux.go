//go:build linux && (amd64 || arm64)

package loader

import (
	"maps"

	"github.com/cilium/ebpf"
)

// lostNames names the pw_lost counters, indexed by enum lost_reason
// (bpf/event.h).
var lostNames = [captureLostReasonLOST_REASONS]string{
	captureLostReasonLOST_RINGBUF_FULL: "ringbuf_full",
	captureLostReasonLOST_READ_FAILED:  "read_failed",
	captureLostReasonLOST_ARGS_FULL:    "args_full",
	captureLostReasonLOST_TLS_UNTIED:   "tls_untied",
}

// errorNames names the pw_errors counters, indexed by enum error_site
// (bpf/event.h): where in the kernel a map update or a user read failed.
// The array's length is the C enum's count, so a site added there without
// a name here leaves an empty string, which TestErrorNames catches.
var errorNames = [captureErrorSiteERROR_SITES]string{
	captureErrorSiteERR_HEAD_HOLD:     "head_hold",
	captureErrorSiteERR_HEAD_OPEN:     "head_open",
	captureErrorSiteERR_KAFKA_AWAIT:   "kafka_await",
	captureErrorSiteERR_KAFKA_REQUEST: "kafka_request",
	captureErrorSiteERR_KAFKA_CORR:    "kafka_corr",
	captureErrorSiteERR_OWNER:         "owner",
	captureErrorSiteERR_MMSG_CURSOR:   "mmsg_cursor",
	captureErrorSiteERR_NOTE:          "socket_note",
	captureErrorSiteERR_H2STATE:       "http2_state",
	captureErrorSiteERR_TLS_CALL:      "tls_call",
	captureErrorSiteERR_TLS_TIE:       "tls_tie",
	captureErrorSiteERR_GO_READ:       "go_tls_read",
	captureErrorSiteERR_TLS_READ:      "tls_read",
	captureErrorSiteERR_PROC:          "proc_notice",
}

// Lost returns how many events the kernel side could not deliver, by
// reason: "ringbuf_full" (Read did not keep up), "read_failed" (the user
// buffer could not be read), "args_full" (too many threads inside hooked
// syscalls at once), "tls_untied" (TLS plaintext read before the kernel
// saw which socket its SSL* uses). After Close it returns the counts as they were then.
func (l *Loader) Lost() map[string]uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return maps.Clone(l.lostFinal)
	}
	return l.readLost()
}

// KernelErrors returns how often the kernel side failed to keep state, by
// site: a map update that failed (a full or out-of-memory map) or a user
// read that did. Each costs a judgement, not an event: "head_hold" and
// "head_open" a request head or Kafka frame split across calls,
// "kafka_await", "kafka_request" and "kafka_corr" a Kafka response not
// recognised, "owner" a loopback sender left unnamed, "mmsg_cursor" the
// place in a sendmmsg/recvmmsg array, "socket_note" what the sock hooks
// remember of a socket, "http2_state" an HTTP/2 stream's place; TLS:
// "tls_call" a library call's entry, "tls_tie" an SSL* tied to its socket,
// "go_tls_read" a Go Read's entry, "tls_read" a length or a Go
// connection's descriptor that could not be read, "proc_notice" an exec
// or exit notice dropped. After Close it returns the counts as they were.
func (l *Loader) KernelErrors() map[string]uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return maps.Clone(l.errorsFinal)
	}
	return l.readErrors()
}

// readLost sums the per-CPU pw_lost counters. l.mu must be held.
func (l *Loader) readLost() map[string]uint64 { return sumPerCPU(l.maps.PwLost, lostNames[:]) }

// readErrors sums the per-CPU pw_errors counters. l.mu must be held.
func (l *Loader) readErrors() map[string]uint64 {
	return sumPerCPU(l.maps.PwErrors, errorNames[:])
}

// sumPerCPU reads counter i of the per-CPU array m as names[i], summed
// over the CPUs. Every name is in the result, zero when unread.
func sumPerCPU(m *ebpf.Map, names []string) map[string]uint64 {
	out := make(map[string]uint64, len(names))
	var perCPU []uint64
	for i, name := range names {
		out[name] = 0
		if err := m.Lookup(uint32(i), &perCPU); err != nil {
			continue
		}
		for _, n := range perCPU {
			out[name] += n
		}
	}
	return out
}
