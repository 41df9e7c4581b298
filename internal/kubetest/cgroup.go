package kubetest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ContainerCgroup creates the cgroup v2 directory that containerd's
// systemd driver makes for container containerID of a besteffort pod
// with UID podUID, and returns its path:
//
//	<cgroup2 mount>/kubepods.slice/kubepods-besteffort.slice/
//	    kubepods-besteffort-pod<uid with underscores>.slice/cri-containerd-<id>.scope
//
// Put processes in it with Enter. When t ends, the processes still in it
// go back to the root cgroup and the directories it made go, deepest
// first (the slices other tests still use stay until they are done). It
// needs root and a cgroup2 mount (found in /proc/self/mounts); without
// them it skips t, or fails it with PROPWATCH_REQUIRE_KUBE=1.
func ContainerCgroup(t testing.TB, podUID, containerID string) (dir string) {
	t.Helper()
	if !isUUID(podUID) {
		t.Fatalf("kubetest: pod UID %q is not a UUID (8-4-4-4-12 lowercase hex digits)", podUID)
	}
	if !isHex64(containerID) {
		t.Fatalf("kubetest: container id %q is not 64 lowercase hex digits", containerID)
	}
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root to make cgroups: run as root, e.g. sudo make test")
		return ""
	}
	root, err := cgroup2Mount("/proc/self/mounts")
	if err != nil {
		skipOrFail(t, "needs cgroup v2: "+err.Error())
		return ""
	}
	pod := strings.ReplaceAll(podUID, "-", "_")
	dirs := []string{filepath.Join(root, "kubepods.slice")}
	for _, elem := range []string{
		"kubepods-besteffort.slice",
		"kubepods-besteffort-pod" + pod + ".slice",
		"cri-containerd-" + containerID + ".scope",
	} {
		dirs = append(dirs, filepath.Join(dirs[len(dirs)-1], elem))
	}

	cgroups.Lock()
	defer cgroups.Unlock()
	for i, d := range dirs {
		if err := cgroups.acquire(d); err != nil {
			for _, made := range slices.Backward(dirs[:i]) {
				_ = cgroups.release(made)
			}
			t.Fatalf("kubetest: %v", err)
		}
	}
	leaf := dirs[len(dirs)-1]
	t.Cleanup(func() {
		cgroups.Lock()
		defer cgroups.Unlock()
		if err := evacuate(leaf, root); err != nil {
			t.Errorf("kubetest: %v", err)
		}
		for _, d := range slices.Backward(dirs) {
			if err := cgroups.release(d); err != nil {
				t.Errorf("kubetest: %v", err)
			}
		}
	})
	return leaf
}

// Enter moves process pid (all its threads) into the cgroup dir.
func Enter(pid int, dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, "cgroup.procs"), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strconv.Itoa(pid))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("move pid %d into %s: %w", pid, dir, err)
	}
	return nil
}

// cgroups counts the tests that use each directory ContainerCgroup
// made, so that one test's cleanup leaves the slices another still has
// containers in; and remembers which existed before, never removed.
var cgroups = cgroupDirs{refs: map[string]int{}, ours: map[string]bool{}}

type cgroupDirs struct {
	sync.Mutex
	refs map[string]int
	ours map[string]bool
}

func (c *cgroupDirs) acquire(dir string) error {
	if c.refs[dir] == 0 {
		err := os.Mkdir(dir, 0o755)
		switch {
		case err == nil:
			c.ours[dir] = true
		case errors.Is(err, os.ErrExist):
			c.ours[dir] = false
		default:
			return fmt.Errorf("make cgroup: %w", err)
		}
	}
	c.refs[dir]++
	return nil
}

func (c *cgroupDirs) release(dir string) error {
	c.refs[dir]--
	if c.refs[dir] > 0 {
		return nil
	}
	delete(c.refs, dir)
	ours := c.ours[dir]
	delete(c.ours, dir)
	if !ours {
		return nil
	}
	// A process that has just exited can keep its cgroup busy for a
	// moment.
	var err error
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		err = syscall.Rmdir(dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
	}
}

// evacuate moves every process of cgroup dir into the root cgroup.
func evacuate(dir, root string) error {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return err
	}
	for _, pid := range strings.Fields(string(b)) {
		n, err := strconv.Atoi(pid)
		if err != nil {
			return fmt.Errorf("%s/cgroup.procs: %q", dir, pid)
		}
		if err := Enter(n, root); err != nil && !errors.Is(err, syscall.ESRCH) {
			return err
		}
	}
	return nil
}

// cgroup2Mount finds where cgroup v2 is mounted (/sys/fs/cgroup, or
// /sys/fs/cgroup/unified beside v1 hierarchies) in a mounts file.
func cgroup2Mount(mounts string) (string, error) {
	b, err := os.ReadFile(mounts)
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		// device mountpoint fstype options dump pass
		f := strings.Fields(sc.Text())
		if len(f) >= 3 && f[2] == "cgroup2" {
			return unescapeMount(f[1]), nil
		}
	}
	return "", fmt.Errorf("no cgroup2 mount in %s", mounts)
}

// unescapeMount undoes the octal escapes (\040 for a space) of a path in
// /proc/self/mounts.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// isUUID says whether s is a UUID, 8-4-4-4-12 lowercase hex digits.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}
