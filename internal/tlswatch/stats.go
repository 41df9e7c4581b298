package tlswatch

import (
	"maps"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/propwatch/propwatch/internal/tlsprobe"
)

// counters are the Watcher's running counts; w.mu guards them.
type counters struct {
	uprobes                     int
	attached, detached          uint64
	attachGone                  uint64
	filesSkipped, pidsSkipped   uint64
	scans, scansGone, fullScans uint64
	sweeps                      uint64
	execs, exits, execDropped   uint64
}

// Stats is what a Watcher holds and has done, for metrics and logs.
type Stats struct {
	// On is false once TLS capture was turned off (Off says why).
	On  bool
	Off string
	// Files counts the files attached now, by kind ("openssl",
	// "openssl-static", "go"); HostFiles are those of them attached from
	// the host's library directories at Start.
	Files     map[string]int
	HostFiles int
	// Uprobes is the probes attached now.
	Uprobes int
	// Attached and Detached count files attached and detached so far.
	Attached, Detached uint64
	// AttachErrors counts failed attaches by reason (an errno's name in
	// lower case, "unsupported", "no_probes", "other"); AttachGone those
	// whose process left before the attach, which are not errors.
	AttachErrors map[string]uint64
	AttachGone   uint64
	// FilesSkipped counts files not attached because MaxFiles were.
	FilesSkipped uint64
	// PIDs is the processes tracked as mapping TLS; PIDsSkipped counts
	// those not tracked because MaxPIDs were.
	PIDs        int
	PIDsSkipped uint64
	// NotReadablePIDs is the tracked processes whose TLS cannot be read.
	NotReadablePIDs int
	// Scans counts processes scanned after an exec notice (each a few
	// times), ScansGone those that had exited; FullScans the scans of all
	// of procfs (Start, sweeps).
	Scans, ScansGone, FullScans uint64
	// Sweeps counts sweeps.
	Sweeps uint64
	// Execs and Exits count the notices; ExecDropped the exec notices
	// dropped because MaxPending processes were waiting for their scans;
	// Pending is how many wait now.
	Execs, Exits, ExecDropped uint64
	Pending                   int
}

// Stats returns the counts now.
func (w *Watcher) Stats() Stats {
	pending := w.exec.len() // before w.mu: the queue takes w.mu under its own lock
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.st
	s := Stats{
		On:           w.off == nil && !w.closed,
		Files:        map[string]int{},
		Uprobes:      c.uprobes,
		Attached:     c.attached,
		Detached:     c.detached,
		AttachErrors: maps.Clone(w.errs.n),
		AttachGone:   c.attachGone,
		FilesSkipped: c.filesSkipped,
		PIDs:         len(w.pids),
		PIDsSkipped:  c.pidsSkipped,
		Scans:        c.scans,
		ScansGone:    c.scansGone,
		FullScans:    c.fullScans,
		Sweeps:       c.sweeps,
		Execs:        c.execs,
		Exits:        c.exits,
		ExecDropped:  c.execDropped,
		Pending:      pending,
	}
	if w.off != nil {
		s.Off = w.off.Error()
	}
	for _, k := range []tlsprobe.Kind{tlsprobe.KindOpenSSLLib, tlsprobe.KindOpenSSLExe, tlsprobe.KindGo} {
		s.Files[k.String()] = 0
	}
	for _, f := range w.files {
		if f.state == stateAttached {
			s.Files[f.kind.String()]++
			if f.pinned {
				s.HostFiles++
			}
		}
	}
	for _, p := range w.pids {
		if p.notReadable {
			s.NotReadablePIDs++
		}
	}
	return s
}

var (
	descOn = prometheus.NewDesc("propwatch_tls_capture_on",
		"1 while TLS capture is on, 0 once it was turned off (an attach refused for lack of privilege).",
		nil, nil)
	descFiles = prometheus.NewDesc("propwatch_tls_files",
		"Files whose TLS functions carry uprobes now, by kind: openssl (libssl), openssl-static (an executable with OpenSSL linked in, node), go.",
		[]string{"kind"}, nil)
	descUprobes = prometheus.NewDesc("propwatch_tls_uprobes",
		"uprobes attached now.",
		nil, nil)
	descAttached = prometheus.NewDesc("propwatch_tls_files_attached_total",
		"Files attached so far.",
		nil, nil)
	descDetached = prometheus.NewDesc("propwatch_tls_files_detached_total",
		"Files detached so far, no process having mapped them for the grace period.",
		nil, nil)
	descAttachErrors = prometheus.NewDesc("propwatch_tls_attach_errors_total",
		"Files whose uprobes could not be attached, by reason (an errno's name, unsupported, no_probes, other); their TLS stays ciphertext.",
		[]string{"reason"}, nil)
	descSkipped = prometheus.NewDesc("propwatch_tls_skipped_total",
		"Files not attached and processes not tracked because their table was full, by table (files, processes); exec notices dropped because too many processes waited for their scans (exec).",
		[]string{"table"}, nil)
	descProcesses = prometheus.NewDesc("propwatch_tls_processes",
		"Processes tracked as using TLS.",
		nil, nil)
	descNotReadable = prometheus.NewDesc("propwatch_tls_not_readable_processes",
		"Processes tracked whose TLS cannot be read (stripped or obfuscated Go binaries, OpenSSL without a read or write function).",
		nil, nil)
	descScans = prometheus.NewDesc("propwatch_tls_scans_total",
		"Process scans for TLS files, by kind: exec (one process, a few times after it started a program), full (all of procfs).",
		[]string{"kind"}, nil)
)

// Describe implements prometheus.Collector.
func (w *Watcher) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOn, descFiles, descUprobes, descAttached, descDetached, descAttachErrors, descSkipped, descProcesses, descNotReadable, descScans} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (w *Watcher) Collect(ch chan<- prometheus.Metric) {
	s := w.Stats()
	on := 0.0
	if s.On {
		on = 1
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descOn, on)
	for k, n := range s.Files {
		gauge(descFiles, float64(n), k)
	}
	gauge(descUprobes, float64(s.Uprobes))
	counter(descAttached, s.Attached)
	counter(descDetached, s.Detached)
	for r, n := range s.AttachErrors {
		counter(descAttachErrors, n, r)
	}
	counter(descSkipped, s.FilesSkipped, "files")
	counter(descSkipped, s.PIDsSkipped, "processes")
	counter(descSkipped, s.ExecDropped, "exec")
	gauge(descProcesses, float64(s.PIDs))
	gauge(descNotReadable, float64(s.NotReadablePIDs))
	counter(descScans, s.Scans, "exec")
	counter(descScans, s.FullScans, "full")
}
