// Package parse is propwatch's propagation engine: given the header fields of
// one request (an HTTP/1.x head, or a Kafka record's headers), it decides
// whether the request carries trace context, whether that context is valid,
// how large its baggage is, and whether any propagated value looks like PII
// or a secret.
//
// The engine never keeps a raw value. A Verdict holds codes, counts, sizes
// and, when asked for, keyed fingerprints; that is all any output of
// propwatch can be built from.
//
// The sub-packages hold the pieces: http1 frames request heads, w3c judges
// traceparent, tracestate and baggage, formats the other propagation formats,
// pii the detectors, and reason the defect codes they share.
package parse

import (
	"bytes"
	"encoding/base64"

	"github.com/propwatch/propwatch/internal/parse/formats"
	"github.com/propwatch/propwatch/internal/parse/http1"
	"github.com/propwatch/propwatch/internal/parse/pii"
	"github.com/propwatch/propwatch/internal/parse/reason"
	"github.com/propwatch/propwatch/internal/parse/w3c"
)

// Context classifies the trace context of one request.
type Context uint8

const (
	// Missing: no trace context in any format.
	Missing Context = iota
	// Valid: a valid traceparent, or, with no traceparent, a valid context
	// in another format.
	Valid
	// Invalid: a traceparent that is not valid, or only malformed contexts
	// in other formats.
	Invalid
)

// String returns "missing", "valid" or "invalid", the words reports use.
func (c Context) String() string {
	switch c {
	case Valid:
		return "valid"
	case Invalid:
		return "invalid"
	default:
		return "missing"
	}
}

// Codes the engine adds on top of those of the format packages.
const (
	// TraceIDMismatch: the traceparent and another format on the same
	// request name different traces; one of the two propagators is fed
	// from a stale or foreign context.
	TraceIDMismatch reason.Code = "context.trace_id_mismatch"
	// TraceStateOrphan: tracestate without any traceparent. Receivers
	// must discard it, so whatever it carries is lost.
	TraceStateOrphan reason.Code = "tracestate.without_traceparent"
	// ContextFieldCut: the capture ended inside a trace-context field, so
	// that field could not be judged.
	ContextFieldCut reason.Code = "context.field_truncated"
)

// Part says where in a propagated entry a finding was.
type Part uint8

const (
	// PartValue: the entry's value.
	PartValue Part = iota
	// PartKey: the entry's key, which is PII itself.
	PartKey
	// PartProperty: a baggage member's properties.
	PartProperty
)

// String returns "value", "key" or "property".
func (p Part) String() string {
	switch p {
	case PartKey:
		return "key"
	case PartProperty:
		return "property"
	default:
		return "value"
	}
}

// Finding is one PII or secret detection. It locates the value and says
// how long it was; it never holds the value or the key it was found under.
type Finding struct {
	Kind pii.Kind
	// Header is the canonical name of the carrying header: "baggage",
	// "uberctx-*", "ot-baggage-*", "jaeger-baggage" or "sw8-correlation".
	// Prefixed names are reported with "*" because their suffix is a key
	// chosen by the application, and keys can be PII.
	Header string
	// Member is the entry's position: the member index across all baggage
	// headers, or the ordinal of the header among those of its name.
	Member int
	Part   Part
	// Length is the byte length of the raw (undecoded) text scanned.
	Length int
	// Fingerprint is a keyed, truncated HMAC of the raw text, set only when
	// the Analyzer has a Fingerprinter. Equal fingerprints within one
	// process mean equal values; across processes they mean nothing.
	Fingerprint string
}

// Verdict is the judgement of one request. It aliases the Analyzer that made
// it and is valid until that Analyzer's next call.
type Verdict struct {
	Context Context
	// ContextReason is the defect that made the context invalid: the
	// traceparent's, or with no traceparent the first malformed format's.
	// Empty unless Context is Invalid. Aggregates count invalid requests by
	// it, so that their reason counts add up to the invalid count.
	ContextReason reason.Code
	// Reasons lists every defect found, in the order found: context,
	// framing and baggage defects alike.
	Reasons reason.List
	// Formats holds every propagation format present, valid or not.
	Formats formats.Format
	// Baggage sizes the W3C baggage headers combined.
	Baggage w3c.BaggageStats
	// PII counts findings by kind, indexed by pii.Kind. A value counts
	// once per kind however often the kind appears in it.
	PII [pii.Phone + 1]int
	// SuspectKeys counts propagated keys whose name alone suggests PII or
	// a secret ("password", "ssn", "session_token").
	SuspectKeys int
	// Findings locates the PII counts, the first MaxFindings of them.
	Findings []Finding
	// FindingsDropped counts findings past MaxFindings: counted in PII,
	// not located.
	FindingsDropped int
	// Truncated is set when the request head was cut before its end.
	Truncated bool
	// Trace holds the ids of the context the request continues; it is set
	// only when Context is Valid (see TraceIDs).
	Trace TraceIDs
}

// TraceIDs are the ids of a request's valid trace context. They are the
// only values taken from the input that a Verdict holds: trace and span ids
// are random numbers the tracing SDKs make, not application data, and they
// are what lets an exporter put a span inside the request's own trace.
//
// With a valid traceparent, Format is formats.W3C and every field is set:
// ParentID is the caller's span, the parent of any span the receiver
// starts. With a valid context in another format only, Format names it and
// only TraceID is set, right-aligned as formats.Result has it (a 64-bit id
// fills bytes 8..15); the engine does not extract those formats' span ids.
// With no valid context, Format is 0 and the ids are zero.
type TraceIDs struct {
	TraceID  [16]byte
	ParentID [8]byte
	// Flags are the traceparent's trace flags (bit 0: sampled).
	Flags  byte
	Format formats.Format
}

// HasParent reports whether the ids name the caller's span too, which only
// a valid traceparent does.
func (t *TraceIDs) HasParent() bool { return t.Format == formats.W3C }

// Sampled reports the traceparent's sampled flag: the caller recorded its
// span, so the trace exists in the tracing backend.
func (t *TraceIDs) Sampled() bool { return t.Flags&w3c.FlagSampled != 0 }

// PIITotal is the number of PII findings of all kinds.
func (v *Verdict) PIITotal() int {
	n := 0
	for _, c := range v.PII {
		n += c
	}
	return n
}

// Problem reports whether anything is wrong with the request's propagation:
// context missing or invalid, any defect, oversized baggage, PII, or a
// suspect key. Baggage that is only at risk is not a problem by itself.
func (v *Verdict) Problem() bool {
	return v.Context != Valid || len(v.Reasons) > 0 || v.Baggage.Oversized ||
		v.PIITotal() > 0 || v.SuspectKeys > 0
}

// MaxFindings bounds the findings one Verdict locates, so that a hostile
// request with a million emails in its baggage costs counts, not memory.
const MaxFindings = 64

// Options configure an Analyzer.
type Options struct {
	// Baggage sets the limits baggage is judged against; the zero value
	// means w3c.DefaultBaggageLimits.
	Baggage w3c.BaggageLimits
	// Fingerprints, when not nil, adds a keyed fingerprint to every finding.
	Fingerprints *pii.Fingerprinter
}

// Analyzer judges requests. It owns every buffer a judgement needs, so a
// request without findings costs no allocation. An Analyzer is not safe for
// concurrent use; give each goroutine its own.
type Analyzer struct {
	opts Options

	verdict Verdict
	fmts    formats.Headers
	results []formats.Result
	bag     w3c.Baggage
	quiet   []quietHeader // by baggage header, see quietBaggage
	keys    pii.KeyMemo   // the hints of the baggage keys seen last

	traceparents    int
	traceparent     []byte
	tracestates     [][]byte
	baggages        [][]byte
	carriers        []carrier
	carrierOrdinals [formats.NumFields]int
	decoded         []byte
	// cutBaggageBytes is the size of the partial member a cut baggage
	// header ended with; its whole members are judged as usual.
	cutBaggageBytes int
}

// carrier is a non-W3C header whose value is application baggage.
type carrier struct {
	field   formats.Field
	ordinal int
	key     []byte // the key from the header name, for prefixed fields
	value   []byte
}

// NewAnalyzer returns an Analyzer configured by opts.
func NewAnalyzer(opts Options) *Analyzer {
	if opts.Baggage == (w3c.BaggageLimits{}) {
		opts.Baggage = w3c.DefaultBaggageLimits()
	}
	return &Analyzer{opts: opts}
}

// Head judges a parsed request head. Fields the capture cut short are not
// judged (a cut value is not a malformed one); the framing defects of the
// head are part of the verdict.
func (a *Analyzer) Head(h *http1.Head) *Verdict {
	v := a.judge(h.Fields, h.CutField)
	for _, d := range h.Defects {
		if d == http1.BareLF {
			continue // tolerated by every server, not a propagation problem
		}
		v.Reasons = v.Reasons.Add(d)
	}
	v.Truncated = h.Status == http1.StatusTruncated
	return v
}

// Fields judges a request given as a list of header fields, such as the
// headers of a Kafka record.
func (a *Analyzer) Fields(fields []http1.Field) *Verdict {
	return a.judge(fields, -1)
}

func (a *Analyzer) judge(fields []http1.Field, cut int) *Verdict {
	a.reset()
	v := &a.verdict
	for i := range fields {
		f := &fields[i]
		if i == cut {
			if http1.EqualFold(f.Name, "baggage") {
				a.cutBaggage(f.Value)
				continue
			}
			if a.isContextField(f.Name) {
				v.Reasons = v.Reasons.Add(ContextFieldCut)
			}
			continue
		}
		// Most fields (host, accept, user-agent, x-request-id, ...) have,
		// in one of their first three bytes, a byte that no propagation
		// field of their length has there: skip them without a call.
		if n := len(f.Name); n > 0 {
			lengths := propagationBytes[0][f.Name[0]]
			if n > 2 {
				lengths &= propagationBytes[1][f.Name[1]] & propagationBytes[2][f.Name[2]]
			}
			if lengths>>(n&31)&1 != 0 {
				a.collect(f)
			}
		}
	}
	a.judgeContext()
	a.judgeBaggage()
	if a.cutBaggageBytes > 0 {
		a.sizeCutBaggage()
	}
	for _, c := range a.carriers {
		a.scanCarrier(c)
	}
	return v
}

func (a *Analyzer) reset() {
	reasons, findings := a.verdict.Reasons[:0], a.verdict.Findings[:0]
	// Zeroed in place and then set: a composite literal with fields would
	// be built on the stack and copied over.
	a.verdict = Verdict{}
	a.verdict.Reasons, a.verdict.Findings = reasons, findings
	a.fmts.Reset()
	a.results = a.results[:0]
	a.traceparents, a.traceparent = 0, nil
	a.cutBaggageBytes = 0
	a.tracestates = a.tracestates[:0]
	a.baggages = a.baggages[:0]
	if len(a.carriers) > 0 {
		// Only a carrier moves an ordinal off zero.
		a.carrierOrdinals = [formats.NumFields]int{}
		a.carriers = a.carriers[:0]
	}
}

// propagationBytes[k] has bit n%32 of entry c set when some field collect
// sorts, W3C or not, has a name n bytes long whose byte k is c (in either
// case). The prefixed names (uberctx-*, ot-baggage-*) set every bit, since
// their length is open.
var propagationBytes = func() (t [3][256]uint32) {
	add := func(name string, anyLength bool) {
		lengths := uint32(1) << (len(name) & 31)
		if anyLength {
			lengths = ^uint32(0)
		}
		for k := 0; k < len(name) && k < len(t); k++ {
			c := name[k]
			t[k][c] |= lengths
			if c >= 'a' && c <= 'z' {
				t[k][c-'a'+'A'] |= lengths
			}
		}
	}
	for _, n := range []string{"traceparent", "tracestate", "baggage"} {
		add(n, false)
	}
	for f := formats.FieldB3; f < formats.NumFields; f++ {
		name := f.String()
		add(name, name[len(name)-1] == '*')
	}
	return t
}()

// collect sorts one field into the buckets the judgements read. The W3C names
// are tested first: they are the common case on instrumented traffic.
func (a *Analyzer) collect(f *http1.Field) {
	switch len(f.Name) {
	case len("traceparent"):
		if http1.EqualFold(f.Name, "traceparent") {
			a.traceparents++
			if a.traceparents == 1 {
				a.traceparent = f.Value
			}
			return
		}
	case len("tracestate"):
		if http1.EqualFold(f.Name, "tracestate") {
			a.tracestates = append(a.tracestates, f.Value)
			return
		}
	case len("baggage"):
		if http1.EqualFold(f.Name, "baggage") {
			a.baggages = append(a.baggages, f.Value)
			return
		}
	}
	fld := formats.Lookup(f.Name)
	if fld == formats.FieldNone {
		return
	}
	a.fmts.Add(fld, f.Value)
	if fld.CarriesBaggage() {
		c := carrier{field: fld, ordinal: a.carrierOrdinals[fld], value: f.Value}
		a.carrierOrdinals[fld]++
		if p := prefixOf(fld); p != "" && len(f.Name) > len(p) {
			c.key = f.Name[len(p):]
		}
		a.carriers = append(a.carriers, c)
	}
}

func (a *Analyzer) isContextField(name []byte) bool {
	return http1.EqualFold(name, "traceparent") || http1.EqualFold(name, "tracestate") ||
		http1.EqualFold(name, "baggage") || formats.Lookup(name) != formats.FieldNone
}

// judgeContext classifies the request and checks that its formats agree.
func (a *Analyzer) judgeContext() {
	v := &a.verdict
	var tp w3c.TraceParent
	var tpCode, otherCode reason.Code
	tpValid := false
	switch {
	case a.traceparents > 1:
		// Two traceparents make the context ambiguous; the W3C test suite
		// expects the receiver to restart the trace.
		v.Reasons = v.Reasons.Add(w3c.TraceParentDuplicate)
		tpCode = w3c.TraceParentDuplicate
	case a.traceparents == 1:
		var code reason.Code
		tp, code = w3c.ParseTraceParent(a.traceparent)
		if code == "" {
			tpValid = true
			// Valid, yet senders must zero these bits, and older
			// OpenTelemetry SDKs drop a traceparent that sets them.
			if tp.ReservedFlags() != 0 {
				v.Reasons = v.Reasons.Add(w3c.TraceParentReservedFlags)
			}
		} else {
			v.Reasons = v.Reasons.Add(code)
		}
		tpCode = code
	}
	if a.traceparents > 0 {
		v.Formats |= formats.W3C
	}
	if len(a.tracestates) > 0 {
		v.Formats |= formats.W3C
		if a.traceparents == 0 {
			v.Reasons = v.Reasons.Add(TraceStateOrphan)
		}
		// A tracestate defect never invalidates the traceparent (W3C
		// processing model), so it is a reason but not a classification.
		_, v.Reasons = w3c.CheckTraceState(a.tracestates, v.Reasons)
	}

	a.results = a.fmts.Evaluate(a.results[:0])
	otherValid, otherPresent := false, false
	otherID := -1 // the first valid result with a trace id
	for i, r := range a.results {
		v.Formats |= r.Format
		otherPresent = true
		if r.Valid {
			otherValid = true
			if otherID < 0 && r.TraceIDBits > 0 {
				otherID = i
			}
		} else {
			v.Reasons = v.Reasons.Add(r.Defect)
			if otherCode == "" {
				otherCode = r.Defect
			}
		}
		if tpValid && r.Valid && r.TraceIDBits > 0 && !sameTrace(tp.TraceID, r) {
			v.Reasons = v.Reasons.Add(TraceIDMismatch)
		}
	}

	switch {
	case a.traceparents > 0 && tpValid:
		v.Context = Valid
		t := &v.Trace
		t.TraceID, t.ParentID, t.Flags, t.Format = tp.TraceID, tp.ParentID, tp.Flags, formats.W3C
	case a.traceparents > 0:
		v.Context, v.ContextReason = Invalid, tpCode
	case otherValid:
		v.Context = Valid
		if otherID >= 0 {
			r := &a.results[otherID]
			v.Trace.TraceID, v.Trace.Format = r.TraceID, r.Format
		}
	case otherPresent:
		v.Context, v.ContextReason = Invalid, otherCode
	default:
		v.Context = Missing
	}
}

// sameTrace compares a traceparent trace id with another format's. A 64-bit
// id (B3, Datadog without _dd.p.tid) is compared with the low half, which is
// how propagators that translate between the two fill the high half.
func sameTrace(id [16]byte, r formats.Result) bool {
	if r.TraceIDBits == 64 {
		return [8]byte(id[8:]) == [8]byte(r.TraceID[8:])
	}
	return id == r.TraceID
}

// cutBaggage takes a baggage header the capture cut short. Its whole
// members are judged like any others; the partial last one is not judged
// but its bytes count, because a baggage header too long for the capture
// is exactly the oversized baggage propwatch exists to report.
func (a *Analyzer) cutBaggage(value []byte) {
	a.verdict.Reasons = a.verdict.Reasons.Add(ContextFieldCut)
	whole := value[:0]
	if i := bytes.LastIndexByte(value, ','); i >= 0 {
		whole = value[:i]
	}
	if len(whole) > 0 {
		a.baggages = append(a.baggages, whole)
	}
	// The comma before the partial member counts with it.
	a.cutBaggageBytes = len(value) - len(whole)
}

// sizeCutBaggage adds the partial member of a cut baggage header to the
// sizes. The result is a lower bound of the real size.
func (a *Analyzer) sizeCutBaggage() {
	b := &a.verdict.Baggage
	if b.Headers == 0 {
		b.Headers = 1
	}
	b.Members++
	b.Bytes += a.cutBaggageBytes
	lim := a.opts.Baggage
	b.AtRisk = b.Bytes > lim.AtRiskBytes
	if b.Bytes > lim.MaxBytes && !b.Oversized {
		b.Oversized = true
		a.verdict.Reasons = a.verdict.Reasons.Add(w3c.BaggageOversizedBytes)
	}
	if b.Members > lim.MaxMembers && !a.verdict.Reasons.Has(w3c.BaggageOversizedMembers) {
		b.Oversized = true
		a.verdict.Reasons = a.verdict.Reasons.Add(w3c.BaggageOversizedMembers)
	}
}

// judgeBaggage sizes the W3C baggage and scans every member for PII.
func (a *Analyzer) judgeBaggage() {
	if len(a.baggages) == 0 {
		return
	}
	v := &a.verdict
	a.quietBaggage()
	a.bag.Reset(a.baggages, a.opts.Baggage)
	var m w3c.BaggageMember
	for a.bag.Read(&m) {
		hint := a.keys.Classify(m.Key)
		if hint.Suspect() {
			v.SuspectKeys++
		}
		q := &a.quiet[m.Header]
		if !q.quiet {
			a.scan("baggage", m.Index, PartKey, m.Key, 0, false)
			a.scan("baggage", m.Index, PartValue, m.Value, hint, false)
			if len(m.Properties) > 0 {
				a.scan("baggage", m.Index, PartProperty, m.Properties, 0, false)
			}
			continue
		}
		// In a quiet header, only the decoding of parts with escapes can
		// hold a finding.
		hdr := a.baggages[m.Header]
		if q.escaped(hdr, m.Key) {
			a.scan("baggage", m.Index, PartKey, m.Key, 0, true)
		}
		if q.escaped(hdr, m.Value) {
			a.scan("baggage", m.Index, PartValue, m.Value, hint, true)
		}
		if q.escaped(hdr, m.Properties) {
			a.scan("baggage", m.Index, PartProperty, m.Properties, 0, true)
		}
	}
	v.Baggage = a.bag.Stats()
	v.Reasons = a.bag.Defects(v.Reasons)
}

// quietHeader is what quietBaggage learnt about one baggage header.
type quietHeader struct {
	// quiet: pii.Quiet holds for the header, so none of its members'
	// keys, values or properties holds a finding as sent. pii.Quiet
	// answers for these parts, not only for the whole header, because
	// each starts after a separator or OWS, never after a letter or digit.
	quiet bool
	// Every '%' of the header lies in [escLo, escHi), as offsets into it;
	// the span is empty when the header has none.
	escLo, escHi int
}

// escaped reports whether part, a sub-slice of the header hdr, may hold a
// '%' and so needs its decoding scanned. Its offset in hdr is told by the
// capacities, as both share one backing array.
func (q *quietHeader) escaped(hdr, part []byte) bool {
	if len(part) == 0 {
		return false
	}
	off := cap(hdr) - cap(part)
	return off < q.escHi && off+len(part) > q.escLo
}

// quietBaggage fills a.quiet for the baggage headers. The members of a
// quiet header need no scan as sent; of those, the ones with escapes still
// need their decoding scanned, which quietBaggage cannot vouch for.
func (a *Analyzer) quietBaggage() {
	a.quiet = a.quiet[:0]
	for _, b := range a.baggages {
		q := quietHeader{quiet: pii.Quiet(b)}
		if i := bytes.IndexByte(b, '%'); i >= 0 {
			q.escLo, q.escHi = i, bytes.LastIndexByte(b, '%')+1
		}
		a.quiet = append(a.quiet, q)
	}
}

// scanCarrier scans a non-W3C baggage header: a prefixed single entry
// (uberctx-KEY, ot-baggage-KEY) or a list (jaeger-baggage, sw8-correlation).
func (a *Analyzer) scanCarrier(c carrier) {
	name := carrierName(c.field)
	switch c.field {
	case formats.FieldJaegerBaggage:
		// "k1=v1, k2=v2": Jaeger's own header for ad-hoc baggage.
		for item, rest := nextItem(c.value); item != nil || len(rest) > 0; item, rest = nextItem(rest) {
			key, val := splitPair(http1.TrimOWS(item), '=')
			a.entry(name, c.ordinal, key, val)
		}
	case formats.FieldSW8Correlation:
		// "base64(key):base64(value),…" as SkyWalking's cross-process
		// correlation protocol sends it.
		for item, rest := nextItem(c.value); item != nil || len(rest) > 0; item, rest = nextItem(rest) {
			k64, v64 := splitPair(item, ':')
			var kb, vb [256]byte
			key, val := decodeBase64(kb[:], k64), decodeBase64(vb[:], v64)
			a.entry(name, c.ordinal, key, val)
		}
	default:
		a.entry(name, c.ordinal, c.key, c.value)
	}
}

// entry scans one key and value of a non-W3C carrier.
func (a *Analyzer) entry(header string, ordinal int, key, value []byte) {
	hint := a.keys.Classify(key)
	if hint.Suspect() {
		a.verdict.SuspectKeys++
	}
	a.scan(header, ordinal, PartKey, key, 0, false)
	a.scan(header, ordinal, PartValue, value, hint, false)
}

// scan runs the detectors over raw, unless rawQuiet says they would find
// nothing there, and, when it has escapes, over its percent-decoding, and
// records one finding per kind found in either.
func (a *Analyzer) scan(header string, member int, part Part, raw []byte, hint pii.KeyHint, rawQuiet bool) {
	if len(raw) == 0 {
		return
	}
	var found pii.Set
	if !rawQuiet {
		found = pii.Scan(raw, hint)
	}
	if bytes.IndexByte(raw, '%') >= 0 {
		a.decoded, _ = w3c.PercentDecode(a.decoded[:0], raw)
		if !pii.Quiet(a.decoded) {
			found |= pii.Scan(a.decoded, hint)
		}
	}
	if found == 0 {
		return
	}
	v := &a.verdict
	for _, k := range pii.AllKinds() {
		if !found.Has(k) {
			continue
		}
		v.PII[k]++
		if len(v.Findings) >= MaxFindings {
			v.FindingsDropped++
			continue
		}
		f := Finding{Kind: k, Header: header, Member: member, Part: part, Length: len(raw)}
		if a.opts.Fingerprints != nil {
			f.Fingerprint = a.opts.Fingerprints.Sum(raw)
		}
		v.Findings = append(v.Findings, f)
	}
}

// prefixOf returns the name prefix of a prefixed baggage field.
func prefixOf(f formats.Field) string {
	switch f {
	case formats.FieldUberCtx:
		return "uberctx-"
	case formats.FieldOTBaggage:
		return "ot-baggage-"
	}
	return ""
}

// carrierName is the name findings report for a carrier field.
func carrierName(f formats.Field) string {
	switch f {
	case formats.FieldUberCtx:
		return "uberctx-*"
	case formats.FieldOTBaggage:
		return "ot-baggage-*"
	case formats.FieldJaegerBaggage:
		return "jaeger-baggage"
	case formats.FieldSW8Correlation:
		return "sw8-correlation"
	}
	return "unknown"
}

// nextItem splits the first comma-separated item off list. It returns a
// nil item and nil rest when list is empty.
func nextItem(list []byte) (item, rest []byte) {
	if len(list) == 0 {
		return nil, nil
	}
	if i := bytes.IndexByte(list, ','); i >= 0 {
		return list[:i], list[i+1:]
	}
	return list, nil
}

func splitPair(b []byte, sep byte) (key, value []byte) {
	if i := bytes.IndexByte(b, sep); i >= 0 {
		return http1.TrimOWS(b[:i]), http1.TrimOWS(b[i+1:])
	}
	return http1.TrimOWS(b), nil
}

// decodeBase64 decodes standard base64 (padding optional) into dst, which
// bounds the result: SkyWalking caps correlation entries far below it.
// Undecodable input is scanned as it is.
func decodeBase64(dst []byte, src []byte) []byte {
	src = bytes.TrimRight(src, "=")
	if base64.RawStdEncoding.DecodedLen(len(src)) > len(dst) {
		return src
	}
	n, err := base64.RawStdEncoding.Decode(dst, src)
	if err != nil {
		return src
	}
	return dst[:n]
}
