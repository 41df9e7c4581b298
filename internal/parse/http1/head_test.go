package http1

import (
	"bytes"
	"strings"
	"testing"

	"github.com/propwatch/propwatch/internal/parse/reason"
)

type wantField struct{ name, value string }

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		status  Status
		fields  []wantField
		cut     int
		defects []reason.Code
		seen    int // -1: len(in)
	}{
		{
			name:   "complete CRLF",
			in:     "GET /a HTTP/1.1\r\nHost: x\r\nTraceparent:  00-ab \t\r\n\r\nBODY",
			status: StatusComplete,
			fields: []wantField{{"Host", "x"}, {"Traceparent", "00-ab"}},
			cut:    -1,
			seen:   len("GET /a HTTP/1.1\r\nHost: x\r\nTraceparent:  00-ab \t\r\n\r\n"),
		},
		{
			name:    "LF only",
			in:      "POST /b HTTP/1.0\nA: 1\nB:2\n\n",
			status:  StatusComplete,
			fields:  []wantField{{"A", "1"}, {"B", "2"}},
			cut:     -1,
			defects: []reason.Code{BareLF},
			seen:    -1,
		},
		{
			name:   "repeated fields kept in order",
			in:     "GET / HTTP/1.1\r\nbaggage: a=1\r\nX: y\r\nBAGGAGE: b=2\r\n\r\n",
			status: StatusComplete,
			fields: []wantField{{"baggage", "a=1"}, {"X", "y"}, {"BAGGAGE", "b=2"}},
			cut:    -1,
			seen:   -1,
		},
		{
			name:   "empty value",
			in:     "GET / HTTP/1.1\r\ntracestate:\r\n\r\n",
			status: StatusComplete,
			fields: []wantField{{"tracestate", ""}},
			cut:    -1,
			seen:   -1,
		},
		{
			name:   "leading CRLF ignored",
			in:     "\r\n\r\nGET / HTTP/1.1\r\nA: b\r\n\r\n",
			status: StatusComplete,
			fields: []wantField{{"A", "b"}},
			cut:    -1,
			seen:   -1,
		},
		{
			name:    "cut inside a value",
			in:      "GET / HTTP/1.1\r\nHost: x\r\nbaggage: k=v,k2=v",
			status:  StatusTruncated,
			fields:  []wantField{{"Host", "x"}, {"baggage", "k=v,k2=v"}},
			cut:     1,
			defects: []reason.Code{Truncated},
			seen:    -1,
		},
		{
			name:    "cut between fields",
			in:      "GET / HTTP/1.1\r\nHost: x\r\n",
			status:  StatusTruncated,
			fields:  []wantField{{"Host", "x"}},
			cut:     -1,
			defects: []reason.Code{Truncated},
			seen:    -1,
		},
		{
			name:    "cut after CR of a field",
			in:      "GET / HTTP/1.1\r\nHost: x\r",
			status:  StatusTruncated,
			fields:  []wantField{{"Host", "x"}},
			cut:     -1,
			defects: []reason.Code{Truncated},
			seen:    -1,
		},
		{
			name:    "cut inside a name",
			in:      "GET / HTTP/1.1\r\nHost: x\r\ntracep",
			status:  StatusTruncated,
			fields:  []wantField{{"Host", "x"}},
			cut:     -1,
			defects: []reason.Code{Truncated},
			seen:    -1,
		},
		{
			name:    "cut in request line",
			in:      "GET /very/long/pa",
			status:  StatusTruncated,
			cut:     -1,
			defects: []reason.Code{Truncated},
			seen:    -1,
		},
		{
			name:    "cut in protocol",
			in:      "GET / HTT",
			status:  StatusTruncated,
			cut:     -1,
			defects: []reason.Code{Truncated},
			seen:    -1,
		},
		{
			name:    "obs-fold joins the previous value",
			in:      "GET / HTTP/1.1\r\nbaggage: a=1,\r\n  b=2\r\n\r\n",
			status:  StatusComplete,
			fields:  []wantField{{"baggage", "a=1,\r\n  b=2"}},
			cut:     -1,
			defects: []reason.Code{ObsFold},
			seen:    -1,
		},
		{
			name:    "invalid lines skipped",
			in:      "GET / HTTP/1.1\r\nno colon here\r\nbad name: v\r\n: empty\r\nok: 1\r\n\r\n",
			status:  StatusComplete,
			fields:  []wantField{{"ok", "1"}},
			cut:     -1,
			defects: []reason.Code{InvalidField},
			seen:    -1,
		},
		{name: "binary", in: "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", status: StatusNotHTTP, cut: -1, defects: []reason.Code{NotHTTP}},
		{name: "HTTP/2 preface", in: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", status: StatusNotHTTP, cut: -1, defects: []reason.Code{NotHTTP}},
		{name: "response", in: "HTTP/1.1 200 OK\r\n\r\n", status: StatusNotHTTP, cut: -1, defects: []reason.Code{NotHTTP}},
		{name: "space in target", in: "GET /a b HTTP/1.1\r\n\r\n", status: StatusNotHTTP, cut: -1, defects: []reason.Code{NotHTTP}},
		{name: "empty", in: "", status: StatusNotHTTP, cut: -1, defects: []reason.Code{NotHTTP}},
		{name: "kafka frame", in: "\x00\x00\x00\x40\x00\x00\x00\x09\x00\x00\x00\x01", status: StatusNotHTTP, cut: -1, defects: []reason.Code{NotHTTP}},
	}
	var h Head
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := h.Parse([]byte(tt.in))
			if got != tt.status || h.Status != tt.status {
				t.Fatalf("status = %v, want %v", got, tt.status)
			}
			if len(h.Fields) != len(tt.fields) {
				t.Fatalf("got %d fields %q, want %d", len(h.Fields), h.Fields, len(tt.fields))
			}
			for i, f := range tt.fields {
				if string(h.Fields[i].Name) != f.name || string(h.Fields[i].Value) != f.value {
					t.Errorf("field %d = %q: %q, want %q: %q", i, h.Fields[i].Name, h.Fields[i].Value, f.name, f.value)
				}
			}
			if h.CutField != tt.cut {
				t.Errorf("CutField = %d, want %d", h.CutField, tt.cut)
			}
			if len(h.Defects) != len(tt.defects) {
				t.Fatalf("defects = %v, want %v", h.Defects, tt.defects)
			}
			for i := range tt.defects {
				if h.Defects[i] != tt.defects[i] {
					t.Errorf("defects = %v, want %v", h.Defects, tt.defects)
				}
			}
			wantSeen := tt.seen
			if wantSeen < 0 {
				wantSeen = len(tt.in)
			}
			if tt.status != StatusNotHTTP && h.Seen != wantSeen {
				t.Errorf("Seen = %d, want %d", h.Seen, wantSeen)
			}
		})
	}
}

func TestRequestLine(t *testing.T) {
	var h Head
	h.Parse([]byte("DELETE /x?y=1 HTTP/1.0\r\n\r\n"))
	if string(h.Method) != "DELETE" || string(h.Target) != "/x?y=1" || string(h.Proto) != "HTTP/1.0" || h.Minor != 0 {
		t.Fatalf("got %q %q %q %d", h.Method, h.Target, h.Proto, h.Minor)
	}
}

func TestTooManyFields(t *testing.T) {
	var b strings.Builder
	b.WriteString("GET / HTTP/1.1\r\n")
	for i := 0; i < MaxFields+10; i++ {
		b.WriteString("x: y\r\n")
	}
	b.WriteString("\r\n")
	var h Head
	if h.Parse([]byte(b.String())) != StatusComplete {
		t.Fatal("not complete")
	}
	if len(h.Fields) != MaxFields || h.DroppedFields != 10 || !h.Defects.Has(TooManyFields) {
		t.Fatalf("fields %d dropped %d defects %v", len(h.Fields), h.DroppedFields, h.Defects)
	}
}

func TestLongRequestLineIsNotHTTP(t *testing.T) {
	in := append([]byte("GET /"), bytes.Repeat([]byte("a"), maxRequestLine)...)
	var h Head
	if got := h.Parse(in); got != StatusNotHTTP {
		t.Fatalf("status %v", got)
	}
}

func TestGet(t *testing.T) {
	var h Head
	h.Parse([]byte("GET / HTTP/1.1\r\nTraceParent: a\r\ntraceparent: b\r\n\r\n"))
	v, ok := h.Get("traceparent")
	if !ok || string(v) != "a" {
		t.Fatalf("Get = %q %v", v, ok)
	}
	if _, ok := h.Get("baggage"); ok {
		t.Fatal("found a field that is not there")
	}
}

func TestEqualFold(t *testing.T) {
	for _, c := range []struct {
		b, s string
		want bool
	}{
		{"Baggage", "baggage", true},
		{"BAGGAGE", "baggage", true},
		{"baggagf", "baggage", false},
		{"bagga", "baggage", false},
		{"X-B3-TraceId", "x-b3-traceid", true},
		{"[", "{", false}, // 0x5b|0x20 == 0x7b, but neither is a letter
		{"@", "`", false},
	} {
		if got := EqualFold([]byte(c.b), c.s); got != c.want {
			t.Errorf("EqualFold(%q, %q) = %v", c.b, c.s, got)
		}
	}
}

func TestParseDoesNotAllocateWhenReused(t *testing.T) {
	in := []byte(typicalHead)
	var h Head
	h.Parse(in)
	if n := testing.AllocsPerRun(100, func() { h.Parse(in) }); n != 0 {
		t.Fatalf("Parse allocates %v times per run", n)
	}
}

// typicalHead is a 600-byte request as an instrumented service sends it.
const typicalHead = "GET /api/v1/inventory/items?sku=AB-1234&warehouse=eu-west HTTP/1.1\r\n" +
	"Host: inventory.shop.svc.cluster.local:8080\r\n" +
	"User-Agent: checkout/2.14.1 (go-http-client/1.1)\r\n" +
	"Accept: application/json\r\n" +
	"Accept-Encoding: gzip\r\n" +
	"Content-Type: application/json\r\n" +
	"X-Request-Id: 5f0c6e0e-8d4b-4a53-9a38-0d6f3c1e2b7a\r\n" +
	"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n" +
	"tracestate: congo=t61rcWkgMzE,rojo=00f067aa0ba902b7\r\n" +
	"baggage: tenant=acme,region=eu-west-1,plan=enterprise,session.sampled=true,deployment=canary-7\r\n" +
	"Authorization: Bearer-less-internal\r\n" +
	"Connection: keep-alive\r\n" +
	"X-Forwarded-For: 10.2.3.4\r\n" +
	"Cache-Control: no-cache\r\n" +
	"\r\n"

func BenchmarkParse(b *testing.B) {
	in := []byte(typicalHead)
	var h Head
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		h.Parse(in)
	}
}

func BenchmarkParseHugeValue(b *testing.B) {
	in := []byte("GET / HTTP/1.1\r\nbaggage: " + strings.Repeat("k=v,", 1<<18) + "\r\n\r\n")
	var h Head
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		h.Parse(in)
	}
}

func BenchmarkParseManyFields(b *testing.B) {
	in := []byte("GET / HTTP/1.1\r\n" + strings.Repeat("x: y\r\n", 4*MaxFields) + "\r\n")
	var h Head
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		h.Parse(in)
	}
}
