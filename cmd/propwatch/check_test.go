package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/propwatch/propwatch/internal/observe"
	"github.com/propwatch/propwatch/internal/parse"
	"github.com/propwatch/propwatch/internal/parse/formats"
	"github.com/propwatch/propwatch/internal/parse/http1"
	"github.com/propwatch/propwatch/internal/parse/kafka"
	"github.com/propwatch/propwatch/internal/parse/reason"
	"github.com/propwatch/propwatch/internal/parse/w3c"
)

func runCLI(t *testing.T, stdin []byte, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, bytes.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheckExamples(t *testing.T) {
	tests := []struct {
		file    string
		code    int
		context string
	}{
		{"valid.http", exitOK, "valid"},
		{"missing.http", exitProblem, "missing"},
		{"invalid.http", exitProblem, "invalid"},
		{"leaky.http", exitProblem, "valid"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("..", "..", "examples", "requests", tt.file)
			code, out, errOut := runCLI(t, nil, "check", "--json", path)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.code, errOut)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("output is not JSON: %v", err)
			}
			if got["context"] != tt.context {
				t.Fatalf("context %v, want %s", got["context"], tt.context)
			}
			// The text form agrees on the exit code.
			if c, _, _ := runCLI(t, nil, "check", path); c != tt.code {
				t.Fatalf("text form exit %d", c)
			}
		})
	}
}

func TestCheckJSONShape(t *testing.T) {
	in := "GET / HTTP/1.1\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n" +
		"b3: 4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1\r\n" +
		"baggage: user.email=jane%40example.com,tenant=acme\r\n\r\n"
	code, out, _ := runCLI(t, []byte(in), "check", "--json", "-")
	if code != exitProblem {
		t.Fatalf("exit %d", code)
	}
	var got struct {
		Context          string         `json:"context"`
		Reasons          []string       `json:"reasons"`
		Formats          []string       `json:"formats"`
		Baggage          map[string]int `json:"baggage"`
		OversizedBaggage bool           `json:"oversized_baggage"`
		PIIByKind        map[string]int `json:"pii_by_kind"`
		SuspectKeys      int            `json:"suspect_keys"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got.Context != "valid" || len(got.Reasons) != 0 || strings.Join(got.Formats, ",") != "w3c,b3" {
		t.Fatalf("got %+v", got)
	}
	if got.Baggage["members"] != 2 || got.Baggage["bytes"] != len("user.email=jane%40example.com,tenant=acme") {
		t.Fatalf("baggage %v", got.Baggage)
	}
	if got.PIIByKind["email"] != 1 || got.SuspectKeys != 1 || got.OversizedBaggage {
		t.Fatalf("got %+v", got)
	}
	for _, k := range []string{"email", "payment_card", "jwt", "api_key", "bearer_token", "ssn", "iban", "phone"} {
		if _, ok := got.PIIByKind[k]; !ok {
			t.Errorf("pii_by_kind lacks %q", k)
		}
	}
}

func TestCheckUsageErrors(t *testing.T) {
	if code, _, errOut := runCLI(t, []byte("\x16\x03\x01 definitely not http"), "check"); code != exitUsage || !strings.Contains(errOut, "not an HTTP/1.x request head") {
		t.Fatalf("binary input: exit %d, %q", code, errOut)
	}
	if code, _, _ := runCLI(t, nil, "check", "--no-such-flag"); code != exitUsage {
		t.Fatalf("bad flag: exit %d", code)
	}
	if code, _, _ := runCLI(t, nil, "check", "a", "b"); code != exitUsage {
		t.Fatalf("two files: exit %d", code)
	}
	if code, _, _ := runCLI(t, nil, "check", filepath.Join(t.TempDir(), "absent")); code != exitUsage {
		t.Fatalf("missing file: exit %d", code)
	}
	if code, _, _ := runCLI(t, nil, "check", "--baggage-limit", "0", "-"); code != exitUsage {
		t.Fatalf("zero limit: exit %d", code)
	}
	if code, _, _ := runCLI(t, nil, "nonsense"); code != exitUsage {
		t.Fatalf("unknown command: exit %d", code)
	}
}

func TestCheckBaggageLimitFlag(t *testing.T) {
	in := "GET / HTTP/1.1\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nbaggage: tenant=acme\r\n\r\n"
	if code, _, _ := runCLI(t, []byte(in), "check"); code != exitOK {
		t.Fatalf("default limit: exit %d", code)
	}
	code, out, _ := runCLI(t, []byte(in), "check", "--json", "--baggage-limit", "5")
	if code != exitProblem || !strings.Contains(out, `"oversized_baggage":true`) {
		t.Fatalf("limit 5: exit %d %s", code, out)
	}
}

// TestCheckMegabytes: a head of megabytes is judged quickly and without
// trouble, whether it ends or not.
func TestCheckMegabytes(t *testing.T) {
	big := "GET / HTTP/1.1\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n" +
		"baggage: " + strings.Repeat("k=a@b.io,", 1<<18) + "\r\n" +
		strings.Repeat("x-filler: "+strings.Repeat("y", 1000)+"\r\n", 2000)
	for _, in := range []string{big + "\r\n", big} {
		start := time.Now()
		code, out, _ := runCLI(t, []byte(in), "check", "--json")
		// The budget is "well under a second" on an idle machine (see
		// BenchmarkCheckMegabytes); this guard only catches a
		// super-linear path, with room for a loaded CI machine.
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%d bytes took %v", len(in), d)
		}
		if code != exitProblem || !strings.Contains(out, `"oversized_baggage":true`) {
			t.Fatalf("exit %d, %.200s", code, out)
		}
	}
}

// canaries are planted in every place a value can hide. None of them may
// appear in any output, whatever the flags.
var canaries = []string{
	"canary",
	"4111111111111111", "4111-1111-1111-1111",
	"219-09-9999",
	"DE89370400440532013000",
	"4155552671",
	"IOSFODNN7",
	"eyJhbGciOiJIUzI1NiJ9",
	"c2VjcmV0",
}

const canaryHead = "GET /search?q=canary.query%40example.com HTTP/1.1\r\n" +
	"Host: canary-host.example.com\r\n" +
	"traceparent: canary.traceparent@example.com\r\n" +
	"tracestate: canary=4111111111111111,canary@canary=x\r\n" +
	"baggage: user.email=canary.leak%40example.com,card=4111-1111-1111-1111,ssn=219-09-9999\r\n" +
	"baggage: iban=DE89370400440532013000,phone=%2B14155552671,aws=AKIAIOSFODNN7CANARYQ\r\n" +
	"baggage: jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJlY2FuYXJ5,auth=Bearer%20canarytoken123\r\n" +
	"baggage: canary.key@example.com=1;canary.prop@example.com,bad key=canary value,k=v;p=c2VjcmV0\r\n" +
	"uberctx-canary@example.com: canary.uber@example.com\r\n" +
	"ot-baggage-canary: 4111 1111 1111 1111\r\n" +
	"jaeger-baggage: canary=canary.jaeger@example.com\r\n" +
	"sw8-correlation: Y2FuYXJ5:Y2FuYXJ5QGV4YW1wbGUuY29t\r\n" +
	"b3: canary-4111111111111111\r\n" +
	"X-Amzn-Trace-Id: Root=canary;Parent=4111111111111111\r\n" +
	"x-datadog-trace-id: 4111111111111111canary\r\n" +
	"sentry-trace: canary\r\n" +
	"grpc-trace-bin: Y2FuYXJ5\r\n" +
	"baggage: cut=canary.cut@example.com,more=canary"

func TestCanaryNeverInOutput(t *testing.T) {
	inputs := map[string]string{
		"complete":  canaryHead + "\r\n\r\n",
		"truncated": canaryHead,
		"not http":  "canary.leak@example.com 4111111111111111\r\n\r\n",
		"half line": "GET /canary.leak@example.com",
	}
	flagSets := [][]string{
		{"check"},
		{"check", "--json"},
		{"check", "--json", "--fingerprints"},
		{"check", "--fingerprints", "--baggage-limit", "10"},
	}
	for name, in := range inputs {
		for _, flags := range flagSets {
			code, out, errOut := runCLI(t, []byte(in), flags...)
			if code == exitOK {
				t.Errorf("%s %v: exit 0 on a leaky request", name, flags)
			}
			all := strings.ToLower(out + errOut)
			for _, c := range canaries {
				if strings.Contains(all, strings.ToLower(c)) {
					t.Errorf("%s %v: output contains planted value %q:\n%s", name, flags, c, out+errOut)
				}
			}
		}
	}
	// The planted values are really found: the test would be empty if the
	// detectors saw nothing.
	_, out, _ := runCLI(t, []byte(inputs["complete"]), "check", "--json")
	var got struct {
		PIIByKind map[string]int `json:"pii_by_kind"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"email", "payment_card", "jwt", "api_key", "bearer_token", "ssn", "iban", "phone"} {
		if got.PIIByKind[k] == 0 {
			t.Errorf("planted %s not found: %v", k, got.PIIByKind)
		}
	}
}

func TestCheckReadsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "req.http")
	if err := os.WriteFile(path, []byte("GET / HTTP/1.1\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runCLI(t, nil, "check", path); code != exitOK || !strings.Contains(out, "result         ok") {
		t.Fatalf("exit %d: %s", code, out)
	}
}

func BenchmarkCheckMegabytes(b *testing.B) {
	in := []byte("GET / HTTP/1.1\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n" +
		"baggage: " + strings.Repeat("k=a@b.io,", 1<<18) + "\r\n\r\n")
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if code := run([]string{"check", "--json"}, bytes.NewReader(in), io.Discard, io.Discard); code != exitProblem {
			b.Fatalf("exit %d", code)
		}
	}
}

// TestReadmeListsEveryCode keeps the README's table of reason codes in step
// with the codes the engine can emit.
func TestReadmeListsEveryCode(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, "| `") {
			prefix, rest, _ := strings.Cut(strings.TrimPrefix(line, "| `"), "`")
			rows[prefix] = rest
		}
	}
	var all []reason.Code
	all = append(all, w3c.Codes()...)
	all = append(all, formats.Codes()...)
	all = append(all, parse.TraceIDMismatch, parse.TraceStateOrphan, parse.ContextFieldCut,
		http1.Truncated, http1.ObsFold, http1.InvalidField, http1.TooManyFields)
	// The Kafka coverage-gap codes: the decoder's and the observer's.
	all = append(all, kafka.Codes()...)
	all = append(all, observe.GapReassemblyFull)
	for _, c := range all {
		field, defect, _ := strings.Cut(string(c), ".")
		if !strings.Contains(rows[field+"."], "`"+defect+"`") {
			t.Errorf("README does not list %s", c)
		}
	}
}
