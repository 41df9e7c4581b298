package parse

import (
	"encoding/hex"
	"testing"

	"github.com/propwatch/propwatch/internal/parse/formats"
	"github.com/propwatch/propwatch/internal/parse/http1"
)

func hexID(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTraceIDs checks the ids a Verdict carries: all of them from a valid
// traceparent only, the trace id alone from another valid format, nothing
// from an invalid or missing context, and nothing left over from the
// request judged before.
func TestTraceIDs(t *testing.T) {
	tests := []struct {
		name     string
		head     []byte
		format   formats.Format
		traceID  string // 32 hex, "" for zero
		parentID string // 16 hex, "" for zero
		flags    byte
	}{
		{"traceparent", head("traceparent: " + tpValid), formats.W3C,
			"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1},
		{"unsampled", head("traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"), formats.W3C,
			"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 0},
		{"traceparent wins over b3", head("traceparent: "+tpValid, "b3: 0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1"), formats.W3C,
			"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1},
		{"invalid traceparent, valid b3", head("traceparent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "b3: 0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1"), 0, "", "", 0},
		{"b3 alone", head("b3: 0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1"), formats.B3,
			"0af7651916cd43dd8448eb211c80319c", "", 0},
		{"b3 64-bit right-aligned", head("X-B3-TraceId: a3ce929d0e0e4736", "X-B3-SpanId: 00f067aa0ba902b7"), formats.B3,
			"0000000000000000a3ce929d0e0e4736", "", 0},
		{"b3 sampling decision alone has no id", head("b3: 1"), 0, "", "", 0},
		{"missing", head("Accept: */*"), 0, "", "", 0},
	}
	a := NewAnalyzer(Options{})
	var h http1.Head
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A request with ids first: nothing of it may remain.
			h.Parse(head("traceparent: " + tpOther))
			a.Head(&h)
			if h.Parse(tt.head) != http1.StatusComplete {
				t.Fatal("head did not parse")
			}
			got := a.Head(&h).Trace
			var want TraceIDs
			want.Format, want.Flags = tt.format, tt.flags
			if tt.traceID != "" {
				want.TraceID = [16]byte(hexID(t, tt.traceID))
			}
			if tt.parentID != "" {
				want.ParentID = [8]byte(hexID(t, tt.parentID))
			}
			if got != want {
				t.Errorf("Trace = %+v, want %+v", got, want)
			}
			if got.HasParent() != (tt.parentID != "") {
				t.Errorf("HasParent = %v", got.HasParent())
			}
			if got.Sampled() != (tt.flags&1 != 0) {
				t.Errorf("Sampled = %v", got.Sampled())
			}
		})
	}
}

// TestTraceIDsKafka: the ids come the same way from a record's headers.
func TestTraceIDsKafka(t *testing.T) {
	a := NewAnalyzer(Options{})
	v := a.Fields([]http1.Field{{Name: []byte("traceparent"), Value: []byte(tpValid)}})
	if !v.Trace.HasParent() || v.Trace.TraceID != [16]byte(hexID(t, "4bf92f3577b34da6a3ce929d0e0e4736")) {
		t.Errorf("Trace = %+v", v.Trace)
	}
}
