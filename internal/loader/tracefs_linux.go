//go:build linux && (amd64 || arm64)

package loader

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// tracefsDefault is where tracefs is mounted when nothing has mounted it.
const tracefsDefault = "/sys/kernel/tracing"

// ensureTracefs returns where tracefs is mounted, mounting it at
// /sys/kernel/tracing first if it is not mounted anywhere. Attaching to a
// tracepoint needs its event id, which only tracefs shows, and many hosts
// and containers boot without it.
//
// It must run before the first link.Tracepoint of the process: cilium/ebpf
// looks for tracefs once and remembers the answer.
func ensureTracefs() (string, error) {
	if p := findTracefs(); p != "" {
		return p, nil
	}
	err := unix.Mount("tracefs", tracefsDefault, "tracefs", 0, "")
	if err == nil || (errors.Is(err, unix.EBUSY) && findTracefs() != "") {
		return tracefsDefault, nil
	}
	return "", fmt.Errorf("tracefs is not mounted and mounting it at %s failed: %w; "+
		"run `mount -t tracefs tracefs %s` as root (in a container: mount the host's %s into it), then start propwatch again",
		tracefsDefault, needsCaps(err, "CAP_SYS_ADMIN (or root)"), tracefsDefault, tracefsDefault)
}

// findTracefs returns a tracefs mount point, or "" when there is none. It
// looks where cilium/ebpf looks: a tracefs in this mount namespace, then
// tracing/ under a debugfs mount (older systems).
func findTracefs() string {
	for _, m := range []struct {
		path  string
		magic int64
	}{
		{tracefsDefault, unix.TRACEFS_MAGIC},
		{"/sys/kernel/debug/tracing", unix.TRACEFS_MAGIC},
		{"/sys/kernel/debug/tracing", unix.DEBUGFS_MAGIC},
	} {
		var st unix.Statfs_t
		if unix.Statfs(m.path, &st) == nil && int64(st.Type) == m.magic {
			return m.path
		}
	}
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	return tracefsInMountinfo(info)
}

// tracefsInMountinfo returns the first tracefs mount point of a
// /proc/self/mountinfo that mounts the root of the filesystem.
func tracefsInMountinfo(info []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(info))
	for sc.Scan() {
		// 36 35 0:12 / /sys/kernel/tracing rw,... shared:7 - tracefs tracefs rw
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) >= 5 && len(g) >= 1 && g[0] == "tracefs" && f[3] == "/" {
			return unescapeMountinfo(f[4])
		}
	}
	return ""
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) of
// mountinfo paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
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

// checkSyscallFormat checks that the syscall tracepoints exist and have the
// record layout the capture program reads (struct sys_enter_ctx and
// sys_exit_ctx in bpf/headers.c): arguments, and the return value, as
// 8-byte words from offset 16.
func checkSyscallFormat(tracefs string) error {
	want := map[string]map[string]int{
		"sys_enter_write": {"fd": 16, "buf": 24, "count": 32},
		"sys_exit_write":  {"ret": 16},
	}
	for event, fields := range want {
		path := filepath.Join(tracefs, "events", "syscalls", event, "format")
		format, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("tracepoint syscalls/%s does not exist (%s): the kernel needs CONFIG_FTRACE_SYSCALLS", event, path)
		}
		if err != nil {
			return fmt.Errorf("read tracepoint format: %w", needsCaps(err, "CAP_SYS_ADMIN (or root)"))
		}
		got := fieldOffsets(format)
		for name, off := range fields {
			if o, ok := got[name]; !ok || o != off {
				return fmt.Errorf("tracepoint syscalls/%s: field %s is not an 8-byte word at offset %d (%s); this kernel's syscall tracepoints have a layout propwatch does not know", event, name, off, path)
			}
		}
	}
	return nil
}

// fieldOffsets reads the offsets of the 8-byte fields of a tracepoint
// format file: "field:const char * buf;	offset:24;	size:8;	signed:0;".
func fieldOffsets(format []byte) map[string]int {
	out := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(format))
	for sc.Scan() {
		var decl, off, size string
		for part := range strings.SplitSeq(strings.TrimSpace(sc.Text()), ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), ":")
			switch k {
			case "field":
				decl = v
			case "offset":
				off = v
			case "size":
				size = v
			}
		}
		fields := strings.Fields(decl)
		if len(fields) == 0 || size != "8" {
			continue
		}
		if n, err := strconv.Atoi(off); err == nil {
			out[strings.TrimLeft(fields[len(fields)-1], "*")] = n
		}
	}
	return out
}
