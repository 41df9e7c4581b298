package tlswatch

import (
	"errors"
	"io"
	"path/filepath"
	"strconv"

	"github.com/propwatch/propwatch/internal/loader"
	"github.com/propwatch/propwatch/internal/tlsprobe"
)

// Attaching: which probes go on a file, and putting them on.

// closeAll closes every link and returns the first error.
func closeAll(links []io.Closer) error {
	var first error
	for _, l := range links {
		if err := l.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// probe is one program at one offset.
type probe struct {
	prog loader.TLSProgram
	off  uint64
}

// openSSLProbes maps each OpenSSL function to the programs that go on it,
// in the order they are attached.
var openSSLProbes = []struct {
	fn    string
	progs []loader.TLSProgram
}{
	{tlsprobe.SymSSLSetFD, []loader.TLSProgram{loader.SSLSetFD}},
	{tlsprobe.SymSSLSetRFD, []loader.TLSProgram{loader.SSLSetFD}},
	{tlsprobe.SymSSLSetWFD, []loader.TLSProgram{loader.SSLSetFD}},
	{tlsprobe.SymSSLFree, []loader.TLSProgram{loader.SSLFree}},
	{tlsprobe.SymSSLWrite, []loader.TLSProgram{loader.SSLWriteRet, loader.SSLWrite}},
	{tlsprobe.SymSSLWriteEx, []loader.TLSProgram{loader.SSLWriteRet, loader.SSLWriteEx}},
	{tlsprobe.SymSSLRead, []loader.TLSProgram{loader.SSLReadRet, loader.SSLRead}},
	{tlsprobe.SymSSLReadEx, []loader.TLSProgram{loader.SSLReadRet, loader.SSLReadEx}},
}

// probes lists the programs and offsets for a readable target: the
// OpenSSL functions it defines (the _ex variants, SSL_set_*fd and SSL_free
// are optional), or Go's Write at entry and Read at entry and at each RET.
func probes(in tlsprobe.Inspection) []probe {
	var out []probe
	switch {
	case in.OpenSSL != nil:
		for _, p := range openSSLProbes {
			s, ok := in.OpenSSL.Found[p.fn]
			if !ok {
				continue
			}
			for _, prog := range p.progs {
				out = append(out, probe{prog, s.Offset})
			}
		}
	case in.Go != nil:
		if fn, ok := in.Go.Funcs[tlsprobe.GoConnWrite]; ok {
			out = append(out, probe{loader.GoTLSWrite, fn.Body})
		}
		if fn, ok := in.Go.Funcs[tlsprobe.GoConnRead]; ok {
			for _, r := range fn.Returns {
				out = append(out, probe{loader.GoTLSReadRet, r})
			}
			out = append(out, probe{loader.GoTLSRead, fn.Body})
		}
	}
	return out
}

// attach attaches every probe of t, whose file entry apply or the host
// library pass made in stateAttaching. All or nothing: a file is never
// half attached (an entry probe without its return would keep state that
// nothing takes).
func (w *Watcher) attach(id tlsprobe.FileID, t *tlsprobe.Target, pinned bool) {
	ps := probes(t.Inspection)
	var links []io.Closer
	var err error
	for _, p := range ps {
		var l io.Closer
		l, err = w.att.AttachUprobe(t.OpenPath, p.off, p.prog)
		if err != nil {
			err = &AttachError{Kind: t.Kind, Prog: p.prog, Offset: p.off, Path: t.OpenPath, Err: err}
			break
		}
		links = append(links, l)
	}
	if err == nil && len(ps) == 0 {
		err = &AttachError{Kind: t.Kind, Path: t.OpenPath, Err: errNoProbes}
	}

	w.mu.Lock()
	f := w.files[id]
	switch {
	case w.closed || w.off != nil || f == nil:
		// Closed or turned off meanwhile.
		w.mu.Unlock()
		closeAll(links)
		return
	case err == nil:
		f.links, f.state, f.pinned = links, stateAttached, f.pinned || pinned
		w.st.uprobes += len(links)
		w.st.attached++
		w.mu.Unlock()
		// The file by its identity: a path names a user's directories
		// and programs, which stay out of the log but at debug level.
		w.log.Info("TLS file attached", "kind", t.Kind.String(), "file", fileKey(id), "uprobes", len(links), "host_library", pinned)
		w.log.Debug("TLS file path", "file", fileKey(id), "path", t.Path)
		return
	}
	closeAll(links)
	reason := classify(err)
	switch {
	case reason == reasonPermission:
		why := permissionAdvice(err)
		w.off = why
		links := w.dropAllLocked()
		w.mu.Unlock()
		closeAll(links)
		w.exec.close()
		w.log.Warn("TLS capture off: " + why.Error())
		return
	case reason == reasonGone:
		// The process left between its scan and the attach: the next
		// process that maps the file attaches it.
		delete(w.files, id)
		w.st.attachGone++
		w.mu.Unlock()
		return
	}
	f.state = stateFailed
	first := w.errs.add(reason)
	w.mu.Unlock()
	if first {
		// The path is a binary's, but it can be a user's file in a
		// container: only at debug.
		ae, _ := err.(*AttachError)
		w.log.Warn("TLS attach failed; counted by reason, logged once per reason",
			"reason", reason, "kind", t.Kind.String(), "program", string(ae.Prog), "err", errors.Unwrap(err))
	}
	w.log.Debug("TLS attach failed", "reason", reason, "path", t.Path, "open_path", filepath.Clean(t.OpenPath), "err", err)
}

// fileKey names a file in the log by its device and inode, as
// "DEV:INO" (stat(2)'s st_dev and st_ino, in decimal).
func fileKey(id tlsprobe.FileID) string {
	return strconv.FormatUint(id.Dev, 10) + ":" + strconv.FormatUint(id.Ino, 10)
}
