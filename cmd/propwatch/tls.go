package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/propwatch/propwatch/internal/loader"
	"github.com/propwatch/propwatch/internal/tlswatch"
)

// Values of --tls.
const (
	tlsAuto = "auto"
	tlsOff  = "off"
)

// parseTLS checks --tls and says whether the loader is to load the TLS
// programs.
func parseTLS(v string) (bool, error) {
	switch v {
	case tlsAuto:
		return true, nil
	case tlsOff:
		return false, nil
	}
	return false, fmt.Errorf("--tls must be %s or %s, not %q", tlsAuto, tlsOff, v)
}

// tlsLoader is what TLS capture needs of the loader: its TLS programs'
// state, attaching them, and the process notices.
type tlsLoader interface {
	TLS() error
	tlswatch.Attacher
	tlswatch.Procs
}

var _ tlsLoader = (*loader.Loader)(nil)

// startTLS starts TLS capture on l when its TLS programs loaded: a Watcher
// that attaches them to the TLS libraries and executables processes map.
// The first pass (host libraries, every process) runs in the background,
// while the socket capture is already read, and ends with one line: TLS
// capture on, with the files attached by kind, or off and why (the
// watcher's, when an attach is refused). When the programs did not load it
// logs one line saying why and returns nil: everything else runs. done, when
// not nil, is closed after the first pass.
func startTLS(tl tlsLoader, log *slog.Logger, done chan<- struct{}) *tlswatch.Watcher {
	if err := tl.TLS(); err != nil {
		log.Warn("TLS capture off: " + err.Error())
		return nil
	}
	w, err := tlswatch.New(tlswatch.Config{Attacher: tl, Procs: tl, Log: log, Self: os.Getpid()})
	if err != nil {
		log.Warn("TLS capture off: " + err.Error())
		return nil
	}
	go func() {
		if done != nil {
			defer close(done)
		}
		if err := w.Start(); err != nil {
			// Listing the processes failed; the exec notices and the
			// sweeps go on.
			log.Warn("TLS: first scan", "err", err)
		}
		s := w.Stats()
		if !s.On {
			return // turned off (the watcher said why) or closed
		}
		log.Info("TLS capture on", "openssl", s.Files["openssl"], "openssl_static", s.Files["openssl-static"],
			"go", s.Files["go"], "host_libraries", s.HostFiles, "uprobes", s.Uprobes,
			"not_readable_processes", s.NotReadablePIDs)
	}()
	return w
}
