package parse

import (
	"bytes"

	"github.com/propwatch/propwatch/internal/parse/formats"
	"github.com/propwatch/propwatch/internal/parse/http1"
	"github.com/propwatch/propwatch/internal/parse/pii"
	"github.com/propwatch/propwatch/internal/parse/w3c"
)

// The engine as it was before its shortcuts (the name filter in judge, the
// quiet baggage headers, the lazy reset of carrier ordinals): every field
// goes through collect and every part of every baggage member through
// Scan. It shares judgeContext, the cut-field helpers and the sub-packages
// with the engine, which have tests of their own against references. It is
// the oracle of FuzzEngineShortcuts and must not be optimised.

func (a *Analyzer) refHead(h *http1.Head) *Verdict {
	v := a.refJudge(h.Fields, h.CutField)
	for _, d := range h.Defects {
		if d == http1.BareLF {
			continue // tolerated by every server, not a propagation problem
		}
		v.Reasons = v.Reasons.Add(d)
	}
	v.Truncated = h.Status == http1.StatusTruncated
	return v
}

func (a *Analyzer) refJudge(fields []http1.Field, cut int) *Verdict {
	a.refReset()
	v := &a.verdict
	for i, f := range fields {
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
		a.refCollect(f)
	}
	a.judgeContext()
	a.refJudgeBaggage()
	if a.cutBaggageBytes > 0 {
		a.sizeCutBaggage()
	}
	for _, c := range a.carriers {
		a.refScanCarrier(c)
	}
	return v
}

func (a *Analyzer) refReset() {
	a.verdict = Verdict{Reasons: a.verdict.Reasons[:0], Findings: a.verdict.Findings[:0]}
	a.fmts.Reset()
	a.results = a.results[:0]
	a.traceparents, a.traceparent = 0, nil
	a.cutBaggageBytes = 0
	a.tracestates = a.tracestates[:0]
	a.baggages = a.baggages[:0]
	a.carriers = a.carriers[:0]
	a.carrierOrdinals = [formats.NumFields]int{}
}

func (a *Analyzer) refCollect(f http1.Field) {
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

func (a *Analyzer) refJudgeBaggage() {
	if len(a.baggages) == 0 {
		return
	}
	v := &a.verdict
	a.bag.Reset(a.baggages, a.opts.Baggage)
	for {
		m, ok := a.bag.Next()
		if !ok {
			break
		}
		hint := pii.ClassifyKey(m.Key)
		if hint.Suspect() {
			v.SuspectKeys++
		}
		a.refScan("baggage", m.Index, PartKey, m.Key, 0)
		a.refScan("baggage", m.Index, PartValue, m.Value, hint)
		if len(m.Properties) > 0 {
			a.refScan("baggage", m.Index, PartProperty, m.Properties, 0)
		}
	}
	v.Baggage = a.bag.Stats()
	v.Reasons = a.bag.Defects(v.Reasons)
}

func (a *Analyzer) refScanCarrier(c carrier) {
	name := carrierName(c.field)
	switch c.field {
	case formats.FieldJaegerBaggage:
		// "k1=v1, k2=v2": Jaeger's own header for ad-hoc baggage.
		for item, rest := nextItem(c.value); item != nil || len(rest) > 0; item, rest = nextItem(rest) {
			key, val := splitPair(http1.TrimOWS(item), '=')
			a.refEntry(name, c.ordinal, key, val)
		}
	case formats.FieldSW8Correlation:
		// "base64(key):base64(value),…" as SkyWalking's cross-process
		// correlation protocol sends it.
		for item, rest := nextItem(c.value); item != nil || len(rest) > 0; item, rest = nextItem(rest) {
			k64, v64 := splitPair(item, ':')
			var kb, vb [256]byte
			key, val := decodeBase64(kb[:], k64), decodeBase64(vb[:], v64)
			a.refEntry(name, c.ordinal, key, val)
		}
	default:
		a.refEntry(name, c.ordinal, c.key, c.value)
	}
}

// refEntry scans one key and value of a non-W3C carrier.
func (a *Analyzer) refEntry(header string, ordinal int, key, value []byte) {
	hint := pii.ClassifyKey(key)
	if hint.Suspect() {
		a.verdict.SuspectKeys++
	}
	a.refScan(header, ordinal, PartKey, key, 0)
	a.refScan(header, ordinal, PartValue, value, hint)
}

// refScan runs the detectors over raw and, when it has escapes, over its
// percent-decoding, and records one finding per kind found in either.
func (a *Analyzer) refScan(header string, member int, part Part, raw []byte, hint pii.KeyHint) {
	if len(raw) == 0 {
		return
	}
	found := pii.Scan(raw, hint)
	if bytes.IndexByte(raw, '%') >= 0 {
		a.decoded, _ = w3c.PercentDecode(a.decoded[:0], raw)
		found |= pii.Scan(a.decoded, hint)
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
