//go:build linux && (amd64 || arm64)

package loader

import (
	"time"

	"golang.org/x/sys/unix"
)

// Clock turns an event's KtimeNS into a time.Time that compares and
// subtracts correctly with time.Now's: both sides of the conversion are
// CLOCK_MONOTONIC, which is what the kernel's bpf_ktime_get_ns and Go's
// monotonic clock read. An event then costs no clock read of its own (one
// per event was a twentieth of the reader's CPU on a busy host), and it is
// stamped with when its syscall returned rather than when it was read.
type Clock struct {
	wall time.Time // time.Now() ...
	mono int64     // ... and CLOCK_MONOTONIC, read together
}

// NewClock reads both clocks once.
func NewClock() Clock {
	var ts unix.Timespec
	now := time.Now()
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		// Not on any kernel this runs on; Time then returns NewClock's
		// moment, which only delays naming and expiry.
		return Clock{wall: now, mono: -1}
	}
	return Clock{wall: now, mono: ts.Nano()}
}

// Time returns the moment of ktime, an event's KtimeNS.
func (c Clock) Time(ktime uint64) time.Time {
	if c.mono < 0 {
		return c.wall
	}
	return c.wall.Add(time.Duration(int64(ktime) - c.mono))
}
