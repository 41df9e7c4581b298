package tlsprobe

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/sys/unix"
)

// Defaults for [Config].
const (
	DefaultProcRoot = "/proc"
	// DefaultMaxFiles bounds the files a Scanner remembers. Every distinct
	// executable and libssl on a node takes one entry, TLS or not.
	DefaultMaxFiles = 4096
)

// mapsBufSize is the read buffer for /proc/PID/maps; a line longer than it
// (a path of several kilobytes) is skipped and counted.
const mapsBufSize = 16 << 10

// Config configures a [Scanner]. The zero value is usable.
type Config struct {
	// ProcRoot is where procfs is mounted; default DefaultProcRoot.
	ProcRoot string
	// MaxFiles caps the file table; default DefaultMaxFiles. The least
	// recently seen file is evicted first.
	MaxFiles int
}

// FileID identifies a file by device and inode, as stat(2) reports them
// through procfs, so that the same library in many processes and
// containers is one file.
type FileID struct {
	Dev, Ino uint64
}

// Target is a file that carries TLS, found mapped by a process. A Target
// is shared between scans and must not be modified; one that another
// process's scan found first is returned as a copy with this process's
// PID, Path and OpenPath.
type Target struct {
	// ID is the file's identity.
	ID FileID
	// Path is the file's path as the process sees it, inside its mount
	// namespace.
	Path string
	// OpenPath reaches the same file from this process: through
	// ProcRoot/PID/root, or ProcRoot/PID/map_files for a deleted file, or
	// ProcRoot/PID/exe for an executable. It is valid while PID runs; a
	// uprobe attached through it holds the inode, not the path.
	//
	// ScanPID(pid) returns targets whose PID is pid, so OpenPath is valid
	// while the scanned process runs, even when the file was first read
	// from a process that has exited since.
	OpenPath string
	// PID is the process the file was found in.
	PID int
	// Inspection says where to probe.
	Inspection
	// Err is a *NotReadableError when the file carries TLS that cannot be
	// read: a coverage gap.
	Err error
}

// Stats counts what a Scanner did since it was made.
type Stats struct {
	// Procs is the processes scanned; ProcsGone those that exited before
	// their maps could be read.
	Procs, ProcsGone uint64
	// ProcsUnreadable is the processes whose maps could not be read for
	// another reason (permission): ScanAll skips them and goes on.
	ProcsUnreadable uint64
	// MapsLines is the maps lines read; MapsLinesBad those that did not
	// parse or were too long, and were skipped.
	MapsLines, MapsLinesBad uint64
	// Inspections is the files read as ELF; InspectErrors those that could
	// not be (not ELF, unreadable); NotReadable those that carry TLS that
	// cannot be read.
	Inspections, InspectErrors, NotReadable uint64
	// Hits is the files found again in the table, not read again.
	Hits uint64
	// IdentityFromMaps is the files identified by the device and inode of
	// the maps line because neither map_files nor the root path could be
	// stat'ed.
	IdentityFromMaps uint64
	// Evictions is the files dropped from the table at its cap.
	Evictions uint64
	// Files is the table's current size.
	Files int
}

// fileEntry is one file in the table, with what it was when read.
type fileEntry struct {
	target *Target
	size   int64
	mtime  unix.Timespec
}

// Scanner finds TLS targets in processes through procfs, reading each file
// once. It is safe for concurrent use.
type Scanner struct {
	root string

	mu    sync.Mutex
	files *simplelru.LRU[FileID, *fileEntry]
	stats Stats
	rd    *bufio.Reader
	seen  []FileID // per scan: maps identities already handled
}

// NewScanner returns a Scanner for cfg.
func NewScanner(cfg Config) *Scanner {
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = DefaultProcRoot
	}
	if cfg.MaxFiles <= 0 {
		cfg.MaxFiles = DefaultMaxFiles
	}
	s := &Scanner{root: cfg.ProcRoot, rd: bufio.NewReaderSize(nil, mapsBufSize)}
	s.files, _ = simplelru.NewLRU(cfg.MaxFiles, func(FileID, *fileEntry) { s.stats.Evictions++ })
	return s
}

// Stats returns the counters so far.
func (s *Scanner) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Files = s.files.Len()
	return st
}

// ErrProcessGone is wrapped when a process exited before it was scanned.
var ErrProcessGone = errors.New("process gone")

// ScanPID returns the TLS targets of process pid: the libssl files it maps
// and its executable when that carries OpenSSL or crypto/tls, including
// those that are not readable (Target.Err set). Files already in the table
// are not read again.
func (s *Scanner) ScanPID(pid int) ([]*Target, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scanPID(pid, nil)
}

// ScanAll scans every process under ProcRoot and returns each TLS target
// once. Processes that exit during the scan, or whose maps cannot be read
// (counted in Stats.ProcsUnreadable), are skipped: one process does not
// hide the others'.
func (s *Scanner) ScanAll() ([]*Target, error) {
	var out []*Target
	have := map[FileID]bool{}
	err := s.ScanEach(func(_ int, ts []*Target) {
		for _, t := range ts {
			if !have[t.ID] {
				have[t.ID] = true
				out = append(out, t)
			}
		}
	})
	return out, err
}

// ScanEach scans every process under ProcRoot, as ScanAll does, and calls
// fn with each process's targets (when it has any) right after its scan,
// while their OpenPath is most likely still valid. Unlike ScanAll it says
// which processes map each file. fn runs without the Scanner's lock held
// and may call ScanPID.
func (s *Scanner) ScanEach(fn func(pid int, targets []*Target)) error {
	ents, err := os.ReadDir(s.root)
	if err != nil {
		return err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		s.mu.Lock()
		ts, err := s.scanPID(pid, nil)
		if err != nil && !errors.Is(err, ErrProcessGone) {
			s.stats.ProcsUnreadable++
		}
		s.mu.Unlock()
		if err == nil && len(ts) > 0 {
			fn(pid, ts)
		}
	}
	return nil
}

// scanPID appends pid's targets to out. s.mu is held.
func (s *Scanner) scanPID(pid int, out []*Target) ([]*Target, error) {
	dir := filepath.Join(s.root, strconv.Itoa(pid))
	f, err := os.Open(filepath.Join(dir, "maps"))
	if err != nil {
		if gone(err) {
			s.stats.ProcsGone++
			return out, fmt.Errorf("pid %d: %w", pid, ErrProcessGone)
		}
		return out, err
	}
	defer f.Close()
	s.stats.Procs++
	s.seen = s.seen[:0]
	s.rd.Reset(f)
	for {
		line, err := s.rd.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			s.stats.MapsLinesBad++
			if err = s.skipLine(); err != nil {
				break
			}
			continue
		}
		if len(line) > 0 {
			s.stats.MapsLines++
			if t := s.mapsLine(pid, dir, bytes.TrimSuffix(line, []byte{'\n'})); t != nil {
				out = append(out, t)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if gone(err) {
				s.stats.ProcsGone++
				return out, fmt.Errorf("pid %d: %w", pid, ErrProcessGone)
			}
			return out, err
		}
	}
	if t := s.exe(pid, dir); t != nil {
		out = append(out, t)
	}
	return out, nil
}

// skipLine discards the rest of a line too long for the buffer.
func (s *Scanner) skipLine() error {
	for {
		_, err := s.rd.ReadSlice('\n')
		if !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
}

// libSSLMarker is searched for before a line is parsed, so that the lines
// of other files cost a byte search.
var libSSLMarker = []byte(libSSLPrefix)

// mapsLine handles one maps line and returns a target if the line maps a
// libssl that carries TLS and was not handled earlier in this scan.
func (s *Scanner) mapsLine(pid int, dir string, line []byte) *Target {
	if !bytes.Contains(line, libSSLMarker) {
		return nil
	}
	m, p, err := parseMapsLine(line)
	if err != nil {
		s.stats.MapsLinesBad++
		return nil
	}
	if m.Inode == 0 || !mapsPathIsLibSSL(p) {
		return nil
	}
	mapsID := FileID{Dev: unix.Mkdev(m.DevMajor, m.DevMinor), Ino: m.Inode}
	for _, id := range s.seen {
		if id == mapsID {
			return nil
		}
	}
	s.seen = append(s.seen, mapsID)

	m.Path, m.Deleted = splitDeleted(string(p))
	mapFile := filepath.Join(dir, "map_files", strconv.FormatUint(m.Start, 16)+"-"+strconv.FormatUint(m.End, 16))
	rootPath := filepath.Join(dir, "root", m.Path)
	var st unix.Stat_t
	openPath := ""
	switch {
	case !m.Deleted && unix.Stat(rootPath, &st) == nil:
		openPath = rootPath
	case unix.Stat(mapFile, &st) == nil:
		openPath = mapFile
	default:
		s.stats.IdentityFromMaps++
		st = unix.Stat_t{Dev: mapsID.Dev, Ino: mapsID.Ino}
		openPath = rootPath
	}
	return s.target(FileID{Dev: st.Dev, Ino: st.Ino}, &st, m.Path, openPath, pid)
}

// exe returns the target of pid's executable, if it carries TLS.
func (s *Scanner) exe(pid int, dir string) *Target {
	exe := filepath.Join(dir, "exe")
	var st unix.Stat_t
	if unix.Stat(exe, &st) != nil {
		return nil // kernel thread, or gone
	}
	p, _ := os.Readlink(exe)
	p, _ = splitDeleted(p)
	return s.target(FileID{Dev: st.Dev, Ino: st.Ino}, &st, p, exe, pid)
}

// target looks id up in the table, inspecting the file if it is new or has
// changed, and returns it if it carries TLS.
func (s *Scanner) target(id FileID, st *unix.Stat_t, path, openPath string, pid int) *Target {
	if e, ok := s.files.Get(id); ok && e.size == st.Size && e.mtime == st.Mtim {
		s.stats.Hits++
		t := e.target
		if t.Kind == KindNone || t.PID == pid && t.OpenPath == openPath && t.Path == path {
			return tlsOnly(t)
		}
		// Found first in another process, which may have exited: this
		// process's way to the file.
		c := *t
		c.PID, c.Path, c.OpenPath = pid, path, openPath
		return &c
	}
	s.stats.Inspections++
	ins, err := InspectFile(openPath)
	var nr *NotReadableError
	switch {
	case errors.As(err, &nr):
		s.stats.NotReadable++
	case err != nil:
		s.stats.InspectErrors++
		if gone(err) {
			return nil // the process left; the next one to map the file reads it
		}
	}
	t := &Target{ID: id, Path: path, OpenPath: openPath, PID: pid, Inspection: ins, Err: err}
	s.files.Add(id, &fileEntry{target: t, size: st.Size, mtime: st.Mtim})
	return tlsOnly(t)
}

// tlsOnly returns t if it carries TLS, readable or not.
func tlsOnly(t *Target) *Target {
	if t.Kind == KindNone {
		return nil
	}
	return t
}

// gone reports whether err means the process or file went away.
func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH)
}
