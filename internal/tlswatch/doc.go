// Package tlswatch decides which TLS functions of which files carry
// propwatch's uprobes, and keeps that true while processes come and go.
//
// A [Watcher] finds TLS libraries and executables with internal/tlsprobe and
// attaches the loader's TLS programs (loader.TLSProgram) to them through an
// [Attacher], which *loader.Loader is:
//
//   - at [Watcher.Start]: the libssl files in the host's library directories,
//     kept until Close, so that a program started later (curl run after
//     propwatch) is covered from its first call: a uprobe belongs to an
//     inode and fires in every process that maps it; then every running
//     process;
//   - at each exec notice ([Procs]): the new program, scanned again a few
//     times in its first half second, while the dynamic loader maps its
//     libraries;
//   - a periodic sweep reconciles with all of procfs (forks, which make no
//     exec notice, and notices lost) and detaches the files no process has
//     mapped for a grace period.
//
// Each file (device and inode) is attached once, whatever the number of
// processes that map it. Every table is capped, with the excess counted in
// [Stats], never silently dropped: files attached, processes tracked, exec
// notices waiting for their scans, error reasons.
//
// The first attach refused for lack of privilege (EPERM, EACCES) turns TLS
// capture off: everything is detached and one line is logged saying why.
// Close detaches everything.
package tlswatch
