// Package otlp exports evidence spans: for a request that carries a valid
// traceparent and a finding (a defect, oversized or at-risk baggage, PII, a
// suspect key, or a continuity finding such as a new root), one span inside
// the request's own trace, child of the caller's span, named after the
// finding and carrying its codes and counts as attributes. A user who
// opens the trace in Jaeger or Tempo sees at that hop what propwatch found.
//
// Spans are built from codes, counts, sizes and the pair's names, never
// from a header value, key or URL. Exporting never blocks capture: the
// observer hands a request over with Evidence, which rate-limits it per
// pair and queues a copy without waiting; one goroutine builds the spans
// and exports them in batches over OTLP/gRPC. Every span offered ends in
// exactly one result of propwatch_otlp_spans_total (see Result).
package otlp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/propwatch/propwatch/internal/parse"
	"github.com/propwatch/propwatch/internal/report"
)

// Result is what became of a span offered to the Exporter.
type Result int

const (
	// Exported: the collector accepted the batch it was in.
	Exported Result = iota
	// RateLimited: its pair had used its spans for this second.
	RateLimited
	// NotSampled: the caller did not sample the request (traceparent flag
	// 00), so its trace is not in the backend and there is nothing to join.
	NotSampled
	// DroppedQueueFull: the queue in front of the exporter was full (the
	// collector is slow or down), or the Exporter was shut down.
	DroppedQueueFull
	// ExportFailed: the export of its batch failed or timed out.
	ExportFailed
	numResults
)

var resultNames = [numResults]string{"exported", "rate_limited", "not_sampled", "dropped_queue_full", "export_failed"}

// String returns the result's label value.
func (r Result) String() string {
	if r < 0 || r >= numResults {
		return ""
	}
	return resultNames[r]
}

// Defaults of Config.
const (
	DefaultSpansPerSecond = 10
	DefaultMaxPairs       = 4096
	DefaultQueueSize      = 2048
	DefaultBatchSize      = 512
	DefaultFlushInterval  = time.Second
	DefaultExportTimeout  = 10 * time.Second
)

// Config configures an Exporter. Everything has a default.
type Config struct {
	// Endpoint is the collector: host:port (TLS unless
	// OTEL_EXPORTER_OTLP_INSECURE says otherwise, as the SDK does), or a
	// URL, where http:// means no TLS and https:// TLS. Empty: the
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT
	// variable. The other OTEL_EXPORTER_OTLP_* variables (headers,
	// certificates, compression, timeout) apply either way.
	Endpoint string
	// SpansPerSecond is the most spans a second per pair, with bursts of
	// as many.
	SpansPerSecond float64
	// MaxPairs caps the pairs the rate limiter remembers.
	MaxPairs int
	// QueueSize caps the spans waiting for export; past it they are
	// dropped and counted.
	QueueSize int
	// BatchSize is the most spans one export carries.
	BatchSize int
	// FlushInterval is the longest a span waits for its batch to fill.
	FlushInterval time.Duration
	// ExportTimeout bounds one export, retries included.
	ExportTimeout time.Duration
	// Host is the resource's host.name; os.Hostname when empty.
	Host string
	// Log receives the failures (at most one line a minute); slog.Default
	// when nil.
	Log *slog.Logger
	// Exporter replaces the OTLP/gRPC exporter (tests). Endpoint is then
	// ignored.
	Exporter sdktrace.SpanExporter
}

// Configured reports whether evidence spans are asked for: an endpoint
// given, or one of the endpoint variables set.
func Configured(endpoint string) bool {
	return endpoint != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" ||
		os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
}

// Exporter turns evidence into spans and exports them. Evidence may be
// called from any goroutine; it never blocks on the network.
type Exporter struct {
	cfg    Config
	log    *slog.Logger
	counts [numResults]atomic.Uint64

	mu     sync.Mutex // guards limit, closed and the sends on queue
	limit  *limiter
	closed bool
	queue  chan evidence

	// The worker's own.
	exp      sdktrace.SpanExporter
	tp       *sdktrace.TracerProvider
	tracer   trace.Tracer
	pending  []sdktrace.ReadOnlySpan
	ctx      context.Context // cancelled when Shutdown gives up waiting
	cancel   context.CancelFunc
	stop     chan struct{}
	done     chan struct{}
	failures failureLog
}

// New starts an Exporter. It does not connect: the gRPC client connects
// when it first exports, and a collector that is down is a counted failure,
// not an error here. It fails on an endpoint it cannot read.
func New(cfg Config) (*Exporter, error) {
	if cfg.SpansPerSecond <= 0 {
		cfg.SpansPerSecond = DefaultSpansPerSecond
	}
	if cfg.MaxPairs <= 0 {
		cfg.MaxPairs = DefaultMaxPairs
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.ExportTimeout <= 0 {
		cfg.ExportTimeout = DefaultExportTimeout
	}
	if cfg.Host == "" {
		cfg.Host, _ = os.Hostname()
	}
	x := &Exporter{
		cfg:   cfg,
		log:   cfg.Log,
		limit: newLimiter(cfg.SpansPerSecond, cfg.MaxPairs),
		queue: make(chan evidence, cfg.QueueSize),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	if x.log == nil {
		x.log = slog.Default()
	}
	x.exp = cfg.Exporter
	if x.exp == nil {
		opts, err := grpcOptions(cfg.Endpoint, cfg.ExportTimeout)
		if err != nil {
			return nil, err
		}
		// The context only bounds New, which does not dial.
		if x.exp, err = otlptracegrpc.New(context.Background(), opts...); err != nil {
			return nil, fmt.Errorf("otlp exporter: %w", err)
		}
	}
	x.tp = sdktrace.NewTracerProvider(
		sdktrace.WithResource(resource.NewSchemaless(
			attribute.String("service.name", "propwatch"),
			attribute.String("host.name", cfg.Host),
		)),
		// The caller's sampled flag was checked already (NotSampled).
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithSpanProcessor(collector{x}),
	)
	x.tracer = x.tp.Tracer("github.com/propwatch/propwatch/internal/otlp")
	x.ctx, x.cancel = context.WithCancel(context.Background())
	go x.run()
	return x, nil
}

// grpcOptions reads the endpoint as the SDK's own variables are read: a URL
// says whether to use TLS by its scheme, host:port leaves it to
// OTEL_EXPORTER_OTLP_INSECURE (TLS by default). The SDK keeps its default
// on a URL it cannot parse; propwatch refuses it instead.
func grpcOptions(endpoint string, timeout time.Duration) ([]otlptracegrpc.Option, error) {
	opts := []otlptracegrpc.Option{
		// Retries stay within one export's time, so that a down collector
		// holds the worker for ExportTimeout at most.
		otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{
			Enabled: true, InitialInterval: 500 * time.Millisecond, MaxInterval: 2 * time.Second, MaxElapsedTime: timeout,
		}),
	}
	switch {
	case endpoint == "":
	case strings.Contains(endpoint, "://"):
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--otlp-endpoint: want host:port or an http:// or https:// URL")
		}
		opts = append(opts, otlptracegrpc.WithEndpointURL(endpoint))
	default:
		if _, _, err := net.SplitHostPort(endpoint); err != nil {
			return nil, fmt.Errorf("--otlp-endpoint: want host:port or an http:// or https:// URL")
		}
		opts = append(opts, otlptracegrpc.WithEndpoint(endpoint))
	}
	return opts, nil
}

// Evidence offers one judged request (observe.EvidenceSink). A request
// without a valid traceparent or without a finding is ignored; the others
// end in one Result each. v is not kept.
func (x *Exporter) Evidence(at time.Time, pair report.PairKey, v *parse.Verdict, chain string) {
	if !v.Trace.HasParent() || !hasFinding(v, chain) {
		return
	}
	if !v.Trace.Sampled() {
		x.counts[NotSampled].Add(1)
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		x.counts[DroppedQueueFull].Add(1)
		return
	}
	if !x.limit.allow(pair, at) {
		x.counts[RateLimited].Add(1)
		return
	}
	var e evidence
	e.set(at, pair, v, chain)
	select {
	case x.queue <- e:
	default:
		x.counts[DroppedQueueFull].Add(1)
	}
}

// Results lists every Result, in the order of the constants.
func Results() []Result {
	out := make([]Result, numResults)
	for r := range numResults {
		out[r] = r
	}
	return out
}

// Count returns how many spans ended in result r.
func (x *Exporter) Count(r Result) uint64 {
	if r < 0 || r >= numResults {
		return 0
	}
	return x.counts[r].Load()
}

// Counts returns how many spans ended in each result, by label value.
func (x *Exporter) Counts() map[string]uint64 {
	out := make(map[string]uint64, numResults)
	for r := range numResults {
		out[r.String()] = x.counts[r].Load()
	}
	return out
}

// Shutdown stops accepting spans, exports those queued and closes the
// connection. When ctx ends first, the exports still running are cancelled
// and their spans counted as failed, so that Counts then accounts for
// every span offered.
func (x *Exporter) Shutdown(ctx context.Context) error {
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return nil
	}
	x.closed = true
	x.mu.Unlock()
	close(x.stop)
	select {
	case <-x.done:
	case <-ctx.Done():
		x.cancel()
		<-x.done
	}
	x.cancel()
	return errors.Join(x.tp.Shutdown(ctx), x.exp.Shutdown(ctx))
}

// run is the worker: it builds a span of each evidence queued and exports
// them in batches of BatchSize, or every FlushInterval.
func (x *Exporter) run() {
	defer close(x.done)
	tick := time.NewTicker(x.cfg.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case e := <-x.queue:
			x.span(&e)
			if len(x.pending) >= x.cfg.BatchSize {
				x.flush()
			}
		case <-tick.C:
			x.flush()
		case <-x.stop:
			for {
				select {
				case e := <-x.queue:
					x.span(&e)
					if len(x.pending) >= x.cfg.BatchSize {
						x.flush()
					}
				default:
					x.flush()
					return
				}
			}
		}
	}
}

// span builds the span of e, which lands in x.pending (collector.OnEnd).
// Its parent is the caller's span, remote; its id is new; it starts and
// ends when the request was captured.
func (x *Exporter) span(e *evidence) {
	parent := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    e.trace.TraceID,
		SpanID:     e.trace.ParentID,
		TraceFlags: trace.TraceFlags(e.trace.Flags) & trace.FlagsSampled,
		Remote:     true,
	})
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), parent)
	findings := e.findings()
	_, s := x.tracer.Start(ctx, e.spanName(findings),
		trace.WithTimestamp(e.at),
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(e.attributes(findings)...))
	s.End(trace.WithTimestamp(e.at))
}

// flush exports the pending spans as one batch and counts the outcome.
func (x *Exporter) flush() {
	n := len(x.pending)
	if n == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(x.ctx, x.cfg.ExportTimeout)
	err := x.exp.ExportSpans(ctx, x.pending)
	cancel()
	clear(x.pending) // let the spans go
	x.pending = x.pending[:0]
	if err != nil {
		x.counts[ExportFailed].Add(uint64(n))
		x.failures.failed(x.log, n, err, time.Now())
		return
	}
	x.counts[Exported].Add(uint64(n))
	x.failures.recovered(x.log)
}

// collector is the span processor: it hands each ended span to the worker
// that ended it. Only the worker starts spans, so it needs no lock.
type collector struct{ x *Exporter }

func (c collector) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (c collector) OnEnd(s sdktrace.ReadOnlySpan)                   { c.x.pending = append(c.x.pending, s) }
func (c collector) Shutdown(context.Context) error                  { return nil }
func (c collector) ForceFlush(context.Context) error                { return nil }

// failureLog logs failed exports at most once a minute, with the spans lost
// since the last line, and that exports work again once after a logged
// failure: a collector that is down for an hour costs sixty lines, not one
// per batch.
type failureLog struct {
	last   time.Time
	lost   int
	logged bool // a failure was logged since the last recovery line
}

const failureLogEvery = time.Minute

func (f *failureLog) failed(log *slog.Logger, n int, err error, now time.Time) {
	f.lost += n
	if !f.last.IsZero() && now.Sub(f.last) < failureLogEvery {
		return
	}
	log.Warn("otlp: cannot export evidence spans; they are counted in propwatch_otlp_spans_total{result=\"export_failed\"}, next report in a minute",
		"spans", f.lost, "err", err)
	f.last, f.lost, f.logged = now, 0, true
}

func (f *failureLog) recovered(log *slog.Logger) {
	if f.logged {
		log.Info("otlp: exporting evidence spans again")
		f.logged = false
	}
}
