package kubetest

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// fakeTB records what skipOrFail does to a test.
type fakeTB struct {
	testing.TB
	skipped, failed bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Skip(...any)           { f.skipped = true }
func (f *fakeTB) Fatalf(string, ...any) { f.failed = true }

func TestSkipOrFail(t *testing.T) {
	for _, tc := range []struct {
		env          string
		skip, failed bool
	}{{"", true, false}, {"0", true, false}, {"1", false, true}} {
		t.Setenv(EnvRequire, tc.env)
		f := &fakeTB{}
		skipOrFail(f, "needs a control plane")
		if f.skipped != tc.skip || f.failed != tc.failed {
			t.Errorf("%s=%q: skipped=%v failed=%v, want %v %v", EnvRequire, tc.env, f.skipped, f.failed, tc.skip, tc.failed)
		}
	}
}

// TestStartWithoutAPIServer: with no kube-apiserver in the cache, Start
// skips, or fails under PROPWATCH_REQUIRE_KUBE=1, before starting
// anything.
func TestStartWithoutAPIServer(t *testing.T) {
	t.Setenv("PROPWATCH_CACHE", t.TempDir())
	for _, env := range []string{"", "1"} {
		t.Setenv(EnvRequire, env)
		f := &fakeTB{TB: t}
		if cp := Start(f); cp != nil || f.skipped == (env == "1") || f.failed != (env == "1") {
			t.Errorf("%s=%q: Start = %v, skipped=%v failed=%v", EnvRequire, env, cp, f.skipped, f.failed)
		}
	}
}

func TestAPIServerPath(t *testing.T) {
	t.Setenv("PROPWATCH_CACHE", "")
	if got, want := APIServerPath(), "/var/cache/propwatch/kube-apiserver-"+Version; got != want {
		t.Errorf("APIServerPath() = %q, want %q", got, want)
	}
	t.Setenv("PROPWATCH_CACHE", "/tmp/c")
	if got, want := APIServerPath(), "/tmp/c/kube-apiserver-"+Version; got != want {
		t.Errorf("APIServerPath() = %q, want %q", got, want)
	}
}

// TestVersionMatchesScript: kube/controlplane.sh builds the release
// Version names, and go.mod's client-go is its v0 twin.
func TestVersionMatchesScript(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("..", "..", "kube", "controlplane.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^VERSION=(\S+)`).FindSubmatch(script)
	if m == nil || string(m[1]) != Version {
		t.Errorf("kube/controlplane.sh: VERSION=%s, kubetest.Version %s", m, Version)
	}
	gomod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	want := "k8s.io/client-go v0." + Version[len("v1."):]
	if !regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(want) + `\b`).Match(gomod) {
		t.Errorf("go.mod: want %s", want)
	}
}

func TestCgroup2Mount(t *testing.T) {
	for _, tc := range []struct{ mounts, want string }{
		// Debian 12 (systemd, unified).
		{"sysfs /sys sysfs rw 0 0\ncgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0\n", "/sys/fs/cgroup"},
		// Hybrid: v1 hierarchies and the unified one beside them.
		{"tmpfs /sys/fs/cgroup tmpfs rw 0 0\ncgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n", "/sys/fs/cgroup/unified"},
		{`cgroup2 /mnt/my\040cgroup cgroup2 rw 0 0` + "\n", "/mnt/my cgroup"},
		{"cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n", ""},
	} {
		f := filepath.Join(t.TempDir(), "mounts")
		if err := os.WriteFile(f, []byte(tc.mounts), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := cgroup2Mount(f)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("cgroup2Mount(%q) = %q, %v; want %q", tc.mounts, got, err, tc.want)
		}
	}
}
