package main

import (
	"strings"
	"testing"

	"github.com/propwatch/propwatch/internal/loader"
)

// TestOpenAdvice: when no hook set loads, run says what each set needs and
// adds the steps that fit the reasons: privileges when the kernel refused,
// --verbose unless given, where to report a rejected program.
func TestOpenAdvice(t *testing.T) {
	missing := &loader.HookSetError{Set: loader.HooksSock, Reason: "tracepoint sock/sock_send_length not in this kernel (Linux 6.3+)"}
	rejected := &loader.HookSetError{Set: loader.HooksBTF, Reason: "verifier rejected pw_btf_sys_exit: combined stack size of 5 calls is 592. Too large", Rejected: true}
	denied := &loader.HookSetError{Set: loader.HooksSyscalls, Reason: "attach tracepoint syscalls/sys_exit_write: operation not permitted", Denied: true}
	for _, c := range []struct {
		name    string
		sets    []*loader.HookSetError
		verbose bool
		want    []string
		notWant []string
	}{
		{"missing", []*loader.HookSetError{missing}, false,
			[]string{"sock      tp_btf sock_send_length", "all       kernel BTF", "--verbose", "--hooks SET"},
			[]string{"CAP_BPF", "report it"}},
		{"rejected verbose", []*loader.HookSetError{missing, rejected}, true,
			[]string{"report it to the propwatch project", "propwatch run --verbose"},
			[]string{"run with --verbose", "CAP_BPF"}},
		{"denied", []*loader.HookSetError{denied}, false,
			[]string{"run as root, or with CAP_BPF and CAP_PERFMON"},
			[]string{"report it"}},
	} {
		got := openAdvice(&loader.OpenError{Kernel: "6.1.0", Sets: c.sets}, c.verbose)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: advice lacks %q:\n%s", c.name, w, got)
			}
		}
		for _, w := range c.notWant {
			if strings.Contains(got, w) {
				t.Errorf("%s: advice has %q:\n%s", c.name, w, got)
			}
		}
	}
}
