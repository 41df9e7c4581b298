package tlsprobe

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
)

// Kind says which TLS implementation a file carries.
type Kind uint8

// Kinds of file.
const (
	// KindNone is a file with no TLS this package can read or miss: no
	// OpenSSL functions, no crypto/tls.
	KindNone Kind = iota
	// KindOpenSSLLib is OpenSSL's libssl as a shared library.
	KindOpenSSLLib
	// KindOpenSSLExe is an executable with OpenSSL linked in, such as node.
	KindOpenSSLExe
	// KindGo is a Go binary that links crypto/tls.
	KindGo
)

var kindNames = [...]string{KindNone: "none", KindOpenSSLLib: "openssl", KindOpenSSLExe: "openssl-static", KindGo: "go"}

// String names the kind as reports and logs do.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Reason says why a TLS file cannot be read.
type Reason uint8

// Reasons a file is not readable.
const (
	// ReasonSymbols: the functions to probe are not all locatable (no
	// symbol table, no .gopclntab, or only one direction present).
	ReasonSymbols Reason = iota + 1
	// ReasonCode: a function's code could not be read or disassembled.
	ReasonCode
	// ReasonNoReturn: a Go function has no return instruction to probe.
	ReasonNoReturn
	// ReasonArch: the binary is for an architecture this package does not
	// disassemble.
	ReasonArch
)

var reasonNames = [...]string{ReasonSymbols: "symbols", ReasonCode: "code", ReasonNoReturn: "no_return", ReasonArch: "arch"}

// String names the reason as a label value.
func (r Reason) String() string {
	if int(r) < len(reasonNames) && reasonNames[r] != "" {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// NotReadableError says a file uses TLS but its plaintext cannot be read
// through uprobes: the tls.not_readable coverage gap.
type NotReadableError struct {
	// Kind is the TLS implementation the file carries.
	Kind Kind
	// Reason classifies the cause.
	Reason Reason
	// Err is the cause.
	Err error
}

// Error implements error.
func (e *NotReadableError) Error() string {
	return fmt.Sprintf("tls not readable (%s, %s): %v", e.Kind, e.Reason, e.Err)
}

// Unwrap returns the cause.
func (e *NotReadableError) Unwrap() error { return e.Err }

// Inspection is what one file offers for reading TLS.
type Inspection struct {
	// Kind is KindNone for a file without TLS.
	Kind Kind
	// OpenSSL is set for KindOpenSSLLib and KindOpenSSLExe.
	OpenSSL *OpenSSLSymbols
	// Go is set for KindGo.
	Go *GoTLS
}

// InspectFile reads the ELF file at path and says what TLS it carries and
// where to probe it. A file that carries TLS that cannot be located returns
// the kind found and a *NotReadableError; a file with no TLS returns
// KindNone and no error. Other errors (unreadable file, not ELF) are
// returned as they are.
func InspectFile(path string) (Inspection, error) {
	file, err := os.Open(path)
	if err != nil {
		return Inspection{}, err
	}
	defer file.Close()
	f, err := elf.NewFile(file)
	if err != nil {
		return Inspection{}, fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	return inspect(file, f)
}

// inspect is InspectFile on an open file.
func inspect(file *os.File, f *elf.File) (Inspection, error) {
	if v, err := goVersion(file); err == nil {
		g, err := resolveGo(f, v)
		var nr *NotReadableError
		switch {
		case errors.As(err, &nr):
			return Inspection{Kind: KindGo, Go: &GoTLS{GoVersion: v, Arch: goArch[f.Machine], Stripped: f.Section(TableSymtab) == nil}}, err
		case err != nil:
			return Inspection{}, err
		case g == nil:
			return Inspection{Kind: KindNone}, nil
		}
		return Inspection{Kind: KindGo, Go: g}, nil
	}

	s, err := resolveOpenSSL(f)
	if err != nil {
		return Inspection{}, err
	}
	if len(s.Found) == 0 {
		return Inspection{Kind: KindNone}, nil
	}
	kind := KindOpenSSLLib
	if hasInterp(f) {
		kind = KindOpenSSLExe
	}
	ins := Inspection{Kind: kind, OpenSSL: s}
	if !s.Readable() {
		return ins, &NotReadableError{Kind: kind, Reason: ReasonSymbols, Err: fmt.Errorf("missing %v", s.Missing)}
	}
	return ins, nil
}

// hasInterp reports whether f names a dynamic loader: an executable, as
// opposed to a shared library (position-independent executables are ET_DYN
// like libraries).
func hasInterp(f *elf.File) bool {
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return true
		}
	}
	return false
}
