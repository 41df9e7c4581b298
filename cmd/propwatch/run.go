package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel"

	"github.com/propwatch/propwatch/internal/chain"
	"github.com/propwatch/propwatch/internal/identity"
	"github.com/propwatch/propwatch/internal/loader"
	"github.com/propwatch/propwatch/internal/observe"
	"github.com/propwatch/propwatch/internal/otlp"
	"github.com/propwatch/propwatch/internal/parse"
	"github.com/propwatch/propwatch/internal/parse/w3c"
	"github.com/propwatch/propwatch/internal/report"
	"github.com/propwatch/propwatch/internal/tlswatch"
)

type runFlags struct {
	duration     time.Duration
	reportPath   string
	metricsAddr  string
	limits       w3c.BaggageLimits
	maxPairs     int
	captureBytes int
	ringBytes    int
	kafkaCapture int
	kafkaMemory  int
	interval     time.Duration
	quiet        bool
	verbose      bool
	hooks        string
	otlpEndpoint string
	otlpRate     float64
	chainWindow  time.Duration
	chainIDs     int
	chainPerProc int
	kubernetes   string
	kubeconfig   string
	nodeName     string
	tls          string
}

func newRunCmd() *cobra.Command {
	f := runFlags{limits: w3c.DefaultBaggageLimits()}
	cmd := &cobra.Command{
		Use:   "run [flags]",
		Short: "Observe the HTTP/1.x requests and Kafka records of every process on this host (needs root)",
		Long: "run attaches eBPF programs to the socket send and receive syscalls of this host, judges\n" +
			"the trace context of every HTTP/1.x request and Kafka record that processes send or\n" +
			"receive over TCP (loopback included), and reports per service pair until SIGINT, SIGTERM\n" +
			"or --duration.\n\n" +
			"It needs root, or CAP_BPF and CAP_PERFMON (load and attach), CAP_SYS_PTRACE and\n" +
			"CAP_DAC_READ_SEARCH (read other users' processes' environments) and CAP_SYS_ADMIN (only\n" +
			"to mount tracefs when it is missing); and Linux with BTF (/sys/kernel/btf/vmlinux):\n" +
			"tested on 6.1, 6.12 and 6.18, 5.8 and later by design (untested). --hooks says what each\n" +
			"hook set needs. TLS capture (--tls) needs CAP_SYS_ADMIN as well, for its uprobes; without\n" +
			"it one line says TLS capture is off and the rest runs.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runObserve(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.duration, "duration", 0, "stop after this long (0: run until SIGINT or SIGTERM)")
	fl.StringVar(&f.reportPath, "report", "", "write the final JSON report (propwatch.report/v1) to this file on stop; - for stdout")
	fl.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at ADDR/metrics, the live JSON report at ADDR/report (what propwatch audit collects) and /healthz (e.g. :9464)")
	baggageFlags(fl, &f.limits)
	fl.IntVar(&f.maxPairs, "max-pairs", 1000, "service pairs tracked before new pairs fold into one (overflow) pair")
	fl.IntVar(&f.captureBytes, "capture-bytes", loader.DefaultCaptureBytes, fmt.Sprintf("bytes of each request chunk copied from the kernel (%d to %d)", loader.MinCaptureBytes, loader.DefaultCaptureBytes))
	fl.IntVar(&f.ringBytes, "ringbuf-bytes", loader.DefaultRingBufferBytes, "size of the kernel ring buffer (a power of two)")
	fl.IntVar(&f.kafkaCapture, "kafka-capture-bytes", loader.DefaultKafkaCaptureBytes, fmt.Sprintf("bytes of each Kafka frame (Produce request, Fetch response) captured and decoded, at most %d; the rest of a longer frame is a coverage gap", loader.MaxKafkaCaptureBytes))
	fl.IntVar(&f.kafkaMemory, "kafka-memory", observe.DefaultKafkaMemory, "bytes the Kafka frames in reassembly may hold at once (at least --kafka-capture-bytes); a frame past it is judged on its first chunk")
	fl.DurationVar(&f.chainWindow, "chain-window", chain.DefaultWindow, "how long a trace id a local service received is remembered to judge what it sends (continued, new_root, dropped); whole seconds")
	fl.IntVar(&f.chainIDs, "chain-ids", chain.DefaultMaxIDs, fmt.Sprintf("received trace ids remembered in all (%d bytes each at most with a power of two); past it the least recently received is evicted and counted", chain.EntryBytes))
	fl.IntVar(&f.chainPerProc, "chain-ids-per-process", chain.DefaultMaxPerProcess, "received trace ids remembered per process")
	fl.DurationVar(&f.interval, "interval", 2*time.Second, "refresh period of the live view")
	fl.BoolVar(&f.quiet, "quiet", false, "no live view")
	fl.StringVar(&f.hooks, "hooks", string(loader.HooksAuto), "kernel hooks: auto (the first of sock, btf, raw, syscalls that loads), sock (tp_btf sock_send_length and sock_recv_length, Linux 6.3+), btf (tp_btf sys_exit), raw (raw tracepoint sys_exit) or syscalls (the syscall tracepoints, which work everywhere)")
	fl.BoolVar(&f.verbose, "verbose", false, "full verifier log on load errors, and debug logging")
	fl.StringVar(&f.otlpEndpoint, "otlp-endpoint", "", "export evidence spans over OTLP/gRPC to this collector: host:port (TLS unless OTEL_EXPORTER_OTLP_INSECURE=true) or a URL (http:// for no TLS); without it, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT when set")
	fl.StringVar(&f.kubernetes, "kubernetes", kubeAuto, "name pairs by Kubernetes workloads and namespaces: auto (when in a pod, or --kubeconfig or KUBECONFIG is given), on, or off")
	fl.StringVar(&f.kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file of the cluster (default: KUBECONFIG; in a pod, its service account)")
	fl.StringVar(&f.nodeName, "node-name", os.Getenv("NODE_NAME"), "this node's name in the cluster, whose pods' processes are named (default: NODE_NAME)")
	fl.StringVar(&f.tls, "tls", tlsAuto, "read TLS plaintext at the TLS library (OpenSSL's libssl, executables with OpenSSL linked in, Go crypto/tls) with uprobes: auto (when the TLS programs load and uprobes are allowed: CAP_SYS_ADMIN) or off")
	fl.Float64Var(&f.otlpRate, "otlp-spans-per-second", otlp.DefaultSpansPerSecond, "most evidence spans a second per pair; the rest are counted as rate_limited")
	return withCPUProfile(cmd)
}

func runObserve(ctx context.Context, stdout, stderr io.Writer, f runFlags) error {
	if f.limits.MaxBytes <= 0 || f.limits.MaxMembers <= 0 || f.limits.AtRiskBytes <= 0 || f.maxPairs <= 0 || f.interval <= 0 {
		return &exitError{code: exitUsage, msg: "limits, --max-pairs and --interval must be positive"}
	}
	if f.kafkaCapture < loader.MinCaptureBytes || f.kafkaCapture > loader.MaxKafkaCaptureBytes {
		return &exitError{code: exitUsage, msg: fmt.Sprintf("--kafka-capture-bytes must be %d to %d", loader.MinCaptureBytes, loader.MaxKafkaCaptureBytes)}
	}
	if f.kafkaMemory < f.kafkaCapture {
		return &exitError{code: exitUsage, msg: "--kafka-memory must be at least --kafka-capture-bytes"}
	}
	if f.otlpRate <= 0 {
		return &exitError{code: exitUsage, msg: "--otlp-spans-per-second must be positive"}
	}
	if f.chainWindow < time.Second || f.chainIDs <= 0 || f.chainPerProc <= 0 {
		return &exitError{code: exitUsage, msg: "--chain-window must be at least 1s, --chain-ids and --chain-ids-per-process positive"}
	}
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}

	hooks, err := loader.ParseHookSet(f.hooks)
	if err != nil {
		return &exitError{code: exitUsage, msg: err.Error()}
	}
	withTLS, err := parseTLS(f.tls)
	if err != nil {
		return &exitError{code: exitUsage, msg: err.Error()}
	}
	evidence, err := newEvidence(f, log)
	if err != nil {
		return &exitError{code: exitUsage, msg: err.Error()}
	}
	if evidence != nil {
		defer evidence.Shutdown(context.Background()) // on the early returns
	}
	// Names first: the pods listed before the capture starts name its
	// first requests.
	cluster, err := startCluster(ctx, f, log)
	if err != nil {
		return &exitError{code: exitUsage, msg: err.Error()}
	}
	started := time.Now()
	l, err := loader.Open(loader.Config{CaptureBytes: f.captureBytes, RingBufferBytes: f.ringBytes, KafkaCaptureBytes: f.kafkaCapture, Verbose: f.verbose, Hooks: hooks, TLS: withTLS})
	if err != nil {
		msg := err.Error()
		var oe *loader.OpenError
		if errors.As(err, &oe) {
			if f.verbose {
				msg += "\n" // after the whole errors, a blank line
			}
			msg += "\n" + openAdvice(oe, f.verbose)
		}
		return &exitError{code: exitProblem, msg: msg}
	}
	defer l.Close()
	if err := l.Fallback(); err != nil {
		log.Warn("cheaper hook sets unavailable", "set", l.HookSet(), "err", err)
	}
	log.Info("capture attached", "set", l.HookSet(), "hooks", len(l.Hooks()))
	for _, h := range l.Hooks() {
		log.Debug("hook", "name", h)
	}
	// After the loader, closed before it (defers run last first).
	var tlsW *tlswatch.Watcher
	if withTLS {
		if tlsW = startTLS(l, log, nil); tlsW != nil {
			defer tlsW.Close()
		}
	}

	agg := report.NewAggregator(report.AggregatorConfig{MaxPairs: f.maxPairs})
	host, _ := os.Hostname() // the report's, final and live (/report)
	local := &identity.LocalAddrs{}
	if err := local.Refresh(); err != nil {
		log.Warn("list local addresses", "err", err)
	}
	ocfg := observe.Config{
		Aggregator: agg,
		Resolver:   identity.NewResolver(identity.Config{Cluster: clusterOrNil(cluster)}),
		Analyzer:   parse.Options{Baggage: f.limits},
		Local:      local,
		HeadDone:   l.HeadDone,
		Owner:      l.Owner,

		KafkaMaxFrame: f.kafkaCapture,
		KafkaMemory:   f.kafkaMemory,

		Chain: chain.Config{Window: f.chainWindow, MaxIDs: f.chainIDs, MaxPerProcess: f.chainPerProc},
	}
	metrics := []prometheus.Collector{report.NewCollector(agg, report.KernelCounters{Lost: l.Lost, Errors: l.KernelErrors})}
	if cluster != nil {
		metrics = append(metrics, cluster)
	}
	if evidence != nil {
		// Only when set: a nil *otlp.Exporter in the interface is not nil.
		ocfg.Evidence = evidence
		metrics = append(metrics, evidence)
	}
	if tlsW != nil {
		metrics = append(metrics, tlsW)
		// A ClientHello of a process whose TLS is not read is a
		// coverage gap of its pair (tls.not_readable).
		ocfg.TLSReadable = func(tgid uint32) bool {
			_, readable := tlsW.Readable(tgid)
			return readable
		}
	}
	obs := observe.New(ocfg)

	var srv *http.Server
	if f.metricsAddr != "" {
		ln, err := net.Listen("tcp", f.metricsAddr)
		if err != nil {
			return &exitError{code: exitUsage, msg: fmt.Sprintf("metrics address: %v", err)}
		}
		live := func() report.Report {
			rep := report.NewReport(host, started, time.Now(), agg.Snapshot(), l.Lost())
			rep.KernelErrors = l.KernelErrors()
			rep.NameFallbacks = cluster.Stats().Fallbacks
			return rep
		}
		srv = &http.Server{Handler: report.HandlerWithReport(live, metrics...), ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		log.Info("serving metrics", "addr", ln.Addr().String())
	}

	var wg sync.WaitGroup
	readErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ev loader.Event
		clock := loader.NewClock()
		for {
			if err := l.Read(&ev); err != nil {
				if !errors.Is(err, os.ErrClosed) {
					readErr <- err
				}
				return
			}
			obs.Handle(&ev, clock.Time(ev.KtimeNS))
		}
	}()

	var live *report.Live
	if !f.quiet {
		live = report.NewLive(stderr, report.IsTerminal(stderr), started)
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	lastRender := started
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-readErr:
			runErr = err
			break loop
		case now := <-tick.C:
			obs.Tick(now)
			if live != nil && now.Sub(lastRender) >= f.interval {
				lastRender = now
				if err := live.Render(agg.Snapshot(), l.Lost(), now); err != nil {
					log.Debug("live view", "err", err)
				}
			}
		}
	}

	// Stop capturing, read what the ring buffer still holds, and name what
	// is queued: a request made just before the stop is still counted.
	if tlsW != nil {
		if err := tlsW.Close(); err != nil {
			log.Warn("detach TLS uprobes", "err", err)
		}
	}
	if err := l.Detach(); err != nil {
		log.Warn("detach", "err", err)
	}
	for deadline := time.Now().Add(2 * time.Second); l.Pending() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	closeErr := l.Close()
	wg.Wait()
	obs.Flush()
	if evidence != nil {
		// The spans of the requests Flush named are queued: export them,
		// within a bound, and say what became of all of them.
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := evidence.Shutdown(shutdown); err != nil {
			log.Debug("otlp shutdown", "err", err)
		}
		cancel()
		args := []any{}
		for _, r := range otlp.Results() {
			args = append(args, r.String(), evidence.Count(r))
		}
		log.Info("otlp evidence spans", args...)
	}
	ended := time.Now()
	if srv != nil {
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		srv.Shutdown(shutdown)
		cancel()
	}
	if closeErr != nil {
		log.Warn("detach", "err", closeErr)
	}

	snap := agg.Snapshot()
	if live != nil {
		live.Render(snap, l.Lost(), ended)
	}
	if f.reportPath != "" {
		rep := report.NewReport(host, started, ended, snap, l.Lost())
		rep.KernelErrors = l.KernelErrors()
		rep.NameFallbacks = cluster.Stats().Fallbacks
		if err := writeReport(stdout, f.reportPath, rep); err != nil {
			return &exitError{code: exitProblem, msg: err.Error()}
		}
	}
	if runErr != nil {
		return &exitError{code: exitProblem, msg: runErr.Error()}
	}
	return nil
}

// newEvidence starts the OTLP exporter of evidence spans when an endpoint
// is given by flag or variable; nil when none is.
func newEvidence(f runFlags, log *slog.Logger) (*otlp.Exporter, error) {
	if !otlp.Configured(f.otlpEndpoint) {
		return nil, nil
	}
	// The SDK reports what it cannot hand back as an error (a collector's
	// partial success, a bad variable) to a global handler that writes to
	// stderr; propwatch logs it, at debug since the counts say the rest.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Debug("otlp", "err", err) }))
	x, err := otlp.New(otlp.Config{
		Endpoint:       f.otlpEndpoint,
		SpansPerSecond: f.otlpRate,
		// Above the pairs the aggregator keeps: the observer hands over
		// pairs before they are folded.
		MaxPairs: max(2*f.maxPairs, otlp.DefaultMaxPairs),
		Log:      log,
	})
	if err != nil {
		return nil, err
	}
	endpoint := f.otlpEndpoint
	if endpoint == "" {
		endpoint = "(OTEL_EXPORTER_OTLP_* variables)"
	} else if u, err := url.Parse(endpoint); err == nil && u.User != nil {
		// A URL may carry credentials; the log line never does.
		endpoint = u.Redacted()
	}
	log.Info("exporting evidence spans over OTLP/gRPC", "endpoint", endpoint, "spans_per_second_per_pair", f.otlpRate)
	return x, nil
}

// openAdvice says what the user can do when no hook set loads: what each
// set needs, how to see the whole verifier log, how to grant the
// privileges, where to report a rejected program.
func openAdvice(e *loader.OpenError, verbose bool) string {
	var b strings.Builder
	b.WriteString("What you can do:\n" +
		"  - check that this kernel has what one hook set needs (README, Requirements):\n" +
		"      sock      tp_btf sock_send_length and sock_recv_length (Linux 6.3+), bpf_task_pt_regs (5.15+)\n" +
		"      btf       tp_btf sys_exit (BTF-typed tracepoints)\n" +
		"      raw       raw tracepoint sys_exit\n" +
		"      syscalls  the syscall tracepoints and tracefs\n" +
		"      all       kernel BTF (/sys/kernel/btf/vmlinux), the BPF ring buffer (Linux 5.8+)\n")
	if e.Denied() {
		b.WriteString("  - run as root, or with CAP_BPF and CAP_PERFMON (and CAP_SYS_ADMIN to mount tracefs)\n")
	}
	if !verbose {
		b.WriteString("  - run with --verbose to see each set's whole error, the verifier's log included\n")
	}
	b.WriteString("  - try one set alone with --hooks SET")
	if e.Rejected() {
		b.WriteString("\n  - a program the verifier rejects on a kernel that has what its set needs is a bug:\n" +
			"    report it to the propwatch project with `uname -r` and the output of\n" +
			"    `propwatch run --verbose`")
	}
	return b.String()
}

// writeReport writes rep to path, through a temporary file so that a
// reader never sees half a report.
func writeReport(stdout io.Writer, path string, rep report.Report) error {
	if path == "-" {
		return rep.WriteJSON(stdout)
	}
	tmp := path + ".tmp"
	file, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := rep.WriteJSON(file); err != nil {
		file.Close()
		os.Remove(tmp)
		return fmt.Errorf("write report: %w", err)
	}
	if err := file.Close(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
