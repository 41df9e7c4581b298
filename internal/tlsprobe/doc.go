// Package tlsprobe finds the places where TLS plaintext can be read with
// uprobes, and says where it cannot.
//
// It knows three kinds of target:
//
//   - OpenSSL as a shared library: every file named libssl.so.* (OpenSSL 1.1
//     and 3.x) that a process has mapped, found in /proc/PID/maps;
//   - OpenSSL linked into an executable, as Node.js does with node: the
//     executable's own .dynsym or .symtab defines SSL_write;
//   - Go programs that use crypto/tls: (*Conn).Write and (*Conn).Read found in
//     .symtab, or in .gopclntab when the binary is stripped, with the offset of
//     every RET instruction in each, because a uretprobe on a Go stack corrupts
//     it when the runtime moves the stack.
//
// Files are identified by device and inode, read through
// /proc/PID/map_files or /proc/PID/root so that paths inside containers
// resolve, and each file is read once however many processes map it. A
// [Scanner] keeps what it learned in a table with a cap and an eviction rule;
// both are counted in [Stats].
//
// Every offset this package returns is a file offset, which is what the
// kernel's uprobe interface and cilium/ebpf's link.UprobeOptions.Address take.
// A file that uses TLS but whose functions cannot be located is a
// [NotReadableError]: a coverage gap to report, not a failure.
//
// Nothing here needs privileges beyond reading /proc and the files; attaching
// the probes is the loader's job.
package tlsprobe
