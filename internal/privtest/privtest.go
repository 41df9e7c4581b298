// Package privtest holds the guard of tests that need root and eBPF.
//
// Such tests call RequireBPF first. On a developer's machine without root
// they skip; in CI, where PROPWATCH_REQUIRE_BPF=1, a test that cannot run
// fails instead, so a privileged suite never passes by skipping everything.
package privtest

import (
	"os"
	"runtime"
	"testing"
)

// EnvRequire is the environment variable that turns a skip into a failure
// when set to "1".
const EnvRequire = "PROPWATCH_REQUIRE_BPF"

// RequireBPF skips t unless the test runs as root on Linux, where it can
// load eBPF programs. When PROPWATCH_REQUIRE_BPF=1 it fails t instead of
// skipping it.
func RequireBPF(t testing.TB) {
	t.Helper()
	msg := reason(runtime.GOOS, os.Geteuid())
	if msg == "" {
		return
	}
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("%s (%s=1: this test must run, not skip)", msg, EnvRequire)
		return
	}
	t.Skip(msg)
}

// reason says why a test that needs eBPF cannot run, or "" when it can.
func reason(goos string, euid int) string {
	switch {
	case goos != "linux":
		return "needs Linux and eBPF: the kernel capture only runs on Linux"
	case euid != 0:
		return "needs root and eBPF: run as root, e.g. sudo make test"
	}
	return ""
}
