package privtest

import (
	"os"
	"runtime"
	"strings"
	"testing"
)

func TestReason(t *testing.T) {
	for _, tc := range []struct {
		goos string
		euid int
		want string
	}{
		{"linux", 0, ""},
		{"linux", 1000, "needs root and eBPF: run as root, e.g. sudo make test"},
		{"darwin", 0, "needs Linux"},
	} {
		got := reason(tc.goos, tc.euid)
		if (tc.want == "") != (got == "") || !strings.HasPrefix(got, tc.want) {
			t.Errorf("reason(%q, %d) = %q, want prefix %q", tc.goos, tc.euid, got, tc.want)
		}
	}
}

// fakeTB records what RequireBPF does to a test.
type fakeTB struct {
	testing.TB
	skipped, failed bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Skip(...any)           { f.skipped = true }
func (f *fakeTB) Fatalf(string, ...any) { f.failed = true }

// requireWith runs RequireBPF with PROPWATCH_REQUIRE_BPF set to env and
// says whether it skipped or failed the test.
func requireWith(t *testing.T, env string) (skip, fail bool) {
	t.Setenv(EnvRequire, env)
	f := &fakeTB{}
	RequireBPF(f)
	return f.skipped, f.failed
}

func TestRequireBPF(t *testing.T) {
	if reason(runtime.GOOS, os.Geteuid()) == "" {
		// As root on Linux the guard lets the test run, whatever the variable.
		for _, env := range []string{"", "1"} {
			if skip, fail := requireWith(t, env); skip || fail {
				t.Errorf("%s=%q as root: skipped=%v failed=%v, want neither", EnvRequire, env, skip, fail)
			}
		}
		return
	}
	if skip, fail := requireWith(t, ""); !skip || fail {
		t.Errorf("without %s: skipped=%v failed=%v, want a skip", EnvRequire, skip, fail)
	}
	if skip, fail := requireWith(t, "1"); skip || !fail {
		t.Errorf("with %s=1: skipped=%v failed=%v, want a failure", EnvRequire, skip, fail)
	}
}
