//go:build !linux || !(amd64 || arm64)

package loader

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"time"
)

// Loader is the capture program; on this platform there is none.
type Loader struct{}

// Open returns an error wrapping errors.ErrUnsupported: the capture needs
// Linux on a 64-bit little-endian CPU.
func Open(cfg Config) (*Loader, error) {
	return nil, fmt.Errorf("eBPF capture on %s/%s: %w (needs Linux on a 64-bit little-endian CPU)",
		runtime.GOOS, runtime.GOARCH, errors.ErrUnsupported)
}

// Read returns an error wrapping errors.ErrUnsupported.
func (l *Loader) Read(ev *Event) error { return errors.ErrUnsupported }

// Lost returns nil.
func (l *Loader) Lost() map[string]uint64 { return nil }

// KernelErrors returns nil.
func (l *Loader) KernelErrors() map[string]uint64 { return nil }

// HeadDone does nothing.
func (l *Loader) HeadDone(tgid, fd uint32, dir Direction, tls bool) {}

// Owner returns nothing.
func (l *Loader) Owner(netns uint32, local, remote netip.AddrPort) (tgid uint32, comm [16]byte, ok bool) {
	return 0, comm, false
}

// HookSet returns "".
func (l *Loader) HookSet() HookSet { return "" }

// Fallback returns nil.
func (l *Loader) Fallback() error { return nil }

// Hooks returns nil.
func (l *Loader) Hooks() []string { return nil }

// Close does nothing.
func (l *Loader) Close() error { return nil }

// Detach does nothing.
func (l *Loader) Detach() error { return nil }

// Pending returns 0.
func (l *Loader) Pending() int { return 0 }

// Clock turns an event's KtimeNS into a time.Time; on this platform there
// are no events.
type Clock struct{}

// NewClock returns a Clock.
func NewClock() Clock { return Clock{} }

// Time returns time.Now().
func (Clock) Time(ktime uint64) time.Time { return time.Now() }

// TLS returns an error wrapping errors.ErrUnsupported.
func (l *Loader) TLS() error { return errors.ErrUnsupported }

// AttachUprobe returns an error wrapping errors.ErrUnsupported.
func (l *Loader) AttachUprobe(path string, offset uint64, prog TLSProgram) (io.Closer, error) {
	return nil, errors.ErrUnsupported
}

// ReadProc returns an error wrapping errors.ErrUnsupported.
func (l *Loader) ReadProc(ev *ProcEvent) error { return errors.ErrUnsupported }
