package tlsprobe

import (
	"debug/elf"
	"errors"
	"fmt"
)

// Symbol tables an offset can come from.
const (
	TableDynsym    = ".dynsym"
	TableSymtab    = ".symtab"
	TableGopclntab = ".gopclntab"
)

// Symbol is a function located in an ELF file.
type Symbol struct {
	// Name is the symbol's name, without a version suffix.
	Name string
	// Table is where it was found: [TableDynsym], [TableSymtab] or
	// [TableGopclntab].
	Table string
	// Addr is the function's virtual address in the file (st_value).
	Addr uint64
	// Size is the function's length in bytes.
	Size uint64
	// Offset is the file offset of the function's first instruction: what
	// a uprobe attaches to.
	Offset uint64
}

// OpenSSL functions the uprobe step attaches to or reads a socket through.
const (
	SymSSLWrite   = "SSL_write"
	SymSSLWriteEx = "SSL_write_ex"
	SymSSLRead    = "SSL_read"
	SymSSLReadEx  = "SSL_read_ex"
	// SymSSLSetFD, SymSSLSetRFD and SymSSLSetWFD give an SSL* its socket
	// (the last two one direction each, as some servers do).
	SymSSLSetFD  = "SSL_set_fd"
	SymSSLSetRFD = "SSL_set_rfd"
	SymSSLSetWFD = "SSL_set_wfd"
	// SymSSLFree ends an SSL*: the allocator hands its address to the next
	// connection, so what was learned about it must be forgotten there.
	SymSSLFree    = "SSL_free"
	SymSSLGetFD   = "SSL_get_fd"
	SymSSLGetWbio = "SSL_get_wbio"
)

// OpenSSLFuncs lists the OpenSSL functions [ResolveOpenSSL] looks for. All
// of them are in OpenSSL 1.1.1 and 3.x; only a write and a read function are
// needed for a file to be readable ([OpenSSLSymbols.Readable]).
var OpenSSLFuncs = []string{
	SymSSLWrite, SymSSLWriteEx, SymSSLRead, SymSSLReadEx,
	SymSSLSetFD, SymSSLSetRFD, SymSSLSetWFD, SymSSLFree,
	SymSSLGetFD, SymSSLGetWbio,
}

// OpenSSLSymbols are the OpenSSL functions found in one file.
type OpenSSLSymbols struct {
	// Found maps a function name to where it is.
	Found map[string]Symbol
	// Missing lists, in the order of OpenSSLFuncs, what is not defined in
	// the file (SSL_write_ex and SSL_read_ex came with OpenSSL 1.1.1).
	Missing []string
}

// Readable reports whether both directions can be read: a write function
// and a read function are present.
func (s *OpenSSLSymbols) Readable() bool {
	has := func(n string) bool { _, ok := s.Found[n]; return ok }
	return (has(SymSSLWrite) || has(SymSSLWriteEx)) && (has(SymSSLRead) || has(SymSSLReadEx))
}

// errNoExecSegment is returned for an address outside every executable
// PT_LOAD segment.
var errNoExecSegment = errors.New("address in no executable segment")

// fileOffset converts a virtual address in f to the file offset a uprobe
// attaches to: addr - p_vaddr + p_offset of the executable PT_LOAD segment
// holding it. cilium/ebpf's link.Executable computes the same for the
// symbols it resolves itself.
func fileOffset(f *elf.File, addr uint64) (uint64, error) {
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Flags&elf.PF_X == 0 {
			continue
		}
		if p.Vaddr <= addr && addr < p.Vaddr+p.Memsz {
			return addr - p.Vaddr + p.Off, nil
		}
	}
	return 0, fmt.Errorf("%#x: %w", addr, errNoExecSegment)
}

// definedFunc reports whether s is a function defined in the file, as
// opposed to an import (SHN_UNDEF) or data.
func definedFunc(s *elf.Symbol) bool {
	return elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Section != elf.SHN_UNDEF && s.Value != 0
}

// lookupFuncs finds the defined functions named in want, first in .dynsym,
// then in .symtab for those still missing. The second table is read only if
// needed: .symtab can be large (node's has hundreds of thousands of entries).
func lookupFuncs(f *elf.File, want []string) (map[string]Symbol, error) {
	found := make(map[string]Symbol, len(want))
	wanted := make(map[string]bool, len(want))
	for _, n := range want {
		wanted[n] = true
	}
	for _, t := range []struct {
		name string
		read func() ([]elf.Symbol, error)
	}{{TableDynsym, f.DynamicSymbols}, {TableSymtab, f.Symbols}} {
		if len(found) == len(want) {
			break
		}
		syms, err := t.read()
		if errors.Is(err, elf.ErrNoSymbols) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", t.name, err)
		}
		for i := range syms {
			s := &syms[i]
			if !wanted[s.Name] || !definedFunc(s) {
				continue
			}
			if _, dup := found[s.Name]; dup {
				continue
			}
			off, err := fileOffset(f, s.Value)
			if err != nil {
				return nil, fmt.Errorf("%s in %s: %w", s.Name, t.name, err)
			}
			found[s.Name] = Symbol{Name: s.Name, Table: t.name, Addr: s.Value, Size: s.Size, Offset: off}
		}
	}
	return found, nil
}

// resolveOpenSSL looks the OpenSSL functions up in an open file.
func resolveOpenSSL(f *elf.File) (*OpenSSLSymbols, error) {
	found, err := lookupFuncs(f, OpenSSLFuncs)
	if err != nil {
		return nil, err
	}
	s := &OpenSSLSymbols{Found: found}
	for _, n := range OpenSSLFuncs {
		if _, ok := found[n]; !ok {
			s.Missing = append(s.Missing, n)
		}
	}
	return s, nil
}

// ResolveOpenSSL opens the ELF file at path and locates OpenSSL's functions
// in it. A file defining none of them gives an empty Found and every name in
// Missing, not an error.
func ResolveOpenSSL(path string) (*OpenSSLSymbols, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return resolveOpenSSL(f)
}
