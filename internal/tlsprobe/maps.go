package tlsprobe

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Perms are the permission bits of one mapping in /proc/PID/maps.
type Perms uint8

// Permission bits, in the order the kernel prints them ("rwxp" or "rwxs").
const (
	PermRead Perms = 1 << iota
	PermWrite
	PermExec
	PermShared
)

// deletedSuffix is what the kernel appends to the path of a mapped file that
// has been unlinked (fs/d_path.c, d_path()).
const deletedSuffix = " (deleted)"

// Mapping is one line of /proc/PID/maps.
type Mapping struct {
	// Start and End are the virtual addresses of the mapping, End exclusive.
	Start, End uint64
	// Perms are the mapping's permissions.
	Perms Perms
	// Offset is the file offset the mapping starts at.
	Offset uint64
	// DevMajor and DevMinor name the device of the mapped file, as the kernel
	// sees it (the superblock's device, not necessarily stat's st_dev on
	// overlay filesystems).
	DevMajor, DevMinor uint32
	// Inode is the inode of the mapped file, 0 for anonymous mappings.
	Inode uint64
	// Path is the mapped file as the process sees it, or a pseudo-path such as
	// [heap], or empty. A deleted file's " (deleted)" suffix is removed and
	// Deleted is set.
	Path string
	// Deleted says the mapped file has been unlinked.
	Deleted bool
}

// ErrMapsLine is wrapped by every error [ParseMapsLine] returns.
var ErrMapsLine = errors.New("malformed /proc/PID/maps line")

// ParseMapsLine parses one line of /proc/PID/maps, without its newline:
//
//	7f2c5e400000-7f2c5e46b000 r-xp 00020000 08:01 1234567     /usr/lib/x86_64-linux-gnu/libssl.so.3
//
// The format is show_map_vma() in the kernel's fs/proc/task_mmu.c.
func ParseMapsLine(line []byte) (Mapping, error) {
	m, p, err := parseMapsLine(line)
	if err != nil {
		return Mapping{}, err
	}
	m.Path, m.Deleted = splitDeleted(string(p))
	return m, nil
}

// splitDeleted removes the kernel's " (deleted)" suffix from a path.
func splitDeleted(p string) (string, bool) {
	if q, ok := strings.CutSuffix(p, deletedSuffix); ok {
		return q, true
	}
	return p, false
}

// parseMapsLine parses a line and returns its path without copying it, so a
// scan that skips most lines does not allocate for them.
func parseMapsLine(line []byte) (Mapping, []byte, error) {
	var m Mapping
	rest := line
	field := func() []byte {
		i := bytes.IndexByte(rest, ' ')
		if i < 0 {
			f := rest
			rest = nil
			return f
		}
		f := rest[:i]
		rest = rest[i+1:]
		return f
	}
	addrs, perms, off, dev, ino := field(), field(), field(), field(), field()

	lo, hi, ok := bytes.Cut(addrs, []byte{'-'})
	if !ok {
		return m, nil, fmt.Errorf("%w: address range %q", ErrMapsLine, addrs)
	}
	var err error
	if m.Start, err = parseHex(lo, 64); err != nil {
		return m, nil, err
	}
	if m.End, err = parseHex(hi, 64); err != nil {
		return m, nil, err
	}
	if m.End < m.Start {
		return m, nil, fmt.Errorf("%w: range ends before it starts", ErrMapsLine)
	}
	if m.Perms, err = parsePerms(perms); err != nil {
		return m, nil, err
	}
	if m.Offset, err = parseHex(off, 64); err != nil {
		return m, nil, err
	}
	major, minor, ok := bytes.Cut(dev, []byte{':'})
	if !ok {
		return m, nil, fmt.Errorf("%w: device %q", ErrMapsLine, dev)
	}
	maj, err := parseHex(major, 32)
	if err != nil {
		return m, nil, err
	}
	mnr, err := parseHex(minor, 32)
	if err != nil {
		return m, nil, err
	}
	m.DevMajor, m.DevMinor = uint32(maj), uint32(mnr)
	if len(ino) == 0 {
		return m, nil, fmt.Errorf("%w: no inode", ErrMapsLine)
	}
	if m.Inode, err = strconv.ParseUint(string(ino), 10, 64); err != nil {
		return m, nil, fmt.Errorf("%w: inode %q", ErrMapsLine, ino)
	}
	// The kernel pads with spaces to a column before the path.
	return m, bytes.TrimLeft(rest, " "), nil
}

// parseHex parses an unsigned hexadecimal field of at most bits bits.
func parseHex(b []byte, bits int) (uint64, error) {
	if len(b) == 0 || len(b) > bits/4 {
		return 0, fmt.Errorf("%w: hex field %q", ErrMapsLine, b)
	}
	var v uint64
	for _, c := range b {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, fmt.Errorf("%w: hex field %q", ErrMapsLine, b)
		}
		v = v<<4 | uint64(d)
	}
	return v, nil
}

// permsLen is the width of the permissions field: r, w, x, then p or s.
const permsLen = 4

// parsePerms parses the "r-xp" field.
func parsePerms(b []byte) (Perms, error) {
	if len(b) != permsLen {
		return 0, fmt.Errorf("%w: permissions %q", ErrMapsLine, b)
	}
	var p Perms
	for i, want := range [...]struct {
		set  byte
		perm Perms
	}{{'r', PermRead}, {'w', PermWrite}, {'x', PermExec}, {'s', PermShared}} {
		switch b[i] {
		case want.set:
			p |= want.perm
		case '-':
		case 'p':
			if i != permsLen-1 {
				return 0, fmt.Errorf("%w: permissions %q", ErrMapsLine, b)
			}
		default:
			return 0, fmt.Errorf("%w: permissions %q", ErrMapsLine, b)
		}
	}
	return p, nil
}

// String formats p as the kernel does.
func (p Perms) String() string {
	b := []byte("---p")
	if p&PermRead != 0 {
		b[0] = 'r'
	}
	if p&PermWrite != 0 {
		b[1] = 'w'
	}
	if p&PermExec != 0 {
		b[2] = 'x'
	}
	if p&PermShared != 0 {
		b[3] = 's'
	}
	return string(b)
}

// String formats m as a /proc/PID/maps line (without the kernel's padding).
func (m Mapping) String() string {
	p := m.Path
	if m.Deleted {
		p += deletedSuffix
	}
	return fmt.Sprintf("%x-%x %s %08x %02x:%02x %d %s",
		m.Start, m.End, m.Perms, m.Offset, m.DevMajor, m.DevMinor, m.Inode, p)
}

// IsLibSSLName reports whether the base name of p is one OpenSSL's libssl is
// installed under: libssl.so, libssl.so.<version> (1.1, 3, ...) and the
// libssl-<hash>.so.<version> that Python wheels bundle. NSS's libssl3.so is
// not one; the symbols, not the name, decide in the end.
func IsLibSSLName(p string) bool {
	return isLibSSLBase(path.Base(p))
}

// libSSLPrefix starts every name IsLibSSLName accepts.
const libSSLPrefix = "libssl"

func isLibSSLBase(base string) bool {
	rest, ok := strings.CutPrefix(base, libSSLPrefix)
	if !ok {
		return false
	}
	switch {
	case rest == ".so", strings.HasPrefix(rest, ".so."):
		return true
	case strings.HasPrefix(rest, "-"):
		return strings.Contains(rest, ".so")
	}
	return false
}

// mapsPathIsLibSSL is IsLibSSLName on a path still in the maps buffer.
func mapsPathIsLibSSL(p []byte) bool {
	i := bytes.LastIndexByte(p, '/')
	base := p[i+1:]
	if !bytes.HasPrefix(base, []byte(libSSLPrefix)) {
		return false
	}
	b, _ := splitDeleted(string(base))
	return isLibSSLBase(b)
}
