package loader

import "errors"

// TLSProgram names one of the capture's uprobe programs, which read the
// plaintext a program hands its TLS library (bpf/tls.h). Which function
// of which file each goes on is internal/tlswatch's choice; the loader only
// attaches them (Loader.AttachUprobe).
type TLSProgram string

// The uprobe programs. The OpenSSL ones go on the functions of the same
// name in libssl, or in an executable that links OpenSSL in (node); the Go
// ones on crypto/tls.(*Conn).Write and Read.
const (
	// SSLSetFD goes on SSL_set_fd (and SSL_set_rfd, SSL_set_wfd): it ties
	// the SSL* to its socket.
	SSLSetFD TLSProgram = "pw_ssl_set_fd"
	// SSLFree goes on SSL_free: it forgets the SSL*, whose address the
	// allocator hands to the next connection.
	SSLFree TLSProgram = "pw_ssl_free"
	// SSLWrite and SSLWriteEx go on the entry of SSL_write and
	// SSL_write_ex; SSLWriteRet on the return of both (a uretprobe).
	SSLWrite    TLSProgram = "pw_ssl_write"
	SSLWriteEx  TLSProgram = "pw_ssl_write_ex"
	SSLWriteRet TLSProgram = "pw_ssl_write_ret"
	// SSLRead and SSLReadEx go on the entry of SSL_read and SSL_read_ex;
	// SSLReadRet on the return of both (a uretprobe), where the plaintext
	// is read.
	SSLRead    TLSProgram = "pw_ssl_read"
	SSLReadEx  TLSProgram = "pw_ssl_read_ex"
	SSLReadRet TLSProgram = "pw_ssl_read_ret"
	// GoTLSWrite goes on the entry of crypto/tls.(*Conn).Write, GoTLSRead
	// on the entry of (*Conn).Read, and GoTLSReadRet on each RET
	// instruction of (*Conn).Read: a plain uprobe, never a uretprobe,
	// which breaks when Go moves the goroutine's stack.
	GoTLSWrite   TLSProgram = "pw_go_tls_write"
	GoTLSRead    TLSProgram = "pw_go_tls_read"
	GoTLSReadRet TLSProgram = "pw_go_tls_read_ret"
)

// TLSPrograms lists every TLSProgram.
var TLSPrograms = []TLSProgram{SSLSetFD, SSLFree, SSLWrite, SSLWriteEx, SSLWriteRet,
	SSLRead, SSLReadEx, SSLReadRet, GoTLSWrite, GoTLSRead, GoTLSReadRet}

// Return reports whether p goes on a function's return (a uretprobe).
func (p TLSProgram) Return() bool { return p == SSLWriteRet || p == SSLReadRet }

// ErrTLSOff is Loader.TLS's answer when Config.TLS was false.
var ErrTLSOff = errors.New("TLS capture is off (Config.TLS is false)")

// ProcEvent is a process the kernel saw start a program (exec) or end
// (the exit of its last thread), for internal/tlswatch to find the TLS
// libraries a new program maps and to let go of those no process maps.
type ProcEvent struct {
	// TGID is the process id.
	TGID uint32
	// Exec is true for an exec, false for an exit.
	Exec bool
}
