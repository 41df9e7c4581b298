package w3c

import (
	"bytes"

	"github.com/propwatch/propwatch/internal/parse/reason"
)

// BaggageLimits are the thresholds the combined baggage list is judged by.
// A field that is zero or negative takes its DefaultBaggageLimits value, so
// the zero BaggageLimits means "the spec's limits", never "no baggage".
type BaggageLimits struct {
	// MaxBytes: beyond it the list is oversized (BaggageOversizedBytes).
	MaxBytes int
	// MaxMembers: beyond it the list is oversized (BaggageOversizedMembers).
	MaxMembers int
	// AtRiskBytes: beyond it common proxies start to reject the header line.
	AtRiskBytes int
}

// DefaultBaggageLimits returns the W3C Baggage minimums every platform MUST
// propagate (8192 bytes, 64 members) and 4096 bytes as the at-risk mark:
// a list at the 8192-byte minimum already exceeds Apache's default 8190-byte
// field limit and fills nginx's 8 KiB header buffer.
func DefaultBaggageLimits() BaggageLimits {
	return BaggageLimits{MaxBytes: 8192, MaxMembers: 64, AtRiskBytes: 4096}
}

// BaggageMember is one list member of the combined baggage list. Its byte
// slices point into the caller's header values; nothing is copied.
type BaggageMember struct {
	// Header is the index of the header value this member came from.
	Header int
	// Index is the 0-based member index across all headers combined.
	Index int
	// Key is the raw key, OWS-trimmed (may be empty or invalid). For a member
	// without '=' it is the whole text before the first ';'.
	Key []byte
	// Value is the raw value, still percent-encoded and OWS-trimmed; see
	// PercentDecode.
	Value []byte
	// Properties is the raw text after the first ';', OWS-trimmed; empty
	// when the member has none.
	Properties []byte
	// Valid reports whether the member matches the W3C grammar.
	Valid bool
	// Defect is the first defect found in the member; "" when Valid.
	Defect reason.Code
}

// BaggageStats describes the combined baggage list of one request.
type BaggageStats struct {
	// Headers is the number of baggage header values.
	Headers int
	// Members counts every list member, malformed and empty ones included:
	// a header value with n commas holds n+1 members.
	Members int
	// Bytes is the length of the combined value: the OWS-trimmed header
	// values plus one joining comma between each two of them.
	Bytes int
	// Oversized: Bytes > MaxBytes or Members > MaxMembers.
	Oversized bool
	// AtRisk: Bytes > AtRiskBytes.
	AtRisk bool
}

// memberDefects are the per-member codes, indexed by the bit Baggage
// records them with.
var memberDefects = [...]reason.Code{
	BaggageEmptyMember, BaggageInvalidKey, BaggageMissingEquals,
	BaggageInvalidValue, BaggageBadPercentEncoding, BaggageInvalidProperty,
}

// Baggage iterates the members of all baggage header values of a request,
// combined as one list, and yields malformed members too so that the caller
// can still scan their bytes for PII. It keeps no copy of the input and
// never allocates. The zero value is ready once Reset is called.
type Baggage struct {
	values  [][]byte
	lim     BaggageLimits
	hdr     int    // header the next member comes from
	rest    []byte // unread part of values[hdr], already OWS-trimmed
	more    bool   // values[hdr] still owes a member (possibly an empty one)
	stats   BaggageStats
	seen    uint8                     // bit i: memberDefects[i] was found
	order   [len(memberDefects)]uint8 // memberDefects indexes, first-found first
	nOrder  int
	tooMany bool
}

// Reset starts an iteration over values (the values of every baggage header
// of one request, in order) judged by lim.
func (b *Baggage) Reset(values [][]byte, lim BaggageLimits) {
	def := DefaultBaggageLimits()
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = def.MaxBytes
	}
	if lim.MaxMembers <= 0 {
		lim.MaxMembers = def.MaxMembers
	}
	if lim.AtRiskBytes <= 0 {
		lim.AtRiskBytes = def.AtRiskBytes
	}
	// Zeroed in place and then set: a composite literal with fields would
	// be built on the stack and copied over.
	*b = Baggage{}
	b.values, b.lim = values, lim
	b.stats.Headers = len(values)
	for i, v := range values {
		b.stats.Bytes += len(trimOWS(v))
		if i > 0 {
			b.stats.Bytes++
		}
	}
	b.stats.AtRisk = b.stats.Bytes > lim.AtRiskBytes
	b.stats.Oversized = b.stats.Bytes > lim.MaxBytes
	if len(values) > 0 {
		b.rest = trimOWS(values[0])
		b.more = true
	}
}

// Next returns the next member, or false when the list is exhausted.
func (b *Baggage) Next() (BaggageMember, bool) {
	var m BaggageMember
	ok := b.Read(&m)
	return m, ok
}

// Read is Next writing the member to *m, which spares the copy a return
// makes; *m is overwritten whole, and left zero when Read reports false.
func (b *Baggage) Read(m *BaggageMember) bool {
	for !b.more {
		if b.hdr+1 >= len(b.values) {
			b.hdr = len(b.values)
			*m = BaggageMember{}
			return false
		}
		b.hdr++
		b.rest = trimOWS(b.values[b.hdr])
		b.more = true
	}
	if !b.simpleMember(m) {
		*m = BaggageMember{Header: b.hdr, Index: b.stats.Members}
		var raw []byte
		if i := bytes.IndexByte(b.rest, ','); i >= 0 {
			raw, b.rest = b.rest[:i], b.rest[i+1:]
		} else {
			raw, b.rest, b.more = b.rest, nil, false
		}
		parseBaggageMember(m, trimOWS(raw))
	}
	b.stats.Members++
	if b.stats.Members > b.lim.MaxMembers {
		b.stats.Oversized = true
		b.tooMany = true
	}
	if !m.Valid {
		b.note(m.Defect)
	}
	return true
}

// simpleMember reads the next member into *m when it is a valid one
// without properties, "key = value" up to the next ',' or the end, and
// advances past it. The scan that validates the member also finds its end,
// which spares the separate search for the ','. Any other member is left to
// the general path: simpleMember then reports false and changes nothing.
func (b *Baggage) simpleMember(m *BaggageMember) bool {
	r := b.rest
	i, n := 0, len(r)
	for i < n && isOWS(r[i]) {
		i++
	}
	k := i
	i = span(r, i, clsToken)
	if i == k {
		return false
	}
	key := r[k:i]
	for i < n && isOWS(r[i]) {
		i++
	}
	if i == n || r[i] != '=' {
		return false
	}
	i++
	for i < n && isOWS(r[i]) {
		i++
	}
	v := i
	for {
		i = span(r, i, clsValueChar)
		if i == n || r[i] != '%' {
			break
		}
		// Neither ',' nor OWS is hex, so an escape the member's end cuts
		// short fails here as it does in parseBaggageMember.
		if i+2 >= n || !isHex(r[i+1]) || !isHex(r[i+2]) {
			return false
		}
		i += 3
	}
	value := r[v:i]
	for i < n && isOWS(r[i]) {
		i++
	}
	switch {
	case i == n:
		b.rest, b.more = nil, false
	case r[i] == ',':
		b.rest = r[i+1:]
	default:
		return false
	}
	// Field by field: a composite literal would be built on the stack and
	// copied.
	m.Header, m.Index = b.hdr, b.stats.Members
	m.Key, m.Value, m.Properties = key, value, nil
	m.Valid, m.Defect = true, ""
	return true
}

func (b *Baggage) note(c reason.Code) {
	for i, d := range memberDefects {
		if d == c {
			if b.seen&(1<<i) == 0 {
				b.seen |= 1 << i
				b.order[b.nOrder] = uint8(i)
				b.nOrder++
			}
			return
		}
	}
}

// Stats returns the list's statistics; Members and Oversized are complete
// once Next has returned false.
func (b *Baggage) Stats() BaggageStats { return b.stats }

// Defects appends the distinct defects found so far to dst: the member
// defects in the order first found, then BaggageOversizedBytes and
// BaggageOversizedMembers. The list is complete once Next has returned false.
func (b *Baggage) Defects(dst reason.List) reason.List {
	for _, i := range b.order[:b.nOrder] {
		dst = dst.Add(memberDefects[i])
	}
	if b.stats.Bytes > b.lim.MaxBytes {
		dst = dst.Add(BaggageOversizedBytes)
	}
	if b.tooMany {
		dst = dst.Add(BaggageOversizedMembers)
	}
	return dst
}

// parseBaggageMember splits and judges one OWS-trimmed list member:
//
//	list-member = key OWS "=" OWS value *( OWS ";" OWS property )
//
// Well-formed members take one pass; anything unexpected sends the member to
// diagnoseBaggageMember, which splits it the same way but names the defect.
func parseBaggageMember(r *BaggageMember, m []byte) {
	i, n := 0, len(m)
	for i < n && class[m[i]]&clsToken != 0 {
		i++
	}
	if i == 0 {
		diagnoseBaggageMember(r, m)
		return
	}
	key := m[:i]
	for i < n && isOWS(m[i]) {
		i++
	}
	if i == n || m[i] != '=' {
		diagnoseBaggageMember(r, m)
		return
	}
	i++
	for i < n && isOWS(m[i]) {
		i++
	}
	start := i
	for i < n && class[m[i]]&clsBaggageOctet != 0 {
		if m[i] == '%' {
			if i+2 >= n || !isHex(m[i+1]) || !isHex(m[i+2]) {
				diagnoseBaggageMember(r, m)
				return
			}
			i += 2
		}
		i++
	}
	value := m[start:i]
	for i < n && isOWS(m[i]) {
		i++
	}
	if i < n {
		if m[i] != ';' || checkProperties(m[i+1:]) != "" {
			diagnoseBaggageMember(r, m)
			return
		}
		r.Properties = trimOWS(m[i+1:])
	}
	r.Key, r.Value, r.Valid = key, value, true
}

// diagnoseBaggageMember splits a member that did not scan cleanly and names
// its first defect. Values cannot hold ';', so the first ';' always starts
// the properties, and keys cannot hold '=', so the first '=' before it ends
// the key; malformed members are split the same way so that their bytes
// still reach the caller.
func diagnoseBaggageMember(r *BaggageMember, m []byte) {
	if len(m) == 0 {
		r.Defect = BaggageEmptyMember
		return
	}
	kv := m
	if i := bytes.IndexByte(m, ';'); i >= 0 {
		kv = m[:i]
		r.Properties = trimOWS(m[i+1:])
	}
	eq := bytes.IndexByte(kv, '=')
	if eq < 0 {
		r.Key = trimOWS(kv)
		r.Defect = BaggageMissingEquals
		return
	}
	r.Key = trimOWS(kv[:eq])
	r.Value = trimOWS(kv[eq+1:])
	switch {
	case len(r.Key) == 0 || !allIn(r.Key, clsToken):
		r.Defect = BaggageInvalidKey
	case !allIn(r.Value, clsBaggageOctet):
		r.Defect = BaggageInvalidValue
	case !validEscapes(r.Value):
		r.Defect = BaggageBadPercentEncoding
	case len(kv) < len(m):
		r.Defect = checkProperties(m[len(kv)+1:])
	}
	r.Valid = r.Defect == ""
}

// checkProperties judges the text after a member's first ';', each
// ';'-separated property being
//
//	property = key OWS "=" OWS value / key OWS
//
// in one pass. The first defective property decides the code; within it, a
// character outside the grammar outranks a malformed escape, as it does for
// member values.
func checkProperties(p []byte) reason.Code {
	i, n := 0, len(p)
	for {
		for i < n && isOWS(p[i]) {
			i++
		}
		start := i
		for i < n && class[p[i]]&clsToken != 0 {
			i++
		}
		if i == start {
			return BaggageInvalidProperty
		}
		for i < n && isOWS(p[i]) {
			i++
		}
		badEscape := false
		if i < n && p[i] == '=' {
			i++
			for i < n && isOWS(p[i]) {
				i++
			}
			for i < n && class[p[i]]&clsBaggageOctet != 0 {
				if p[i] == '%' && (i+2 >= n || !isHex(p[i+1]) || !isHex(p[i+2])) {
					badEscape = true
				}
				i++
			}
			for i < n && isOWS(p[i]) {
				i++
			}
		}
		switch {
		case i < n && p[i] != ';':
			return BaggageInvalidProperty
		case badEscape:
			return BaggageBadPercentEncoding
		case i == n:
			return ""
		}
		i++
	}
}
