package hint

import (
	"debug/buildinfo"
	"debug/elf"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Runtime is what runs a process's code, as far as its fix for a broken
// chain goes.
type Runtime uint8

// Runtimes, in the order the report's strings are declared. Mixed is not
// identified from an executable: it is what a service whose processes run
// different runtimes reports.
const (
	Unknown Runtime = iota
	Go
	Node
	JVM
	Python
	Mixed
)

var runtimeNames = [...]string{Unknown: "unknown", Go: "go", Node: "node", JVM: "jvm", Python: "python", Mixed: "mixed"}

// String returns the runtime's name as reports print it.
func (r Runtime) String() string {
	if int(r) < len(runtimeNames) {
		return runtimeNames[r]
	}
	return runtimeNames[Unknown]
}

// ParseRuntime is the inverse of String; a name it does not know is
// Unknown.
func ParseRuntime(s string) Runtime {
	for i, n := range runtimeNames {
		if n == s {
			return Runtime(i)
		}
	}
	return Unknown
}

// Join is the runtime of a service run by processes of runtimes r and o:
// an unknown one says nothing, two different ones are Mixed.
func (r Runtime) Join(o Runtime) Runtime {
	switch {
	case r == Unknown || r == o:
		return o
	case o == Unknown:
		return r
	}
	return Mixed
}

// Identifier tells the runtime of a process from its executable. The
// answer is cached per executable file (device, inode, size and
// modification time), so a host's thousand processes of one binary read
// it once; the cache is bounded and forgets the least recently used
// executable first. Paths are read to decide and never kept or returned:
// an executable's path can name a person (a home directory).
//
// It is safe for concurrent use.
type Identifier struct {
	root string

	mu    sync.Mutex
	cache *simplelru.LRU[exeKey, Runtime]
	reads int // executables read: what the cache saved is tested
}

// exeKey identifies the content of an executable file without its path.
type exeKey struct {
	dev, ino    uint64
	size, mtime int64
}

// NewIdentifier returns an Identifier that looks processes up under
// procRoot ("/proc" when empty) and remembers at most max executables
// (256 when max <= 0).
func NewIdentifier(procRoot string, max int) *Identifier {
	if procRoot == "" {
		procRoot = "/proc"
	}
	if max <= 0 {
		max = 256
	}
	cache, _ := simplelru.NewLRU[exeKey, Runtime](max, nil) // errors only on size <= 0
	return &Identifier{root: procRoot, cache: cache}
}

// Process returns the runtime of process pid, Unknown when it is gone, its
// executable cannot be read, or it is none of those propwatch knows.
//
// /proc/PID/exe is opened as a link the kernel resolves itself, so it
// reaches the executable of a process in another mount namespace (a
// container) and one deleted since it started.
func (id *Identifier) Process(pid uint32) Runtime {
	exe := id.root + "/" + strconv.FormatUint(uint64(pid), 10) + "/exe"
	fi, err := os.Stat(exe)
	if err != nil {
		return Unknown
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Unknown
	}
	k := exeKey{dev: uint64(st.Dev), ino: st.Ino, size: st.Size, mtime: fi.ModTime().UnixNano()}
	id.mu.Lock()
	defer id.mu.Unlock()
	if rt, ok := id.cache.Get(k); ok {
		return rt
	}
	// The name is the link's target's last element: a program's name, not
	// the directories that may say whose it is. It is not kept.
	name := ""
	if target, err := os.Readlink(exe); err == nil {
		name = filepath.Base(strings.TrimSuffix(target, " (deleted)"))
	}
	rt := Unknown
	if f, err := os.Open(exe); err == nil {
		rt = identify(f, name)
		f.Close()
	} else {
		rt = byName(name)
	}
	id.reads++
	id.cache.Add(k, rt)
	return rt
}

// Len is the number of executables remembered.
func (id *Identifier) Len() int {
	id.mu.Lock()
	defer id.mu.Unlock()
	return id.cache.Len()
}

// maxDynstr bounds the dynamic string table read to list the shared
// libraries an executable needs. A launcher's is a few kilobytes; one far
// larger belongs to a program that exports its symbols (the official
// Node.js build's is 5 MB, and it is known by name first), or to a file
// made to make propwatch read.
const maxDynstr = 1 << 20

// identify tells the runtime of the executable f, whose file name is name.
// A Go binary is told by its build info, which the Go linker writes in
// every binary (stripped ones included), whatever its name; the others by
// name, and else by the shared libraries they need (a JVM launcher needs
// libjli or libjvm, a CPython built shared libpython, Debian's Node.js
// libnode), because a launcher may be renamed but the official Node.js and
// CPython builds are static. What is read is the ELF headers, the build
// info and a small dynamic string table: symbol tables never.
func identify(f *os.File, name string) Runtime {
	ef, err := elf.NewFile(f)
	if err != nil {
		return byName(name)
	}
	if ef.Section(".go.buildinfo") != nil {
		if _, err := buildinfo.Read(f); err == nil {
			return Go
		}
	}
	if rt := byName(name); rt != Unknown {
		return rt
	}
	if s := ef.Section(".dynstr"); s == nil || s.Size > maxDynstr {
		return Unknown
	}
	libs, err := ef.ImportedLibraries()
	if err != nil {
		return Unknown
	}
	for _, lib := range libs {
		if rt := byLibrary(lib); rt != Unknown {
			return rt
		}
	}
	return Unknown
}

// byLibrary tells a runtime from a shared library its executable needs.
func byLibrary(lib string) Runtime {
	switch {
	case strings.HasPrefix(lib, "libjli.so"), strings.HasPrefix(lib, "libjvm.so"):
		return JVM
	case strings.HasPrefix(lib, "libpython"):
		return Python
	case strings.HasPrefix(lib, "libnode.so"):
		return Node
	}
	return Unknown
}

// byName tells a runtime from an executable's file name: node, nodejs,
// java, and python with an optional version (python3, python3.12).
func byName(name string) Runtime {
	switch {
	case name == "node" || name == "nodejs":
		return Node
	case name == "java":
		return JVM
	case strings.HasPrefix(name, "python") && versionSuffix(name[len("python"):]):
		return Python
	}
	return Unknown
}

// versionSuffix reports whether s is empty or a version: digits and dots.
func versionSuffix(s string) bool {
	return strings.Trim(s, "0123456789.") == ""
}
