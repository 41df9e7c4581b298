//go:build linux && (amd64 || arm64)

package loader

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
)

// tlsObjects are the TLS programs (bpf/tls.h, headers.c): loaded after a
// hook set, on its maps, so that a kernel or a capability set that refuses
// them leaves the socket capture running.
type tlsObjects struct {
	PwSslSetFd     *ebpf.Program `ebpf:"pw_ssl_set_fd"`
	PwSslFree      *ebpf.Program `ebpf:"pw_ssl_free"`
	PwSslWrite     *ebpf.Program `ebpf:"pw_ssl_write"`
	PwSslWriteEx   *ebpf.Program `ebpf:"pw_ssl_write_ex"`
	PwSslWriteRet  *ebpf.Program `ebpf:"pw_ssl_write_ret"`
	PwSslRead      *ebpf.Program `ebpf:"pw_ssl_read"`
	PwSslReadEx    *ebpf.Program `ebpf:"pw_ssl_read_ex"`
	PwSslReadRet   *ebpf.Program `ebpf:"pw_ssl_read_ret"`
	PwGoTlsWrite   *ebpf.Program `ebpf:"pw_go_tls_write"`
	PwGoTlsRead    *ebpf.Program `ebpf:"pw_go_tls_read"`
	PwGoTlsReadRet *ebpf.Program `ebpf:"pw_go_tls_read_ret"`
	PwProcExec     *ebpf.Program `ebpf:"pw_proc_exec"`
	PwProcExit     *ebpf.Program `ebpf:"pw_proc_exit"`
}

// tlsState is the TLS capture of a Loader.
type tlsState struct {
	err   error                    // why TLS capture is off, or nil
	progs map[string]*ebpf.Program // by name
	procs *ringbuf.Reader          // pw_procs
	links []link.Link              // the exec and exit notices

	// mu guards uprobes: every uprobe attached and not yet closed, so
	// that Close leaves none behind whatever the caller forgot.
	mu      sync.Mutex
	uprobes map[*uprobe]struct{}
	closed  bool
}

// openTLS loads the TLS programs on l's maps and attaches the exec and
// exit notices. The uprobes wait for AttachUprobe.
func (l *Loader) openTLS(spec *ebpf.CollectionSpec, verbose bool) error {
	repl := map[string]*ebpf.Map{}
	v := reflect.ValueOf(&l.maps).Elem()
	for i := range v.NumField() {
		if m, ok := v.Field(i).Interface().(*ebpf.Map); ok && m != nil {
			repl[v.Type().Field(i).Tag.Get("ebpf")] = m
		}
	}
	var objs tlsObjects
	if err := spec.LoadAndAssign(&objs, &ebpf.CollectionOptions{MapReplacements: repl}); err != nil {
		return loadError(err, verbose)
	}
	t := &l.tls
	t.progs = programsByName(&objs)
	for _, p := range []struct {
		tp   string
		prog *ebpf.Program
	}{{"sched_process_exec", objs.PwProcExec}, {"sched_process_exit", objs.PwProcExit}} {
		lk, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: p.tp, Program: p.prog})
		if err != nil {
			l.closeTLS()
			return fmt.Errorf("attach raw tracepoint %s: %w", p.tp, needsCaps(err, bpfCaps))
		}
		t.links = append(t.links, lk)
	}
	rd, err := ringbuf.NewReader(l.maps.PwProcs)
	if err != nil {
		l.closeTLS()
		return fmt.Errorf("open ring buffer %s: %w", captureMapPwProcs, err)
	}
	t.procs = rd
	t.uprobes = map[*uprobe]struct{}{}
	return nil
}

// closeTLS detaches and unloads the TLS capture.
func (l *Loader) closeTLS() error {
	t := &l.tls
	var errs []error
	t.mu.Lock()
	t.closed = true
	for u := range t.uprobes {
		errs = append(errs, u.lk.Close())
	}
	t.uprobes = nil
	t.mu.Unlock()
	for _, lk := range t.links {
		errs = append(errs, lk.Close())
	}
	t.links = nil
	if t.procs != nil {
		errs = append(errs, t.procs.Close())
		t.procs = nil
	}
	for _, p := range t.progs {
		p.Close()
	}
	t.progs = nil
	return errors.Join(errs...)
}

// TLS returns nil when the TLS programs are loaded (Config.TLS), else why
// not: ErrTLSOff when they were not asked for, or the error that refused
// them (the socket capture runs either way).
func (l *Loader) TLS() error {
	if l.tls.err != nil {
		return l.tls.err
	}
	if l.tls.progs == nil {
		if l.tls.closed {
			return fmt.Errorf("TLS capture: %w", os.ErrClosed)
		}
		return ErrTLSOff
	}
	return nil
}

// uprobe is one attached TLS probe.
type uprobe struct {
	l  *Loader
	lk link.Link
}

// Close detaches the probe.
func (u *uprobe) Close() error {
	t := &u.l.tls
	t.mu.Lock()
	_, ok := t.uprobes[u]
	delete(t.uprobes, u)
	t.mu.Unlock()
	if !ok {
		return nil // closed already, or by Loader.Close
	}
	return u.lk.Close()
}

// AttachUprobe attaches prog at file offset off of the executable or
// shared library at path (a uretprobe when prog.Return()). The probe fires
// in every process that maps that file, now or later, until Close. The
// kernel holds the file's inode, not its path: path only has to reach the
// file now (internal/tlsprobe's Target.OpenPath). Creating a uprobe needs
// CAP_SYS_ADMIN on kernels that restrict uprobes to it.
func (l *Loader) AttachUprobe(path string, off uint64, prog TLSProgram) (io.Closer, error) {
	if err := l.TLS(); err != nil {
		return nil, err
	}
	p := l.tls.progs[string(prog)]
	if p == nil {
		return nil, fmt.Errorf("no TLS program %q", prog)
	}
	ex, err := link.OpenExecutable(path)
	if err != nil {
		return nil, fmt.Errorf("uprobe %s: %w", prog, err)
	}
	opts := &link.UprobeOptions{Address: off}
	var lk link.Link
	if prog.Return() {
		lk, err = ex.Uretprobe("", p, opts)
	} else {
		lk, err = ex.Uprobe("", p, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("uprobe %s at %#x: %w", prog, off, err)
	}
	u := &uprobe{l: l, lk: lk}
	t := &l.tls
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		lk.Close()
		return nil, os.ErrClosed
	}
	t.uprobes[u] = struct{}{}
	return u, nil
}

// Uprobes returns how many uprobes are attached now.
func (l *Loader) Uprobes() int {
	t := &l.tls
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.uprobes)
}

// ReadProc blocks until the kernel sees a process exec or exit and fills
// ev. After Close it returns an error wrapping os.ErrClosed; without TLS
// capture, the error TLS returns.
func (l *Loader) ReadProc(ev *ProcEvent) error {
	if err := l.TLS(); err != nil {
		return err
	}
	rec, err := l.tls.procs.Read()
	if err != nil {
		if errors.Is(err, ringbuf.ErrClosed) || errors.Is(err, os.ErrClosed) {
			return fmt.Errorf("read process notices: %w", os.ErrClosed)
		}
		return fmt.Errorf("read process notices: %w", err)
	}
	var pe captureProcEvent
	if len(rec.RawSample) < 8 {
		return fmt.Errorf("read process notices: record of %d bytes", len(rec.RawSample))
	}
	pe.Tgid = binary.NativeEndian.Uint32(rec.RawSample[0:4])
	pe.Exec = binary.NativeEndian.Uint32(rec.RawSample[4:8])
	ev.TGID, ev.Exec = pe.Tgid, pe.Exec != 0
	return nil
}
