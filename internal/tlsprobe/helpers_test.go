package tlsprobe

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// goTLSProgram is a Go program that calls (*tls.Conn).Write and Read, so
// the linker keeps both. Without arguments it waits for stdin to close, so
// a test can scan it while it runs.
const goTLSProgram = `package main

import (
	"crypto/tls"
	"io"
	"os"
)

func main() {
	if len(os.Args) > 1 {
		c, err := tls.Dial("tcp", os.Args[1], &tls.Config{})
		if err != nil {
			os.Exit(1)
		}
		c.Write([]byte("ping"))
		c.Read(make([]byte, 4))
		return
	}
	io.Copy(io.Discard, os.Stdin)
}
`

// goPlainProgram is a Go program without TLS.
const goPlainProgram = `package main

import "fmt"

func main() { fmt.Println("no tls") }
`

// buildGo builds src as a main package into a temporary directory and
// returns the binary's path. env adds to the environment (GOARCH=arm64),
// ldflags is passed to -ldflags when not empty.
func buildGo(t testing.TB, src, ldflags string, env ...string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go toolchain in PATH")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module probe\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "prog")
	args := []string{"build", "-o", out}
	if ldflags != "" {
		args = append(args, "-ldflags="+ldflags)
	}
	cmd := exec.Command(goBin, append(args, ".")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"CGO_ENABLED=0", "GOFLAGS=-buildvcs=false"}, env...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", strings.Join(env, " "), err, b)
	}
	return out
}

// libDirs are where distributions install libssl.
var libDirs = []string{"/usr/lib/*-linux-gnu", "/lib/*-linux-gnu", "/usr/lib64", "/usr/lib", "/lib64", "/lib"}

// systemLibSSL returns the path of the system's OpenSSL libssl, or skips.
func systemLibSSL(t testing.TB) string {
	t.Helper()
	for _, d := range libDirs {
		ms, _ := filepath.Glob(filepath.Join(d, "libssl.so.*"))
		for _, m := range ms {
			if p, err := filepath.EvalSymlinks(m); err == nil {
				return p
			}
		}
	}
	t.Skip("no libssl.so.* installed (apt-get install libssl3)")
	return ""
}

// lookPath returns the resolved path of an installed program, or skips.
func lookPath(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed", name)
	}
	p, err = filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
