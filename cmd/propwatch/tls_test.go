package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/propwatch/propwatch/internal/loader"
)

// fakeTLSLoader stands in for the loader's TLS side.
type fakeTLSLoader struct {
	tlsErr    error
	attachErr error
	mu        sync.Mutex
	live      int
	closed    chan struct{}
}

func (f *fakeTLSLoader) TLS() error { return f.tlsErr }

func (f *fakeTLSLoader) AttachUprobe(path string, off uint64, p loader.TLSProgram) (io.Closer, error) {
	if f.attachErr != nil {
		return nil, f.attachErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live++
	return closerFunc(func() error { f.mu.Lock(); f.live--; f.mu.Unlock(); return nil }), nil
}

func (f *fakeTLSLoader) ReadProc(ev *loader.ProcEvent) error {
	<-f.closed
	return fmt.Errorf("proc: %w", os.ErrClosed)
}

type closerFunc func() error

func (c closerFunc) Close() error { return c() }

// TestStartTLS: one line says why TLS capture is off when the loader's
// programs did not load or uprobes are refused; one says what is attached
// when it is on; a Close leaves nothing attached.
func TestStartTLS(t *testing.T) {
	for _, c := range []struct {
		name    string
		l       *fakeTLSLoader
		want    string
		started bool
	}{
		{"not loaded", &fakeTLSLoader{tlsErr: errors.New("load pw_ssl_write: invalid argument")}, "TLS capture off: load pw_ssl_write: invalid argument", false},
		{"refused", &fakeTLSLoader{attachErr: fmt.Errorf("creating perf_uprobe PMU: %w", unix.EACCES)}, "TLS capture off: uprobes refused (permission denied)", false},
		{"on", &fakeTLSLoader{}, "TLS capture on", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.l.closed = make(chan struct{})
			defer close(c.l.closed)
			if c.name == "refused" && len(systemLibs()) == 0 {
				t.Skip("no libssl on this machine: nothing to be refused")
			}
			var buf logBuffer
			done := make(chan struct{})
			w := startTLS(c.l, slog.New(slog.NewTextHandler(&buf, nil)), done)
			if w != nil {
				<-done
			}
			if (w != nil && w.Err() == nil) != c.started {
				t.Errorf("watcher %v, want started %v", w, c.started)
			}
			lines := strings.Count(buf.String(), "TLS capture")
			if !strings.Contains(buf.String(), c.want) || lines != 1 {
				t.Errorf("log %q: want one TLS capture line, %q", buf.String(), c.want)
			}
			t.Log(buf.String())
			if w != nil {
				w.Close()
			}
			if c.l.live != 0 {
				t.Errorf("%d probes left attached", c.l.live)
			}
		})
	}
}

// systemLibs lists the OpenSSL libssl files in the usual directories.
func systemLibs() []string {
	var out []string
	for _, p := range []string{"/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib/aarch64-linux-gnu/libssl.so.3", "/usr/lib64/libssl.so.3", "/usr/lib/libssl.so.3"} {
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// TestRunTLSFlag: --tls takes auto or off, checked before anything loads.
func TestRunTLSFlag(t *testing.T) {
	cmd := newRunCmd()
	cmd.SetArgs([]string{"--tls", "on"})
	err := cmd.Execute()
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitUsage || !strings.Contains(ee.msg, "--tls must be auto or off") {
		t.Errorf("--tls on: %v", err)
	}
}

// logBuffer is a bytes.Buffer for a logger written from many goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
