package http1

import (
	"bytes"
	"strings"
	"testing"
)

// refParse is Parse as it was before its fast path: one line at a time,
// each line found with IndexByte and handed to refField. It is the oracle
// of FuzzParseMatchesReference and must not be optimised.
func (h *Head) refParse(b []byte) Status {
	h.Reset()
	start := b
	for i := 0; i < 4 && len(start) > 0 && (start[0] == '\n' || (start[0] == '\r' && len(start) > 1 && start[1] == '\n')); i++ {
		start = start[bytes.IndexByte(start, '\n')+1:]
	}
	rest, ok := h.refRequestLine(start)
	if !ok {
		if h.Status == StatusTruncated {
			h.Seen = len(b)
		}
		return h.Status
	}
	for {
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			h.refCut(b, rest)
			return h.Status
		}
		line := rest[:nl]
		next := rest[nl+1:]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		} else {
			h.Defects = h.Defects.Add(BareLF)
		}
		if len(line) == 0 {
			h.Status = StatusComplete
			h.Seen = len(b) - len(next)
			return h.Status
		}
		if line[0] == ' ' || line[0] == '\t' {
			h.fold(line)
		} else {
			h.refField(line, false)
		}
		rest = next
	}
}

func (h *Head) refRequestLine(b []byte) (rest []byte, ok bool) {
	window := b
	if len(window) > maxRequestLine {
		window = window[:maxRequestLine]
	}
	nl := bytes.IndexByte(window, '\n')
	line := window
	if nl >= 0 {
		line = window[:nl]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		} else {
			h.Defects = h.Defects.Add(BareLF)
		}
	}
	if nl < 0 {
		if len(b) < maxRequestLine && requestLinePrefix(line) {
			h.Status = StatusTruncated
			h.CutInRequestLine = true
			h.Seen = len(b)
			h.Defects = h.Defects.Add(Truncated)
			return nil, false
		}
		return h.notHTTP()
	}
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 || !isToken(line[:sp1]) {
		return h.notHTTP()
	}
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp2 <= sp1+1 {
		return h.notHTTP()
	}
	minor, ok := httpVersion(line[sp2+1:])
	if !ok {
		return h.notHTTP()
	}
	target := line[sp1+1 : sp2]
	if bytes.IndexByte(target, ' ') >= 0 || !refPrintable(target) {
		return h.notHTTP()
	}
	h.Method, h.Target, h.Proto, h.Minor = line[:sp1], target, line[sp2+1:], minor
	return b[nl+1:], true
}

func (h *Head) refCut(b, rest []byte) {
	h.Status = StatusTruncated
	h.Seen = len(b)
	h.Defects = h.Defects.Add(Truncated)
	if len(rest) == 0 || (len(rest) == 1 && rest[0] == '\r') {
		return
	}
	if rest[0] == ' ' || rest[0] == '\t' {
		h.fold(rest)
		if n := len(h.Fields); n > 0 {
			h.CutField = n - 1
		}
		return
	}
	whole := rest[len(rest)-1] == '\r'
	if whole {
		rest = rest[:len(rest)-1]
	}
	if h.refField(rest, !whole) && !whole {
		h.CutField = len(h.Fields) - 1
	}
}

func (h *Head) refField(line []byte, partial bool) bool {
	colon := 0
	for colon < len(line) && tchar[line[colon]] {
		colon++
	}
	if colon == 0 || colon == len(line) || line[colon] != ':' {
		if !partial {
			h.Defects = h.Defects.Add(InvalidField)
		}
		return false
	}
	if len(h.Fields) >= MaxFields {
		h.DroppedFields++
		h.Defects = h.Defects.Add(TooManyFields)
		return false
	}
	h.Fields = append(h.Fields, Field{Name: line[:colon], Value: refTrimOWS(line[colon+1:])})
	return true
}

// refPrintable is printable as it was before it took eight bytes at a
// time.
func refPrintable(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// TestPrintable puts every byte value at every position of targets of
// several lengths, which covers both bounds of printable's word test from
// either side and its byte-wise tail.
func TestPrintable(t *testing.T) {
	for n := 1; n <= 17; n++ {
		base := bytes.Repeat([]byte("/a~!"), 5)[:n]
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := bytes.Clone(base)
				b[pos] = byte(c)
				if got, want := printable(b), refPrintable(b); got != want {
					t.Fatalf("printable(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
}

func refTrimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// sameSlice reports whether a and b are the same sub-slice of one buffer;
// equal bytes are not enough, since a Head's slices alias its input.
func sameSlice(a, b []byte) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	return len(a) == 0 || &a[0] == &b[0]
}

// checkParseMatchesReference parses in with Parse and with refParse and
// fails at the first thing the two heads differ in.
func checkParseMatchesReference(t *testing.T, in []byte) {
	t.Helper()
	var got, want Head
	// Dirty both heads first: reuse must not leak into the result.
	got.Parse([]byte("GET / HTTP/1.1\r\nA: b\r\nC: d\r\n\r\n"))
	want.refParse([]byte("GET / HTTP/1.1\r\nA: b\r\nC: d\r\n\r\n"))
	if got.Parse(in) != want.refParse(in) {
		t.Fatalf("%q: status %v, reference %v", in, got.Status, want.Status)
	}
	if !sameSlice(got.Method, want.Method) || !sameSlice(got.Target, want.Target) || !sameSlice(got.Proto, want.Proto) ||
		got.Minor != want.Minor || got.Status != want.Status || got.Seen != want.Seen || got.CutField != want.CutField ||
		got.CutInRequestLine != want.CutInRequestLine || got.DroppedFields != want.DroppedFields {
		t.Fatalf("%q: head %+v, reference %+v", in, got, want)
	}
	if len(got.Fields) != len(want.Fields) {
		t.Fatalf("%q: %d fields, reference %d", in, len(got.Fields), len(want.Fields))
	}
	for i := range got.Fields {
		if !sameSlice(got.Fields[i].Name, want.Fields[i].Name) || !sameSlice(got.Fields[i].Value, want.Fields[i].Value) {
			t.Fatalf("%q: field %d %q, reference %q", in, i, got.Fields[i], want.Fields[i])
		}
	}
	if len(got.Defects) != len(want.Defects) {
		t.Fatalf("%q: defects %v, reference %v", in, got.Defects, want.Defects)
	}
	for i := range got.Defects {
		if got.Defects[i] != want.Defects[i] {
			t.Fatalf("%q: defects %v, reference %v", in, got.Defects, want.Defects)
		}
	}
}

var referenceSeeds = []string{
	typicalHead,
	"GET / HTTP/1.1\nA: 1\n  folded\n\n",
	"GET / HTTP/1.1\r\nbaggage: k=v",
	"GET / HTTP/1.1\r\nbaggage: k=v\r",
	"\r\nPOST /x HTTP/1.0\r\n: \r\n\r\n",
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	"GET /a b HTTP/1.1\r\n\r\n",
	"GET  / HTTP/1.1\r\n\r\n",
	" GET / HTTP/1.1\r\n\r\n",
	"G(T / HTTP/1.1\r\n\r\n",
	"GET / HTTP/1.1 \r\n\r\n",
	"GET\t/ HTTP/1.1\r\n\r\n",
	"GET / HTTP/1.1\r\nA :b\r\nB\r\n:c\r\nD:\r\nE: \t \r\n\r\n",
	"GET / HTTP/1.1\r\nA: b\r\n\tc\r\n d \r\n\r\n",
	"GET / HTTP/1.1\r\n \r\nA: b\n\n",
	"GET / HTTP/1.1\r\nA: b\r\r\nB: c\r\n\r\n",
	"GET / HTTP/1.1\r\nA: \x00\x7f\xff\r\n\r\n",
	"GET / HTTP/1.",
	"GET /x",
	"GET / HTTP/1.1\r\nA",
	"GET / HTTP/1.1\r\nA:",
	"GET / HTTP/1.1\r\n\tfold-first\r\n\r\n",
}

func TestParseMatchesReference(t *testing.T) {
	for _, s := range referenceSeeds {
		checkParseMatchesReference(t, []byte(s))
	}
	var b strings.Builder
	b.WriteString("GET / HTTP/1.1\r\n")
	for i := 0; i < MaxFields+3; i++ {
		b.WriteString("x: y\r\n")
	}
	checkParseMatchesReference(t, []byte(b.String()+"\r\n"))
	checkParseMatchesReference(t, []byte(b.String()+"tail: cut"))
}

// FuzzParseMatchesReference checks that Parse, with its fast path for
// ordinary field lines, reads every input exactly as refParse does.
func FuzzParseMatchesReference(f *testing.F) {
	for _, s := range referenceSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkParseMatchesReference(t, in)
	})
}
