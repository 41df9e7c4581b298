package http1

import (
	"bytes"
	"testing"
)

// FuzzParse checks that any input parses without panicking and that what
// Parse reports is consistent with the input it was given.
func FuzzParse(f *testing.F) {
	f.Add([]byte(typicalHead))
	f.Add([]byte("GET / HTTP/1.1\nA: 1\n  folded\n\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nbaggage: k=v"))
	f.Add([]byte("\r\nPOST /x HTTP/1.0\r\n: \r\n\r\n"))
	f.Add([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var h Head
		st := h.Parse(in)
		if st != h.Status {
			t.Fatalf("returned %v, recorded %v", st, h.Status)
		}
		if h.Seen < 0 || h.Seen > len(in) {
			t.Fatalf("Seen %d outside [0,%d]", h.Seen, len(in))
		}
		if len(h.Fields) > MaxFields {
			t.Fatalf("%d fields kept", len(h.Fields))
		}
		if h.CutField >= len(h.Fields) {
			t.Fatalf("CutField %d of %d", h.CutField, len(h.Fields))
		}
		switch st {
		case StatusNotHTTP:
			if len(h.Fields) != 0 || h.Method != nil {
				t.Fatal("not-HTTP input kept fields")
			}
		case StatusComplete:
			if h.CutField != -1 {
				t.Fatal("complete head with a cut field")
			}
			if !bytes.HasSuffix(in[:h.Seen], []byte("\n")) {
				t.Fatal("complete head does not end in LF")
			}
		}
		for _, fl := range h.Fields {
			if !isToken(fl.Name) {
				t.Fatalf("field name %q is not a token", fl.Name)
			}
			if len(fl.Value) > 0 && (fl.Value[0] == ' ' || fl.Value[len(fl.Value)-1] == '\t') {
				t.Fatalf("value %q not trimmed", fl.Value)
			}
		}
		// Reusing a Head must give the same answer as a fresh one.
		var again Head
		again.Parse([]byte("GET / HTTP/1.1\r\nA: b\r\n\r\n"))
		again.Parse(in)
		if again.Status != h.Status || len(again.Fields) != len(h.Fields) || again.Seen != h.Seen {
			t.Fatal("reused Head disagrees with a fresh one")
		}
	})
}
