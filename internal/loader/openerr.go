package loader

import (
	"fmt"
	"strings"
)

// HookSetError says why one hook set did not load and attach.
type HookSetError struct {
	// Set is the hook set.
	Set HookSet
	// Reason is the cause in one line, such as "tracepoint
	// sock/sock_send_length not in this kernel (Linux 6.3+)" or "verifier
	// rejected pw_btf_sys_exit: combined stack size of 5 calls is 592. Too
	// large".
	Reason string
	// Rejected is set when the verifier rejected a program of the set.
	Rejected bool
	// Denied is set when the kernel refused for want of privileges.
	Denied bool
	// Err is the whole error: with Config.Verbose, the whole verifier log
	// of a rejected program.
	Err error

	verbose bool
}

// Error returns "set: reason", or with Config.Verbose the whole error.
func (e *HookSetError) Error() string {
	if e.verbose {
		return fmt.Sprintf("hook set %s: %v", e.Set, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Set, e.Reason)
}

// Unwrap returns Err.
func (e *HookSetError) Unwrap() error { return e.Err }

// OpenError is Open's error when no hook set it tried loaded and attached:
// one line per set with its reason, and with Config.Verbose the whole
// errors after them.
type OpenError struct {
	// Kernel is the kernel's release, as uname -r prints it.
	Kernel string
	// Sets are the hook sets tried, in the order they were tried.
	Sets []*HookSetError
}

// Error returns a line naming the kernel, then a line per set with its
// reason; with Config.Verbose, each set's whole error after them.
func (e *OpenError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "no hook set loaded and attached on this kernel (Linux %s):", e.Kernel)
	verbose := false
	for _, s := range e.Sets {
		fmt.Fprintf(&b, "\n  %s: %s", s.Set, s.Reason)
		verbose = verbose || s.verbose
	}
	if verbose {
		for _, s := range e.Sets {
			fmt.Fprintf(&b, "\n\n%v", s)
		}
	}
	return b.String()
}

// Unwrap returns the errors of the sets.
func (e *OpenError) Unwrap() []error {
	out := make([]error, len(e.Sets))
	for i, s := range e.Sets {
		out[i] = s
	}
	return out
}

// Rejected reports whether the verifier rejected a program of some set.
func (e *OpenError) Rejected() bool {
	for _, s := range e.Sets {
		if s.Rejected {
			return true
		}
	}
	return false
}

// Denied reports whether the kernel refused some set for want of
// privileges.
func (e *OpenError) Denied() bool {
	for _, s := range e.Sets {
		if s.Denied {
			return true
		}
	}
	return false
}
