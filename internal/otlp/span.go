package otlp

import (
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/propwatch/propwatch/internal/parse"
	"github.com/propwatch/propwatch/internal/parse/formats"
	"github.com/propwatch/propwatch/internal/parse/pii"
	"github.com/propwatch/propwatch/internal/parse/reason"
	"github.com/propwatch/propwatch/internal/parse/w3c"
	"github.com/propwatch/propwatch/internal/report"
)

// ChainNewRoot is the continuity finding of a request that carries a valid
// context its sender did not receive: the sender split the trace. It is
// the chain value the continuity code passes to Evidence.
const ChainNewRoot = "new_root"

// Finding classes, the words a span's name and its propwatch.findings
// attribute use, in the order a span's name picks them; a continuity
// finding (ChainNewRoot) comes before them all.
const (
	FindingPII              = "pii"
	FindingSuspectKeys      = "suspect_keys"
	FindingBaggageOversized = "baggage_oversized"
	FindingBaggageAtRisk    = "baggage_at_risk"
	FindingDefects          = "defects"
)

// maxDefects bounds the defect codes an evidence keeps, as the observer's
// queue does: a request with more is hostile, and the first tell its story.
const maxDefects = 16

// evidence is what a span is built from: a copy of the parts of a verdict
// that spans report, so that it can wait in the queue after the verdict is
// reused. It holds codes, counts, sizes, the pair's names and the ids, and
// nothing else from the request.
type evidence struct {
	at        time.Time
	pair      report.PairKey
	trace     parse.TraceIDs
	defects   [maxDefects]reason.Code
	ndefects  int
	formats   formats.Format
	baggage   w3c.BaggageStats
	pii       [pii.Phone + 1]int
	suspect   int
	truncated bool
	chain     string
}

// hasFinding reports whether a verdict, with its continuity finding chain,
// is worth a span: any defect, oversized or at-risk baggage, PII, a
// suspect key, or a continuity finding.
func hasFinding(v *parse.Verdict, chain string) bool {
	return chain != "" || len(v.Reasons) > 0 || v.Baggage.Oversized || v.Baggage.AtRisk ||
		v.SuspectKeys > 0 || v.PIITotal() > 0
}

// set copies what spans report from v.
func (e *evidence) set(at time.Time, pair report.PairKey, v *parse.Verdict, chain string) {
	e.at, e.pair, e.trace, e.chain = at, pair, v.Trace, chain
	e.ndefects = copy(e.defects[:], v.Reasons)
	e.formats, e.baggage, e.pii = v.Formats, v.Baggage, v.PII
	e.suspect, e.truncated = v.SuspectKeys, v.Truncated
}

// piiTotal is the number of PII findings of all kinds.
func (e *evidence) piiTotal() int {
	n := 0
	for _, c := range e.pii {
		n += c
	}
	return n
}

// findings lists the finding classes of e, most telling first.
func (e *evidence) findings() []string {
	var out []string
	if e.chain != "" {
		out = append(out, e.chain)
	}
	if e.piiTotal() > 0 {
		out = append(out, FindingPII)
	}
	if e.suspect > 0 {
		out = append(out, FindingSuspectKeys)
	}
	if e.baggage.Oversized {
		out = append(out, FindingBaggageOversized)
	}
	if e.baggage.AtRisk {
		out = append(out, FindingBaggageAtRisk)
	}
	if e.ndefects > 0 {
		out = append(out, FindingDefects)
	}
	return out
}

// spanName is "propwatch: " and the most telling finding; for defects alone,
// the first defect code, which says more than the class and is as bounded
// (a few dozen constants), so backends can still group spans by name.
func (e *evidence) spanName(findings []string) string {
	if len(findings) == 0 {
		return "propwatch"
	}
	if findings[0] == FindingDefects {
		return "propwatch: " + string(e.defects[0])
	}
	return "propwatch: " + findings[0]
}

// Attribute keys of evidence spans. Every value is a code, a count, a size,
// a flag or a pair's name as the metrics label it; never a header value,
// key or URL.
const (
	AttrSource      = "propwatch.source"
	AttrDestination = "propwatch.destination"
	AttrProtocol    = "propwatch.protocol"
	// AttrSourceNamespace and AttrDestinationNamespace are the pair's
	// Kubernetes namespaces, present only in a cluster.
	AttrSourceNamespace      = "propwatch.source.namespace"
	AttrDestinationNamespace = "propwatch.destination.namespace"
	AttrFindings             = "propwatch.findings"
	AttrDefects              = "propwatch.defects"
	AttrFormats              = "propwatch.formats"
	AttrBaggageHeaders       = "propwatch.baggage.headers"
	AttrBaggageMembers       = "propwatch.baggage.members"
	AttrBaggageBytes         = "propwatch.baggage.bytes"
	AttrBaggageOversized     = "propwatch.baggage.oversized"
	AttrBaggageAtRisk        = "propwatch.baggage.at_risk"
	AttrPIIKinds             = "propwatch.pii.kinds"
	// AttrPIIPrefix starts the count of one PII kind: propwatch.pii.email.
	AttrPIIPrefix   = "propwatch.pii."
	AttrSuspectKeys = "propwatch.suspect_keys"
	AttrTruncated   = "propwatch.truncated"
	AttrChain       = "propwatch.chain"
	// AttrTLS is true on a request read as plaintext at a TLS library,
	// and absent on socket bytes, as the namespaces are off-cluster.
	AttrTLS = "propwatch.tls"
)

// attributes builds the span's attributes. Optional ones are left out when
// they would say nothing (no baggage, no PII), so a span shows what was
// found at a glance.
func (e *evidence) attributes(findings []string) []attribute.KeyValue {
	pair := report.Sanitize(e.pair)
	attrs := make([]attribute.KeyValue, 0, 16)
	attrs = append(attrs,
		attribute.String(AttrSource, pair.Source),
		attribute.String(AttrDestination, pair.Destination),
		attribute.String(AttrProtocol, pair.Protocol),
		attribute.StringSlice(AttrFindings, findings),
		attribute.StringSlice(AttrFormats, e.formats.AppendNames(nil)),
	)
	if pair.SourceNamespace != "" {
		attrs = append(attrs, attribute.String(AttrSourceNamespace, pair.SourceNamespace))
	}
	if pair.DestinationNamespace != "" {
		attrs = append(attrs, attribute.String(AttrDestinationNamespace, pair.DestinationNamespace))
	}
	if pair.TLS {
		attrs = append(attrs, attribute.Bool(AttrTLS, true))
	}
	if e.ndefects > 0 {
		codes := make([]string, e.ndefects)
		for i, c := range e.defects[:e.ndefects] {
			codes[i] = string(c)
		}
		attrs = append(attrs, attribute.StringSlice(AttrDefects, codes))
	}
	if b := e.baggage; b.Headers > 0 {
		attrs = append(attrs,
			attribute.Int(AttrBaggageHeaders, b.Headers),
			attribute.Int(AttrBaggageMembers, b.Members),
			attribute.Int(AttrBaggageBytes, b.Bytes),
			attribute.Bool(AttrBaggageOversized, b.Oversized),
			attribute.Bool(AttrBaggageAtRisk, b.AtRisk),
		)
	}
	if e.piiTotal() > 0 {
		var kinds []string
		for _, k := range pii.AllKinds() {
			if n := e.pii[k]; n > 0 {
				kinds = append(kinds, k.String())
				attrs = append(attrs, attribute.Int(AttrPIIPrefix+k.String(), n))
			}
		}
		attrs = append(attrs, attribute.StringSlice(AttrPIIKinds, kinds))
	}
	if e.suspect > 0 {
		attrs = append(attrs, attribute.Int(AttrSuspectKeys, e.suspect))
	}
	if e.truncated {
		attrs = append(attrs, attribute.Bool(AttrTruncated, true))
	}
	if e.chain != "" {
		attrs = append(attrs, attribute.String(AttrChain, e.chain))
	}
	return attrs
}
