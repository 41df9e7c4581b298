//go:build linux && (amd64 || arm64)

package loader

import (
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// The header the kernel puts before each ring buffer record (struct
// bpf_ringbuf_hdr, include/uapi/linux/bpf.h): the length with two flag
// bits, and a page offset only the kernel uses.
const (
	ringHeaderSize = 8
	ringBusyBit    = 1 << 31 // reserved, not yet submitted
	ringDiscardBit = 1 << 30 // discarded: skip it
)

// ring reads the pw_events ring buffer through its own mapping of it.
// cilium/ebpf's ringbuf.Reader calls epoll_wait before every batch, even
// when records are waiting; under load that syscall, descheduled on a
// saturated host, made Go's runtime hand the reader's P to another thread
// and kept its monitor thread waking every 20µs. Reading the positions and
// records from memory needs no syscall at all; Read waits for data in Go's
// netpoller instead (Loader.wait).
//
// The layout is the kernel's (kernel/bpf/ringbuf.c): a page holding the
// consumer position, writable; then a page holding the producer position
// and the data pages mapped twice in a row, read-only, so that a record
// that wraps around the end is contiguous.
type ring struct {
	consPage []byte
	prodPage []byte
	consPos  *uint64 // written by us: how far we have read
	prodPos  *uint64 // written by the kernel: how far it has committed
	data     []byte  // the data pages, twice
	mask     uint64
	pos      uint64 // how far we have read, not yet told the kernel
}

func newRing(m *ebpf.Map) (*ring, error) {
	size := int(m.MaxEntries())
	page := os.Getpagesize()
	cons, err := unix.Mmap(m.FD(), 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map ring buffer consumer page: %w", err)
	}
	prod, err := unix.Mmap(m.FD(), int64(page), page+2*size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		unix.Munmap(cons)
		return nil, fmt.Errorf("map ring buffer data: %w", err)
	}
	r := &ring{
		consPage: cons,
		prodPage: prod,
		consPos:  (*uint64)(unsafe.Pointer(&cons[0])),
		prodPos:  (*uint64)(unsafe.Pointer(&prod[0])),
		data:     prod[page:],
		mask:     uint64(size - 1),
	}
	r.pos = atomic.LoadUint64(r.consPos)
	return r, nil
}

// next returns the sample of the next committed record, a slice of the
// mapping that stays valid until release, or nil when there is none yet.
func (r *ring) next() []byte {
	prod := atomic.LoadUint64(r.prodPos)
	for r.pos < prod {
		// The length is read atomically: the kernel clears the busy bit
		// with an atomic exchange once the record is written.
		hdr := atomic.LoadUint32((*uint32)(unsafe.Pointer(&r.data[r.pos&r.mask])))
		if hdr&ringBusyBit != 0 {
			return nil
		}
		n := uint64(hdr &^ (ringBusyBit | ringDiscardBit))
		start := (r.pos + ringHeaderSize) & r.mask
		end := r.pos + ringHeaderSize + (n+7)&^7
		if end > prod || n > r.mask+1 {
			// Not what the kernel writes; stop here rather than read
			// past what it committed.
			return nil
		}
		r.pos = end
		if hdr&ringDiscardBit != 0 {
			continue
		}
		return r.data[start : start+n : start+n]
	}
	return nil
}

// release tells the kernel that everything next returned has been used,
// so that it may write there again.
func (r *ring) release() { atomic.StoreUint64(r.consPos, r.pos) }

// available returns how many bytes of records wait, read or not.
func (r *ring) available() int {
	return int(atomic.LoadUint64(r.prodPos) - atomic.LoadUint64(r.consPos))
}

// close unmaps the ring.
func (r *ring) close() error {
	err1 := unix.Munmap(r.consPage)
	err2 := unix.Munmap(r.prodPage)
	if err1 != nil {
		return err1
	}
	return err2
}
