package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/propwatch/propwatch/internal/loader"
	"github.com/propwatch/propwatch/internal/observe"
	"github.com/propwatch/propwatch/internal/parse/w3c"
)

// TestOpenAdvice: when no hook set loads, run says what each set needs and
// adds the steps that fit the reasons: privileges when the kernel refused,
// --verbose unless given, where to report a rejected program.
func TestOpenAdvice(t *testing.T) {
	missing := &loader.HookSetError{Set: loader.HooksSock, Reason: "tracepoint sock/sock_send_length not in this kernel (Linux 6.3+)"}
	rejected := &loader.HookSetError{Set: loader.HooksBTF, Reason: "verifier rejected pw_btf_sys_exit: combined stack size of 5 calls is 592. Too large", Rejected: true}
	denied := &loader.HookSetError{Set: loader.HooksSyscalls, Reason: "attach tracepoint syscalls/sys_exit_write: operation not permitted", Denied: true}
	for _, c := range []struct {
		name    string
		sets    []*loader.HookSetError
		verbose bool
		want    []string
		notWant []string
	}{
		{"missing", []*loader.HookSetError{missing}, false,
			[]string{"sock      tp_btf sock_send_length", "all       kernel BTF", "--verbose", "--hooks SET"},
			[]string{"CAP_BPF", "report it"}},
		{"rejected verbose", []*loader.HookSetError{missing, rejected}, true,
			[]string{"report it to the propwatch project", "propwatch run --verbose"},
			[]string{"run with --verbose", "CAP_BPF"}},
		{"denied", []*loader.HookSetError{denied}, false,
			[]string{"run as root, or with CAP_BPF and CAP_PERFMON"},
			[]string{"report it"}},
	} {
		got := openAdvice(&loader.OpenError{Kernel: "6.1.0", Sets: c.sets}, c.verbose)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: advice lacks %q:\n%s", c.name, w, got)
			}
		}
		for _, w := range c.notWant {
			if strings.Contains(got, w) {
				t.Errorf("%s: advice has %q:\n%s", c.name, w, got)
			}
		}
	}
}

// TestOTLPFlags: a bad --otlp-endpoint or rate is a usage error, found
// before anything is loaded; without an endpoint, no exporter runs.
func TestOTLPFlags(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	base := func() runFlags {
		return runFlags{limits: w3c.DefaultBaggageLimits(), maxPairs: 10, interval: time.Second,
			kafkaCapture: loader.DefaultKafkaCaptureBytes, kafkaMemory: observe.DefaultKafkaMemory, otlpRate: 10,
			chainWindow: time.Minute, chainIDs: 1, chainPerProc: 1, tls: tlsAuto}
	}
	for _, c := range []struct {
		name     string
		endpoint string
		rate     float64
		want     string
	}{
		{"zero rate", "http://127.0.0.1:4317", 0, "--otlp-spans-per-second"},
		{"negative rate", "", -1, "--otlp-spans-per-second"},
		{"scheme", "ftp://127.0.0.1:4317", 10, "--otlp-endpoint"},
		{"no port", "collector", 10, "--otlp-endpoint"},
	} {
		f := base()
		f.otlpEndpoint, f.otlpRate, f.hooks = c.endpoint, c.rate, "auto" // each case fails before the loader opens
		err := runObserve(context.Background(), io.Discard, io.Discard, f)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitUsage || !strings.Contains(ee.msg, c.want) {
			t.Errorf("%s: %v, want a usage error about %s", c.name, err, c.want)
		}
	}
	if x, err := newEvidence(base(), slog.New(slog.NewTextHandler(io.Discard, nil))); x != nil || err != nil {
		t.Errorf("no endpoint: exporter %v, err %v", x, err)
	}

	// An endpoint URL's credentials never reach the log.
	var logBuf strings.Builder
	f := base()
	f.otlpEndpoint = "http://collector-user:s3cret-token@127.0.0.1:4317"
	x, err := newEvidence(f, slog.New(slog.NewTextHandler(&logBuf, nil)))
	if err != nil || x == nil {
		t.Fatalf("endpoint with credentials: exporter %v, err %v", x, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	x.Shutdown(ctx)
	if out := logBuf.String(); strings.Contains(out, "s3cret-token") || !strings.Contains(out, "127.0.0.1:4317") {
		t.Errorf("log of the exporter's start: %q, want the endpoint without its password", out)
	}
}

// TestRunChainFlags: continuity's bounds are checked before anything is
// loaded.
func TestRunChainFlags(t *testing.T) {
	cmd := newRunCmd()
	for _, args := range [][]string{{"--chain-window", "0s"}, {"--chain-ids", "0"}, {"--chain-ids-per-process", "-1"}} {
		cmd.SetArgs(args)
		err := cmd.Execute()
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitUsage || !strings.Contains(ee.msg, "--chain-window") {
			t.Errorf("%v: %v", args, err)
		}
	}
}
