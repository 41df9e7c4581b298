package parse

import (
	"strings"
	"testing"

	"github.com/propwatch/propwatch/internal/parse/http1"
)

// FuzzAnalyze runs whole request heads through the head parser and the
// engine and checks that the verdict holds together and carries nothing of
// the input but what the engine itself names.
func FuzzAnalyze(f *testing.F) {
	f.Add([]byte(typicalHead))
	f.Add([]byte(findingsHead))
	f.Add(head("traceparent: "+tpValid, "b3: 4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"))
	f.Add(head("baggage: a=%zz;p, ,k=v;q=jane%40example.com", "uberctx-x: 4111111111111111"))
	f.Add(head("sw8-correlation: YQ==:YUBiLmlv", "jaeger-baggage: k=v, j=w"))
	f.Add([]byte("GET / HTTP/1.1\r\ntraceparent: 00-4bf92f35"))
	a := NewAnalyzer(Options{})
	var h http1.Head
	f.Fuzz(func(t *testing.T, in []byte) {
		if h.Parse(in) == http1.StatusNotHTTP {
			return
		}
		v := a.Head(&h)
		if len(v.Findings)+v.FindingsDropped != v.PIITotal() || len(v.Findings) > MaxFindings {
			t.Fatalf("%d findings for %d counts", len(v.Findings), v.PIITotal())
		}
		if (v.Context == Invalid) != (v.ContextReason != "") {
			t.Fatalf("context %v with reason %q", v.Context, v.ContextReason)
		}
		if v.Context != Valid && !v.Problem() {
			t.Fatal("a request without valid context is not a problem")
		}
		for _, r := range v.Reasons {
			if !strings.Contains(string(r), ".") || len(r) > 40 {
				t.Fatalf("reason %q is not a code", r)
			}
		}
		for _, fd := range v.Findings {
			switch fd.Header {
			case "baggage", "uberctx-*", "ot-baggage-*", "jaeger-baggage", "sw8-correlation":
			default:
				t.Fatalf("finding names header %q", fd.Header)
			}
			if fd.Length <= 0 || fd.Length > len(in) {
				t.Fatalf("finding length %d of %d input bytes", fd.Length, len(in))
			}
		}
		if v.Baggage.Bytes > len(in) {
			t.Fatalf("baggage %d bytes from %d input bytes", v.Baggage.Bytes, len(in))
		}
	})
}
