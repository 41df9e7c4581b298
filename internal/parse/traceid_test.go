package parse

import (
	"encoding/hex"
	"testing"

	"github.com/propwatch/propwatch/internal/parse/http1"
)

// TestVerdictTraceID: the verdict names the trace of its valid context,
// whatever the format, and nothing otherwise.
func TestVerdictTraceID(t *testing.T) {
	id := func(s string) (out [16]byte) {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		copy(out[16-len(b):], b)
		return out
	}
	const w3cID = "4bf92f3577b34da6a3ce929d0e0e4736"
	for _, c := range []struct {
		name   string
		fields [][2]string
		want   [16]byte
	}{
		{"traceparent", [][2]string{{"traceparent", "00-" + w3cID + "-00f067aa0ba902b7-01"}}, id(w3cID)},
		{"b3 128-bit", [][2]string{{"b3", w3cID + "-00f067aa0ba902b7-1"}}, id(w3cID)},
		{"b3 64-bit", [][2]string{{"x-b3-traceid", "a3ce929d0e0e4736"}, {"x-b3-spanid", "00f067aa0ba902b7"}}, id("a3ce929d0e0e4736")},
		{"b3 sampling only", [][2]string{{"b3", "1"}}, [16]byte{}},
		{"invalid traceparent", [][2]string{{"traceparent", "00-" + w3cID + "-0000000000000000-01"}}, [16]byte{}},
		{"missing", nil, [16]byte{}},
	} {
		var fields []http1.Field
		for _, f := range c.fields {
			fields = append(fields, http1.Field{Name: []byte(f[0]), Value: []byte(f[1])})
		}
		v := NewAnalyzer(Options{}).Fields(fields)
		if v.Trace.TraceID != c.want {
			t.Errorf("%s: trace id %x, want %x (context %v)", c.name, v.Trace.TraceID, c.want, v.Context)
		}
	}
}
