package tlswatch

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/propwatch/propwatch/internal/loader"
	"github.com/propwatch/propwatch/internal/tlsprobe"
)

// AttachError is an attach that failed: which program on which kind of
// file. Its message holds the path; logs above debug use only the rest.
type AttachError struct {
	Kind   tlsprobe.Kind
	Prog   loader.TLSProgram
	Offset uint64
	Path   string
	Err    error
}

// Error implements error.
func (e *AttachError) Error() string {
	return fmt.Sprintf("attach %s at %#x of %s (%s): %v", e.Prog, e.Offset, e.Path, e.Kind, e.Err)
}

// Unwrap returns the cause.
func (e *AttachError) Unwrap() error { return e.Err }

// errNoProbes is a readable target with no function to probe.
var errNoProbes = errors.New("no function to probe")

// Reasons an attach fails, as label values; an errno's is its name in
// lower case ("einval").
const (
	reasonPermission  = "permission"
	reasonGone        = "gone"
	reasonUnsupported = "unsupported"
	reasonNoProbes    = "no_probes"
	reasonOther       = "other"
)

// classify names the reason an attach failed: permission (EPERM, EACCES:
// capture turns off), gone (the process or file left: not an error), an
// errno's name, or a fixed word.
func classify(err error) string {
	var errno syscall.Errno
	switch {
	case errors.Is(err, os.ErrPermission), errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return reasonPermission
	case errors.Is(err, os.ErrNotExist), errors.Is(err, unix.ESRCH):
		return reasonGone
	case errors.Is(err, errNoProbes):
		return reasonNoProbes
	case errors.As(err, &errno):
		if n := unix.ErrnoName(errno); n != "" {
			return strings.ToLower(n)
		}
		return "errno_" + strconv.Itoa(int(errno))
	case errors.Is(err, errors.ErrUnsupported):
		return reasonUnsupported
	}
	return reasonOther
}

// maxReasons caps the distinct reasons counted; the rest count as other.
const maxReasons = 32

// reasons counts attach failures by reason, with a bounded set of reasons.
// Its owner's lock guards it.
type reasons struct {
	n map[string]uint64
}

func newReasons() *reasons { return &reasons{n: map[string]uint64{}} }

// add counts one failure and reports whether it is the reason's first.
func (r *reasons) add(reason string) bool {
	if _, ok := r.n[reason]; !ok && len(r.n) >= maxReasons {
		reason = reasonOther
	}
	r.n[reason]++
	return r.n[reason] == 1
}

// Capability bits (linux/capability.h).
const (
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// permissionAdvice says why an attach was refused and what is missing:
// the capabilities this process lacks of those uprobes need.
func permissionAdvice(err error) error {
	eff, ok := effectiveCaps()
	var missing []string
	if ok {
		for _, c := range []struct {
			bit  uint
			name string
		}{{capSysAdmin, "CAP_SYS_ADMIN"}, {capPerfmon, "CAP_PERFMON"}, {capBPF, "CAP_BPF"}} {
			if eff&(1<<c.bit) == 0 {
				missing = append(missing, c.name)
			}
		}
	}
	// The errno alone: the loader's message names the file.
	var cause error = unix.EPERM
	var errno syscall.Errno
	if errors.As(err, &errno) {
		cause = errno
	}
	switch {
	case !ok:
		return fmt.Errorf("uprobes refused (%v); they need CAP_SYS_ADMIN (see docs/tls.md)", cause)
	case len(missing) > 0:
		return fmt.Errorf("uprobes refused (%v): this process lacks %s; TLS capture needs CAP_SYS_ADMIN for its uprobes (see docs/tls.md)", cause, strings.Join(missing, ", "))
	}
	return fmt.Errorf("uprobes refused (%v) although this process has CAP_SYS_ADMIN: a security module, seccomp or kernel lockdown forbids them", cause)
}

// effectiveCaps reads this process's effective capability set from
// /proc/self/status; tests replace it.
var effectiveCaps = func() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return n, err == nil
		}
	}
	return 0, false
}
