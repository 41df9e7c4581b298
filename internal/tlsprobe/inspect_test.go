package tlsprobe

import (
	"bytes"
	"debug/elf"
	"errors"
	"golang.org/x/arch/arm64/arm64asm"
	"golang.org/x/arch/x86/x86asm"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf/link"
)

// checkOpenSSL checks the OpenSSL functions of the file at path: every one
// of OpenSSLFuncs is found, and cilium/ebpf, which computes the offsets it
// attaches to from the same tables, puts each at the start of a function.
func checkOpenSSL(t *testing.T, path string, ins Inspection, want Kind) {
	t.Helper()
	if ins.Kind != want || ins.OpenSSL == nil {
		t.Fatalf("%s: kind %v, want %v", path, ins.Kind, want)
	}
	if len(ins.OpenSSL.Missing) > 0 {
		t.Errorf("%s: missing %v", path, ins.OpenSSL.Missing)
	}
	ex, err := link.OpenExecutable(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range OpenSSLFuncs {
		s, ok := ins.OpenSSL.Found[name]
		if !ok {
			continue
		}
		got, err := ex.Symbol(s.Offset)
		if err != nil || got.Offset != 0 {
			t.Errorf("%s: cilium/ebpf puts offset %#x of %s at %+v, %v", path, s.Offset, name, got, err)
		}
		t.Logf("%s: %s in %s at file offset %#x (address %#x, %d bytes)", filepath.Base(path), name, s.Table, s.Offset, s.Addr, s.Size)
	}
}

func TestInspectSystemLibSSL(t *testing.T) {
	path := systemLibSSL(t)
	ins, err := InspectFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checkOpenSSL(t, path, ins, KindOpenSSLLib)
}

func TestInspectNode(t *testing.T) {
	path := lookPath(t, "node")
	ins, err := InspectFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if ins.Kind == KindNone {
		t.Skipf("%s links OpenSSL as a shared library", path)
	}
	checkOpenSSL(t, path, ins, KindOpenSSLExe)
}

// TestInspectNoTLS checks files that carry no readable TLS: curl imports
// SSL_write from libssl but defines none of it, NSS's libssl3.so has the
// name but not the functions.
func TestInspectNoTLS(t *testing.T) {
	paths := []string{lookPath(t, "true"), buildGo(t, goPlainProgram, "")}
	if p, err := findInPath("curl"); err == nil {
		paths = append(paths, p)
	}
	for _, d := range libDirs {
		ms, _ := filepath.Glob(filepath.Join(d, "libssl3.so"))
		paths = append(paths, ms...)
	}
	for _, p := range paths {
		ins, err := InspectFile(p)
		if err != nil || ins.Kind != KindNone {
			t.Errorf("%s: %v, %v; want KindNone", p, ins.Kind, err)
		}
	}
}

// findInPath is exec.LookPath without skipping.
func findInPath(name string) (string, error) {
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", os.ErrNotExist
}

// checkReturns reads the bytes at each return offset straight from the file
// and decodes them: each must be a return instruction of machine m.
func checkReturns(t *testing.T, path string, m elf.Machine, fn GoFunc) {
	t.Helper()
	if len(fn.Returns) == 0 {
		t.Fatalf("%s: no returns", fn.Name)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 16)
	for _, off := range fn.Returns {
		if off < fn.Offset || off >= fn.Offset+fn.Size {
			t.Errorf("%s: return at %#x outside [%#x, %#x)", fn.Name, off, fn.Offset, fn.Offset+fn.Size)
		}
		n, _ := f.ReadAt(buf, int64(off))
		if !IsReturn(m, buf[:n]) {
			t.Errorf("%s: bytes at %#x are % x, not a return", fn.Name, off, buf[:n])
		}
	}
}

// inspectGo inspects a Go binary and checks both functions and their
// returns.
func inspectGo(t *testing.T, path string, m elf.Machine, stripped bool) *GoTLS {
	t.Helper()
	ins, err := InspectFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if ins.Kind != KindGo || ins.Go == nil {
		t.Fatalf("kind %v, want go", ins.Kind)
	}
	g := ins.Go
	if g.Stripped != stripped {
		t.Errorf("stripped = %v, want %v", g.Stripped, stripped)
	}
	wantTable := TableSymtab
	if stripped {
		wantTable = TableGopclntab
	}
	for _, name := range GoTLSFuncs {
		fn, ok := g.Funcs[name]
		if !ok {
			t.Fatalf("%s not found", name)
		}
		if fn.Table != wantTable {
			t.Errorf("%s from %s, want %s", name, fn.Table, wantTable)
		}
		checkReturns(t, path, m, fn)
		checkBody(t, path, m, fn)
		t.Logf("%s %s stripped=%v: %s at %#x (%d bytes, %s), %d returns", g.GoVersion, g.Arch, g.Stripped, name, fn.Offset, fn.Size, fn.Table, len(fn.Returns))
	}
	return g
}

func TestInspectGo(t *testing.T) {
	plain := inspectGo(t, buildGo(t, goTLSProgram, ""), elf.EM_X86_64, false)
	stripped := inspectGo(t, buildGo(t, goTLSProgram, "-s -w"), elf.EM_X86_64, true)
	// The same code, found through another table: the same entries and
	// returns; only the extent differs (pclntab's runs to the next function).
	for _, name := range GoTLSFuncs {
		a, b := plain.Funcs[name], stripped.Funcs[name]
		if a.Offset != b.Offset || !slices.Equal(a.Returns, b.Returns) {
			t.Errorf("%s: .symtab %#x %x, .gopclntab %#x %x", name, a.Offset, a.Returns, b.Offset, b.Returns)
		}
	}
}

func TestInspectGoArm64(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the standard library for arm64")
	}
	inspectGo(t, buildGo(t, goTLSProgram, "", "GOARCH=arm64"), elf.EM_AARCH64, false)
	inspectGo(t, buildGo(t, goTLSProgram, "-s -w", "GOARCH=arm64"), elf.EM_AARCH64, true)
}

// TestInspectGoNotReadable checks the typed gap: a Go binary for an
// architecture this package does not disassemble, and one whose tables are
// gone.
func TestInspectGoNotReadable(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the standard library for riscv64")
	}
	path := buildGo(t, goTLSProgram, "", "GOARCH=riscv64")
	_, err := InspectFile(path)
	var nr *NotReadableError
	if !errors.As(err, &nr) || nr.Kind != KindGo || nr.Reason != ReasonArch || !errors.Is(err, ErrUnsupportedArch) {
		t.Fatalf("riscv64: %v, want NotReadableError{go, arch}", err)
	}
	t.Log(err)

	// A stripped binary whose .gopclntab cannot be found by name, as
	// obfuscators leave them: Go by its build information, no functions.
	path = buildGo(t, goTLSProgram, "-s -w")
	hidden := filepath.Join(t.TempDir(), "hidden")
	renameSection(t, path, hidden, TableGopclntab, ".gopclnXXX")
	ins, err := InspectFile(hidden)
	if !errors.As(err, &nr) || nr.Kind != KindGo || nr.Reason != ReasonSymbols || ins.Kind != KindGo || ins.Go.GoVersion == "" {
		t.Fatalf("no pclntab: %+v, %v; want NotReadableError{go, symbols}", ins, err)
	}
	t.Log(err)
}

// renameSection copies the ELF file src to dst with section from renamed to
// to (same length) in the section name table.
func renameSection(t *testing.T, src, dst, from, to string) {
	t.Helper()
	f, err := elf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	shstr := f.Section(".shstrtab")
	f.Close()
	b, err := os.ReadFile(src)
	if err != nil || shstr == nil || len(from) != len(to) {
		t.Fatal(err, shstr)
	}
	names := b[shstr.Offset : shstr.Offset+shstr.Size]
	i := bytes.Index(names, []byte(from+"\x00"))
	if i < 0 {
		t.Fatalf("%s not in .shstrtab", from)
	}
	copy(names[i:], to)
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestInspectOpenSSLLifecycle checks the functions that tie an SSL* to its
// socket and end it, in the system's libssl and in node: each is found, at
// an offset of its own, and cilium/ebpf names the function at that offset by
// the same name (no alias taken for another function).
func TestInspectOpenSSLLifecycle(t *testing.T) {
	paths := []string{systemLibSSL(t)}
	if p, err := findInPath("node"); err == nil {
		if p, err = filepath.EvalSymlinks(p); err == nil {
			paths = append(paths, p)
		}
	}
	for _, path := range paths {
		ins, err := InspectFile(path)
		if err != nil || ins.OpenSSL == nil {
			if path != paths[0] {
				continue // a node that links OpenSSL as a shared library
			}
			t.Fatalf("%s: %+v, %v", path, ins, err)
		}
		ex, err := link.OpenExecutable(path)
		if err != nil {
			t.Fatal(err)
		}
		offsets := map[uint64]string{}
		for _, name := range []string{SymSSLSetFD, SymSSLSetRFD, SymSSLSetWFD, SymSSLFree, SymSSLWrite, SymSSLRead} {
			s, ok := ins.OpenSSL.Found[name]
			if !ok {
				t.Errorf("%s: %s not found", path, name)
				continue
			}
			if other, dup := offsets[s.Offset]; dup {
				t.Errorf("%s: %s and %s both at %#x", path, name, other, s.Offset)
			}
			offsets[s.Offset] = name
			got, err := ex.Symbol(s.Offset)
			if err != nil || got.Symbol != name || got.Offset != 0 {
				t.Errorf("%s: cilium/ebpf puts %s's offset %#x at %+v, %v", path, name, s.Offset, got, err)
			}
		}
	}
}

// TestOpenSSLReadableWithoutOptional checks that the functions added for the
// SSL*'s life are optional: a file with only SSL_write and SSL_read is
// readable, one without a read function is not.
func TestOpenSSLReadableWithoutOptional(t *testing.T) {
	s := &OpenSSLSymbols{Found: map[string]Symbol{SymSSLWrite: {}, SymSSLRead: {}}}
	if !s.Readable() {
		t.Error("SSL_write + SSL_read: not readable")
	}
	s = &OpenSSLSymbols{Found: map[string]Symbol{SymSSLWriteEx: {}, SymSSLFree: {}, SymSSLSetFD: {}}}
	if s.Readable() {
		t.Error("no read function: readable")
	}
}

// checkBody checks that a function's entry probe goes right after its
// stack check: past the start, within the prologue, just after the
// conditional branch to morestack.
func checkBody(t *testing.T, path string, m elf.Machine, fn GoFunc) {
	t.Helper()
	if fn.Body <= fn.Offset || fn.Body-fn.Offset > 32 {
		t.Fatalf("%s: body at %#x, entry %#x: want the stack check's end, a few instructions in", fn.Name, fn.Body, fn.Offset)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	code := make([]byte, fn.Body-fn.Offset)
	if _, err := f.ReadAt(code, int64(fn.Offset)); err != nil {
		t.Fatal(err)
	}
	var last string
	switch m {
	case elf.EM_X86_64:
		for pc := 0; pc < len(code); {
			inst, err := x86asm.Decode(code[pc:], x86Mode64)
			if err != nil {
				t.Fatal(err)
			}
			last, pc = inst.Op.String(), pc+inst.Len
		}
		if last != "JBE" {
			t.Errorf("%s: the instruction before the body is %s, want JBE (Go's JLS)", fn.Name, last)
		}
	case elf.EM_AARCH64:
		inst, err := arm64asm.Decode(code[len(code)-arm64InstLen:])
		if err != nil || inst.String() == "" || !strings.HasPrefix(inst.String(), "B LS") {
			t.Errorf("%s: the instruction before the body is %v (%v), want B.LS", fn.Name, inst, err)
		}
	}
}
