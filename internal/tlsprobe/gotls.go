package tlsprobe

import (
	"debug/buildinfo"
	"debug/elf"
	"debug/gosym"
	"errors"
	"fmt"
	"io"
)

// Go functions the uprobe step attaches to.
const (
	GoConnWrite = "crypto/tls.(*Conn).Write"
	GoConnRead  = "crypto/tls.(*Conn).Read"
)

// GoTLSFuncs lists the Go functions [ResolveGo] looks for.
var GoTLSFuncs = []string{GoConnWrite, GoConnRead}

// GoFunc is a Go function located in a binary, with its returns.
type GoFunc struct {
	Symbol
	// Returns are the file offsets of every return instruction in the
	// function, where the uprobe step attaches the probes that stand in for
	// a uretprobe. Never empty for a function ResolveGo returns.
	Returns []uint64
	// Body is the file offset of the first instruction after the
	// function's stack check, where its entry probe goes: a probe on the
	// first instruction fires twice when the call grows the goroutine's
	// stack (runtime.morestack returns to the function's start). Offset
	// when the function has no stack check.
	Body uint64
}

// GoTLS is what a Go binary offers for reading crypto/tls.
type GoTLS struct {
	// GoVersion is the toolchain that built the binary, as "go1.26.8".
	GoVersion string
	// Arch is GOARCH: "amd64" or "arm64".
	Arch string
	// Stripped says the binary has no .symtab; functions then come from
	// .gopclntab.
	Stripped bool
	// Funcs maps GoConnWrite and GoConnRead to where they are. A binary that
	// never calls one of them has it dead-code eliminated, so it is missing.
	Funcs map[string]GoFunc
}

// errNotGo is returned by resolveGo for a file without Go build information.
var errNotGo = errors.New("not a Go binary")

// goArch names the architectures returns understands.
var goArch = map[elf.Machine]string{elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64"}

// goVersion reads the Go version from the binary's build information, or
// returns errNotGo.
func goVersion(r io.ReaderAt) (string, error) {
	bi, err := buildinfo.Read(r)
	if err != nil {
		return "", errNotGo
	}
	return bi.GoVersion, nil
}

// resolveGo locates crypto/tls in an open Go binary. It returns
// (nil, nil) when the binary does not contain crypto/tls's Conn functions,
// and a *NotReadableError when it may but they cannot be located.
func resolveGo(f *elf.File, version string) (*GoTLS, error) {
	g := &GoTLS{GoVersion: version, Funcs: map[string]GoFunc{}}
	arch, ok := goArch[f.Machine]
	if !ok {
		return nil, &NotReadableError{Kind: KindGo, Reason: ReasonArch, Err: fmt.Errorf("%v: %w", f.Machine, ErrUnsupportedArch)}
	}
	g.Arch = arch
	g.Stripped = f.Section(TableSymtab) == nil

	syms, err := lookupFuncs(f, GoTLSFuncs)
	if err != nil {
		return nil, &NotReadableError{Kind: KindGo, Reason: ReasonSymbols, Err: err}
	}
	if len(syms) == 0 {
		if syms, err = pclntabFuncs(f, GoTLSFuncs); err != nil {
			return nil, &NotReadableError{Kind: KindGo, Reason: ReasonSymbols, Err: err}
		}
	}
	if len(syms) == 0 {
		return nil, nil
	}
	for name, s := range syms {
		code, err := readCode(f, s.Addr, s.Size)
		if err != nil {
			return nil, &NotReadableError{Kind: KindGo, Reason: ReasonCode, Err: fmt.Errorf("read %s: %w", name, err)}
		}
		rel, err := returns(f.Machine, code)
		if err != nil {
			return nil, &NotReadableError{Kind: KindGo, Reason: ReasonCode, Err: fmt.Errorf("%s: %w", name, err)}
		}
		if len(rel) == 0 {
			return nil, &NotReadableError{Kind: KindGo, Reason: ReasonNoReturn, Err: fmt.Errorf("%s: no return instruction", name)}
		}
		fn := GoFunc{Symbol: s, Returns: make([]uint64, len(rel)), Body: s.Offset + bodyStart(f.Machine, code)}
		for i, r := range rel {
			fn.Returns[i] = s.Offset + r
		}
		g.Funcs[name] = fn
	}
	return g, nil
}

// pclntabFuncs finds functions through .gopclntab, which the Go linker keeps
// in stripped binaries too. A function's extent there runs to the next
// function's entry, so it includes the alignment padding after it.
func pclntabFuncs(f *elf.File, want []string) (map[string]Symbol, error) {
	pcln := f.Section(TableGopclntab)
	text := f.Section(".text")
	if pcln == nil || text == nil {
		return nil, errors.New("no .symtab and no .gopclntab")
	}
	data, err := pcln.Data()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", TableGopclntab, err)
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", TableGopclntab, err)
	}
	found := make(map[string]Symbol, len(want))
	for _, name := range want {
		fn := tab.LookupFunc(name)
		if fn == nil || fn.End <= fn.Entry {
			continue
		}
		off, err := fileOffset(f, fn.Entry)
		if err != nil {
			return nil, fmt.Errorf("%s in %s: %w", name, TableGopclntab, err)
		}
		found[name] = Symbol{Name: name, Table: TableGopclntab, Addr: fn.Entry, Size: fn.End - fn.Entry, Offset: off}
	}
	return found, nil
}

// maxFuncSize bounds the code read for one function; crypto/tls's are a few
// kilobytes.
const maxFuncSize = 1 << 20

// readCode reads size bytes of code at virtual address addr through the
// executable segment that holds them.
func readCode(f *elf.File, addr, size uint64) ([]byte, error) {
	if size > maxFuncSize {
		return nil, fmt.Errorf("function of %d bytes", size)
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Flags&elf.PF_X == 0 || addr < p.Vaddr || addr+size > p.Vaddr+p.Filesz {
			continue
		}
		code := make([]byte, size)
		if _, err := p.ReadAt(code, int64(addr-p.Vaddr)); err != nil {
			return nil, err
		}
		return code, nil
	}
	return nil, fmt.Errorf("%#x+%d: %w", addr, size, errNoExecSegment)
}
