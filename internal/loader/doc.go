// Package loader loads propwatch's kernel capture (bpf/headers.c), attaches
// it to the syscall tracepoints of the TCP send and receive paths, and reads
// the request-head chunks it emits.
//
// The kernel side copies out only what begins like an HTTP/1.x request, and
// the continuations of a head that is still open, so the cost of a healthy
// request stays in the kernel; responses, bodies and other protocols are
// never copied. Go reads struct event through the bpf2go-generated
// captureEvent type and hands it on as an Event.
//
// Only Linux on 64-bit little-endian CPUs has a capture; elsewhere Open
// returns an error wrapping errors.ErrUnsupported.
package loader
