// Package http1 reads HTTP/1.x request heads out of captured bytes.
//
// The bytes come from whatever a process wrote to a socket: a head may be cut
// anywhere, split across captures, binary, or hostile. Parse never fails with
// an error; it records what it could read, what it could not, and why. It
// keeps sub-slices of the input instead of copying, and a Head is meant to be
// reused so that a clean request costs no allocation at all.
package http1

import (
	"bytes"
	"encoding/binary"

	"github.com/propwatch/propwatch/internal/parse/reason"
)

// Defects of the request head itself. They describe the framing, never the
// trace context carried in it.
const (
	// NotHTTP: the bytes do not start with an HTTP/1.x request line.
	NotHTTP reason.Code = "http.not_http"
	// Truncated: the input ended before the empty line that ends the head.
	Truncated reason.Code = "http.truncated"
	// BareLF: a line ended in LF without CR; tolerated, as most servers do.
	BareLF reason.Code = "http.bare_lf"
	// ObsFold: a field value continued on the next line (obsolete line
	// folding, RFC 9112 §5.2); the continuation is kept in the value.
	ObsFold reason.Code = "http.obs_fold"
	// InvalidField: a line that is not "name: value" (no colon, a name
	// that is not a token, or whitespace before the colon). It is skipped,
	// as a proxy would reject or drop it.
	InvalidField reason.Code = "http.invalid_field"
	// TooManyFields: more than MaxFields fields; the rest were not kept.
	TooManyFields reason.Code = "http.too_many_fields"
)

// MaxFields bounds the fields one Head keeps. Servers refuse far fewer
// (Apache 100, Envoy 100 by default), so a head with more is hostile or
// broken, and keeping them all would let one request grow memory without
// bound.
const MaxFields = 512

// maxRequestLine bounds the bytes Parse will look at for a request line
// before it decides the input is not HTTP. It is larger than any server's
// default limit (Apache 8190, nginx 8 KiB, ALB 16 KiB) so that long URLs
// are still recognised.
const maxRequestLine = 64 << 10

// Field is one header field. Name is as sent (any case); Value has its
// surrounding spaces and tabs removed. Both alias the parsed input.
type Field struct {
	Name  []byte
	Value []byte
}

// Status says how far Parse got.
type Status uint8

const (
	// StatusComplete: the head ended with an empty line.
	StatusComplete Status = iota
	// StatusTruncated: a request line was recognised but the input ended
	// before the head did. Fields holds what was read.
	StatusTruncated
	// StatusNotHTTP: the input is not an HTTP/1.x request.
	StatusNotHTTP
)

// String names the status for humans.
func (s Status) String() string {
	switch s {
	case StatusComplete:
		return "complete"
	case StatusTruncated:
		return "truncated"
	default:
		return "not_http"
	}
}

// Head is one parsed request head. Reuse a Head across calls to Parse: its
// Fields slice keeps its capacity, which is what makes parsing allocation-free
// after the first request.
type Head struct {
	Method []byte
	Target []byte
	Proto  []byte
	// Minor is the HTTP/1 minor version (0 or 1).
	Minor int

	// Fields are the header fields in the order they were sent, repeated
	// names kept.
	Fields []Field

	Status Status
	// Seen is how many input bytes belong to the head: through the empty
	// line when complete, all of the input otherwise.
	Seen int
	// CutField is the index in Fields of the field whose value the end of
	// the input cut short, or -1. A cut field is still in Fields, so that a
	// caller can tell "traceparent was cut" from "traceparent is malformed".
	CutField int
	// CutInRequestLine is set when the input ended inside the request line.
	CutInRequestLine bool
	// DroppedFields counts fields past MaxFields.
	DroppedFields int
	// Defects lists what was wrong with the framing, in order found.
	Defects reason.List
}

// Reset empties h for reuse, keeping its capacity.
func (h *Head) Reset() {
	fields, defects := h.Fields[:0], h.Defects[:0]
	// Zeroed in place and then set: a composite literal with fields would
	// be built on the stack and copied over.
	*h = Head{}
	h.Fields, h.Defects, h.CutField = fields, defects, -1
}

// Parse parses b as the start of an HTTP/1.x request into h, replacing what
// h held. It reports the outcome in h.Status and returns it. b is not
// copied: h aliases it until the next Parse.
func (h *Head) Parse(b []byte) Status {
	h.Reset()
	// RFC 9112 §2.2: a server SHOULD ignore empty lines before the request
	// line; clients send a stray CRLF after a body now and then.
	start := b
	for i := 0; i < 4 && len(start) > 0 && (start[0] == '\n' || (start[0] == '\r' && len(start) > 1 && start[1] == '\n')); i++ {
		start = start[bytes.IndexByte(start, '\n')+1:]
	}
	rest, ok := h.requestLine(start)
	if !ok {
		if h.Status == StatusTruncated {
			h.Seen = len(b)
		}
		return h.Status
	}
	for {
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			h.cut(b, rest)
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
		// The common line, "token: value", is stored right here; field
		// takes the others and the defects.
		colon := 0
		for colon < len(line) && tchar[line[colon]] {
			colon++
		}
		if n := len(h.Fields); colon > 0 && colon < len(line) && line[colon] == ':' && n < cap(h.Fields) && n < MaxFields {
			h.Fields = h.Fields[:n+1]
			f := &h.Fields[n]
			f.Name, f.Value = line[:colon], TrimOWS(line[colon+1:])
		} else if line[0] == ' ' || line[0] == '\t' {
			h.fold(line)
		} else {
			h.field(line, false)
		}
		rest = next
	}
}

// requestLine reads "method SP target SP HTTP/1.x" and returns the bytes
// after it. A request line the input cut short is accepted as long as what
// was seen could still become one.
func (h *Head) requestLine(b []byte) (rest []byte, ok bool) {
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
	// The method is the token before the first space: the token scan
	// stops at that space, since a space is not a token character.
	sp1 := 0
	for sp1 < len(line) && tchar[line[sp1]] {
		sp1++
	}
	if sp1 == 0 || sp1 == len(line) || line[sp1] != ' ' {
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
	// printable rejects spaces, so a target holding one (three or more
	// parts to the line) fails here.
	target := line[sp1+1 : sp2]
	if !printable(target) {
		return h.notHTTP()
	}
	h.Method, h.Target, h.Proto, h.Minor = line[:sp1], target, line[sp2+1:], minor
	return b[nl+1:], true
}

func (h *Head) notHTTP() ([]byte, bool) {
	h.Reset()
	h.Status = StatusNotHTTP
	h.Defects = h.Defects.Add(NotHTTP)
	return nil, false
}

// cut records that the input ended at rest, inside the field section.
func (h *Head) cut(b, rest []byte) {
	h.Status = StatusTruncated
	h.Seen = len(b)
	h.Defects = h.Defects.Add(Truncated)
	if len(rest) == 0 || (len(rest) == 1 && rest[0] == '\r') {
		return // cut between two fields: nothing was lost mid-value
	}
	if rest[0] == ' ' || rest[0] == '\t' {
		h.fold(rest)
		if n := len(h.Fields); n > 0 {
			h.CutField = n - 1
		}
		return
	}
	// A CR at the very end means the value was whole and only its LF is
	// missing, so the field was not cut.
	whole := rest[len(rest)-1] == '\r'
	if whole {
		rest = rest[:len(rest)-1]
	}
	if h.field(rest, !whole) && !whole {
		h.CutField = len(h.Fields) - 1
	}
}

// field appends the field on line, reporting whether it was kept. A partial
// line (the input's tail) may lack its colon yet; it is dropped silently then,
// because the name alone tells a caller nothing it can judge.
func (h *Head) field(line []byte, partial bool) bool {
	// One pass finds the colon and checks the name is a token.
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
	n := len(h.Fields)
	if n < cap(h.Fields) {
		h.Fields = h.Fields[:n+1]
	} else {
		h.Fields = append(h.Fields, Field{})
	}
	f := &h.Fields[n]
	f.Name, f.Value = line[:colon], TrimOWS(line[colon+1:])
	return true
}

// fold extends the previous field's value over a continuation line. The value
// then spans the line break, which later parsers reject as they should: a
// folded traceparent is not a valid one.
func (h *Head) fold(line []byte) {
	h.Defects = h.Defects.Add(ObsFold)
	n := len(h.Fields)
	if n == 0 {
		h.Defects = h.Defects.Add(InvalidField)
		return
	}
	v := h.Fields[n-1].Value
	cont := TrimOWS(line)
	if len(cont) == 0 {
		return
	}
	if len(v) == 0 {
		h.Fields[n-1].Value = cont
		return
	}
	// Both slices alias one input buffer, so the value can grow over the
	// line break to the end of the continuation without copying.
	end := cap(v) - cap(cont) + len(cont)
	h.Fields[n-1].Value = v[:end]
}

// Get returns the value of the first field named name (compared without
// regard to ASCII case) and whether there was one.
func (h *Head) Get(name string) ([]byte, bool) {
	for _, f := range h.Fields {
		if EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return nil, false
}

// TrimOWS removes leading and trailing spaces and tabs.
func TrimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// EqualFold reports whether b equals s with ASCII letters compared without
// regard to case. Header names are ASCII tokens, so this is all the folding
// they need, and unlike bytes.EqualFold it needs no string conversion.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c, d := b[i], s[i]
		if c == d {
			continue
		}
		if c|0x20 != d|0x20 || c|0x20 < 'a' || c|0x20 > 'z' {
			return false
		}
	}
	return true
}

// httpVersion accepts "HTTP/1.0" and "HTTP/1.1" (and other 1.x minors) and
// returns the minor version. HTTP/2's preface ("PRI * HTTP/2.0") and
// anything else are not HTTP/1.
func httpVersion(p []byte) (int, bool) {
	if len(p) != 8 || string(p[:7]) != "HTTP/1." || p[7] < '0' || p[7] > '9' {
		return 0, false
	}
	return int(p[7] - '0'), true
}

// requestLinePrefix reports whether line, with no line end seen yet, could
// still grow into a request line: a token method, then a target, then a
// prefix of "HTTP/1.x".
func requestLinePrefix(line []byte) bool {
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 < 0 {
		return len(line) > 0 && len(line) <= 32 && isToken(line)
	}
	if sp1 == 0 || !isToken(line[:sp1]) {
		return false
	}
	after := line[sp1+1:]
	sp2 := bytes.IndexByte(after, ' ')
	if sp2 < 0 {
		return printable(after)
	}
	if !printable(after[:sp2]) {
		return false
	}
	proto := after[sp2+1:]
	const want = "HTTP/1.x"
	if len(proto) > len(want) {
		return false
	}
	for i := range proto {
		if want[i] == 'x' {
			if proto[i] < '0' || proto[i] > '9' {
				return false
			}
		} else if proto[i] != want[i] {
			return false
		}
	}
	return true
}

// isToken reports whether b is a non-empty RFC 9110 token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tchar[c] {
			return false
		}
	}
	return true
}

// printable reports whether b holds only visible ASCII, as a request target
// must. Targets run to tens of bytes, so it takes eight at a time, without
// a branch per byte: adding 0x5f carries into a byte's top bit exactly when
// the byte is above ' ', adding 0x01 exactly when it is 0x7f, and no byte
// carries into the next once bytes >= 0x80 are ruled out.
func printable(b []byte) bool {
	const (
		ones = 0x0101010101010101
		tops = 0x8080808080808080
	)
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		if x&tops != 0 || (x+ones*(0x80-'!'))&tops != tops || (x+ones*(0x80-0x7f))&tops != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// tchar marks the RFC 9110 token characters.
var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
