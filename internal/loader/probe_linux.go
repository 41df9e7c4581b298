//go:build linux && (amd64 || arm64)

package loader

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"
)

// bpfCaps is what loading and attaching BPF programs needs.
const bpfCaps = "CAP_BPF, CAP_PERFMON (or root)"

// capsError adds the capabilities an operation needs to a permission error.
type capsError struct {
	err  error
	caps string
}

func (e *capsError) Error() string { return fmt.Sprintf("%v (needs %s)", e.err, e.caps) }
func (e *capsError) Unwrap() error { return e.err }

// needsCaps names caps in err when err is EPERM, and returns err otherwise.
func needsCaps(err error, caps string) error {
	if errors.Is(err, unix.EPERM) {
		return &capsError{err: err, caps: caps}
	}
	return err
}

// feature is one thing the capture program needs from the kernel.
type feature struct {
	what  string
	probe func() error
}

// required lists, in the order they are probed, what the capture program
// uses whatever its hooks. Each is probed by trying it (features caches the
// answers), never by kernel version; the versions in the names only help
// the reader.
var required = []feature{
	{"BPF ring buffer maps (Linux 5.8+)", func() error { return features.HaveMapType(ebpf.RingBuf) }},
	{"BPF LRU hash maps", func() error { return features.HaveMapType(ebpf.LRUHash) }},
	{"BPF per-CPU array maps", func() error { return features.HaveMapType(ebpf.PerCPUArray) }},
	{"bounded loops in BPF programs (Linux 5.3+)", features.HaveBoundedLoops},
	{"the BPF v3 instruction set (Linux 5.1+)", features.HaveV3ISA},
	{"kernel BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF)", func() error {
		_, err := btf.LoadKernelSpec()
		return err
	}},
}

// helpers are the helpers the programs call, probed per program type.
var helpers = []struct {
	what string
	fn   asm.BuiltinFunc
}{
	{"bpf_ringbuf_output", asm.FnRingbufOutput},
	{"bpf_probe_read_user (Linux 5.5+)", asm.FnProbeReadUser},
	{"bpf_probe_read_kernel", asm.FnProbeReadKernel},
	{"bpf_get_current_task", asm.FnGetCurrentTask},
	{"bpf_get_current_cgroup_id", asm.FnGetCurrentCgroupId},
}

// hookFeatures lists what one hook set needs on top of required.
func hookFeatures(typ ebpf.ProgramType, what string) []feature {
	out := []feature{{"BPF " + what + " programs", func() error { return features.HaveProgramType(typ) }}}
	for _, h := range helpers {
		out = append(out, feature{h.what + " in " + what + " programs", func() error {
			return features.HaveProgramHelper(typ, h.fn)
		}})
	}
	return out
}

// probeFeatures checks every required feature and names the first one the
// kernel lacks, or the first probe that could not tell.
func probeFeatures() error { return probe(required) }

// probeSock checks what HooksSock needs: the two tracepoints in the
// kernel's BTF (Linux 6.3+), so that an older kernel is told by name and
// not by a load error; their absence wraps ebpf.ErrNotSupported. Like
// pw_btf_sys_exit, the programs themselves are the probe for the rest
// (bpf_task_pt_regs, 5.15+).
func probeSock() error {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return fmt.Errorf("read kernel BTF: %w", err)
	}
	for _, tp := range []string{"sock_send_length", "sock_recv_length"} {
		var typ *btf.Typedef
		if err := spec.TypeByName("btf_trace_"+tp, &typ); errors.Is(err, btf.ErrNotFound) {
			return fmt.Errorf("tracepoint sock/%s not in this kernel (Linux 6.3+): %w", tp, ebpf.ErrNotSupported)
		} else if err != nil {
			return fmt.Errorf("look up tracepoint sock/%s in the kernel's BTF: %w", tp, err)
		}
	}
	return nil
}

// probeBTF checks what HooksBTF needs: nothing here. A tracing program
// cannot be probed without a target (features.HaveProgramType reports a
// permission error for it), so loading and attaching pw_btf_sys_exit is the
// probe, and its error says what was missing.
func probeBTF() error { return nil }

// probeRaw checks what HooksRaw needs.
func probeRaw() error { return probe(hookFeatures(ebpf.RawTracepoint, "raw tracepoint")) }

// prepareSyscalls checks what HooksSyscalls needs, mounts tracefs when it is
// missing, and checks the syscall tracepoints' record layout.
func prepareSyscalls() error {
	if err := probe(hookFeatures(ebpf.TracePoint, "tracepoint")); err != nil {
		return err
	}
	tracefs, err := ensureTracefs()
	if err != nil {
		return err
	}
	return checkSyscallFormat(tracefs)
}

func probe(list []feature) error {
	for _, f := range list {
		err := f.probe()
		switch {
		case err == nil:
		case errors.Is(err, ebpf.ErrNotSupported):
			return fmt.Errorf("this kernel lacks %s, which propwatch's capture needs: %w", f.what, err)
		default:
			return fmt.Errorf("probe for %s: %w", f.what, needsCaps(err, bpfCaps))
		}
	}
	return nil
}

// verifierError shows a verifier log trimmed to its last lines, or whole.
type verifierError struct {
	prefix  string // what wrapped the verifier error: "program pw_exit_write: "
	prog    string // the program: "pw_exit_write"
	ve      *ebpf.VerifierError
	verbose bool
}

func (e *verifierError) Error() string {
	if e.verbose {
		return fmt.Sprintf("%s%+v", e.prefix, e.ve)
	}
	return fmt.Sprintf("%s%-40v", e.prefix, e.ve)
}

func (e *verifierError) Unwrap() error { return e.ve }

// loadError wraps an error of loading the collection: a verifier log is
// trimmed to its last 40 lines unless verbose, and EPERM names the
// capabilities.
func loadError(err error, verbose bool) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		prefix := strings.TrimSuffix(err.Error(), ve.Error())
		err = &verifierError{prefix: prefix, prog: progOf(prefix), ve: ve, verbose: verbose}
	}
	return fmt.Errorf("load capture program: %w", needsCaps(err, bpfCaps))
}

// progOf returns the program named in the wrapping of a load error
// ("field PwExitRead: program pw_exit_read: "), as cilium/ebpf's
// CollectionSpec.LoadAndAssign writes it, or "a program".
func progOf(prefix string) string {
	i := strings.LastIndex(prefix, "program ")
	if i < 0 {
		return "a program"
	}
	name, _, ok := strings.Cut(prefix[i+len("program "):], ":")
	if !ok || name == "" || strings.ContainsAny(name, " \t") {
		return "a program"
	}
	return name
}

// hookSetError makes the HookSetError of set from the error open returned:
// its reason in one line, and the whole error for verbose.
func hookSetError(set HookSet, err error, verbose bool) *HookSetError {
	e := &HookSetError{Set: set, Err: err, verbose: verbose}
	var ce *capsError
	e.Denied = errors.As(err, &ce)
	var ve *verifierError
	switch {
	case errors.As(err, &ve) && len(ve.ve.Log) > 0:
		e.Rejected = true
		e.Reason = fmt.Sprintf("verifier rejected %s: %s", ve.prog, verifierCause(ve.ve.Log))
	case errors.As(err, &ve):
		// Refused before the verifier ran: no log to quote.
		e.Reason = fmt.Sprintf("kernel refused to load %s: %v", ve.prog, ve.ve.Cause)
		if e.Denied {
			e.Reason += fmt.Sprintf(" (needs %s)", ce.caps)
		}
	default:
		e.Reason, _, _ = strings.Cut(err.Error(), "\n")
		// "load capture program: assign values: field X: program pw_x: why"
		// reads "load pw_x: why".
		if rest, ok := strings.CutPrefix(e.Reason, "load capture program: "); ok {
			if i := strings.Index(rest, "program "); i >= 0 {
				e.Reason = "load " + rest[i+len("program "):]
			}
		}
	}
	return e
}

// verifierCause returns the line of a verifier log that says why it
// rejected the program: the last one before the statistics the verifier
// appends, with the instruction before it when it is about a register
// ("R5 !read_ok").
func verifierCause(log []string) string {
	n := len(log)
	for n > 0 && verifierStats(log[n-1]) {
		n--
	}
	if n == 0 {
		return "(no reason in the log)"
	}
	line := strings.TrimSpace(log[n-1])
	if n >= 2 && (len(line) >= 2 && line[0] == 'R' && line[1] >= '0' && line[1] <= '9' ||
		strings.HasPrefix(line, "invalid bpf_context access")) {
		line = strings.TrimSpace(log[n-2]) + ": " + line
	}
	return line
}

// verifierStats reports whether a line of a verifier log is one of the
// statistics it ends with, or blank.
func verifierStats(line string) bool {
	line = strings.TrimSpace(line)
	for _, p := range []string{"processed ", "verification time ", "stack depth "} {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return line == ""
}
