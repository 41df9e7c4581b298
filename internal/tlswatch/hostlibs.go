package tlswatch

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/propwatch/propwatch/internal/tlsprobe"
)

// inspectFile is tlsprobe.InspectFile; tests replace it.
var inspectFile = tlsprobe.InspectFile

// hostRoot returns the root the host's library directories are read
// under: HostRoot, else ProcRoot/1/root when it can be read, else /.
func (w *Watcher) hostRoot() string {
	if w.cfg.HostRoot != "" {
		return w.cfg.HostRoot
	}
	r := filepath.Join(w.cfg.ProcRoot, "1", "root")
	if _, err := os.Stat(filepath.Join(r, "usr")); err == nil {
		return r
	}
	return "/"
}

// hostLib is a libssl file found in a library directory.
type hostLib struct {
	id   tlsprobe.FileID
	path string // under the host root: what attaching opens
	name string // as the host sees it: for logs
}

// hostLibs lists the libssl files of the library directories, each file
// once however many names (symlinks, /lib merged into /usr/lib) it has,
// named by its first name in dirs' order that is not a symlink.
func hostLibs(root string, dirs []string) []hostLib {
	var out []hostLib
	seen := map[tlsprobe.FileID]bool{}
	var ds []string
	for _, pat := range dirs {
		m, _ := filepath.Glob(filepath.Join(root, pat))
		ds = append(ds, m...)
	}
	for _, links := range []bool{false, true} {
		for _, d := range ds {
			ents, err := os.ReadDir(d)
			if err != nil {
				continue
			}
			for _, e := range ents {
				if !tlsprobe.IsLibSSLName(e.Name()) || (e.Type()&os.ModeSymlink != 0) != links {
					continue
				}
				p := filepath.Join(d, e.Name())
				var st unix.Stat_t
				if unix.Stat(p, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
					continue
				}
				id := tlsprobe.FileID{Dev: st.Dev, Ino: st.Ino}
				if seen[id] {
					continue
				}
				seen[id] = true
				rel, _ := filepath.Rel(root, p)
				out = append(out, hostLib{id: id, path: p, name: "/" + rel})
			}
		}
	}
	return out
}

// attachHostLibs attaches the readable OpenSSL libraries of the host's
// library directories and pins them: programs started later map them.
func (w *Watcher) attachHostLibs() {
	if len(w.cfg.LibDirs) == 0 {
		return
	}
	for _, l := range hostLibs(w.hostRoot(), w.cfg.LibDirs) {
		ins, err := inspectFile(l.path)
		if err != nil || ins.Kind != tlsprobe.KindOpenSSLLib {
			// NSS's libssl3.so, a libssl without a read function: nothing
			// runs through it that a probe could read.
			w.log.Debug("host library not attached", "path", l.name, "kind", ins.Kind.String(), "err", err)
			continue
		}
		w.mu.Lock()
		if w.closed || w.off != nil {
			w.mu.Unlock()
			return
		}
		if f := w.files[l.id]; f != nil {
			f.pinned = true
			w.mu.Unlock()
			continue
		}
		if len(w.files) >= w.cfg.MaxFiles {
			w.st.filesSkipped++
			w.mu.Unlock()
			continue
		}
		w.files[l.id] = &file{kind: ins.Kind, path: l.name, state: stateAttaching, pids: map[uint32]struct{}{}, pinned: true}
		w.mu.Unlock()
		w.attach(l.id, &tlsprobe.Target{ID: l.id, Path: l.name, OpenPath: l.path, Inspection: ins}, true)
	}
}
