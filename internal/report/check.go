// Package report turns the engine's verdicts into what people and programs
// read: the result of `propwatch check`, and (with the observer) per-pair
// aggregates, Prometheus metrics and JSON reports.
//
// Everything here is built from codes, counts, sizes and fingerprints. No
// function in this package is given a raw header value, which is how the
// privacy rule "no value that may be PII reaches an output" is kept by
// construction rather than by care.
package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/propwatch/propwatch/internal/parse"
	"github.com/propwatch/propwatch/internal/parse/pii"
)

// Check is the result of judging one request head, as `propwatch check
// --json` prints it. Field names are part of the CLI's contract.
type Check struct {
	Context          string         `json:"context"`
	Reasons          []string       `json:"reasons"`
	Formats          []string       `json:"formats"`
	Baggage          BaggageSize    `json:"baggage"`
	OversizedBaggage bool           `json:"oversized_baggage"`
	AtRiskBaggage    bool           `json:"at_risk_baggage"`
	PIIByKind        map[string]int `json:"pii_by_kind"`
	SuspectKeys      int            `json:"suspect_keys"`
	Findings         []CheckFinding `json:"findings"`
	FindingsDropped  int            `json:"findings_dropped"`
	Truncated        bool           `json:"truncated"`
	HeadBytes        int            `json:"head_bytes"`
	Problem          bool           `json:"problem"`
}

// BaggageSize is the size of a request's W3C baggage, all headers combined.
type BaggageSize struct {
	Headers int `json:"headers"`
	Members int `json:"members"`
	Bytes   int `json:"bytes"`
}

// CheckFinding locates one PII finding without its value.
type CheckFinding struct {
	Kind        string `json:"kind"`
	Header      string `json:"header"`
	Member      int    `json:"member"`
	Part        string `json:"part"`
	Length      int    `json:"length"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// NewCheck copies what v says into a Check. headBytes is how many bytes of
// input the request head took.
func NewCheck(v *parse.Verdict, headBytes int) Check {
	c := Check{
		Context:          v.Context.String(),
		Reasons:          make([]string, 0, len(v.Reasons)),
		Formats:          v.Formats.AppendNames(make([]string, 0, 4)),
		Baggage:          BaggageSize{Headers: v.Baggage.Headers, Members: v.Baggage.Members, Bytes: v.Baggage.Bytes},
		OversizedBaggage: v.Baggage.Oversized,
		AtRiskBaggage:    v.Baggage.AtRisk,
		PIIByKind:        make(map[string]int, len(pii.AllKinds())),
		SuspectKeys:      v.SuspectKeys,
		Findings:         make([]CheckFinding, 0, len(v.Findings)),
		FindingsDropped:  v.FindingsDropped,
		Truncated:        v.Truncated,
		HeadBytes:        headBytes,
		Problem:          v.Problem(),
	}
	for _, r := range v.Reasons {
		c.Reasons = append(c.Reasons, string(r))
	}
	// Every kind is present, zero or not, so that consumers can rely on
	// the keys.
	for _, k := range pii.AllKinds() {
		c.PIIByKind[k.String()] = v.PII[k]
	}
	for _, f := range v.Findings {
		c.Findings = append(c.Findings, CheckFinding{
			Kind: f.Kind.String(), Header: f.Header, Member: f.Member,
			Part: f.Part.String(), Length: f.Length, Fingerprint: f.Fingerprint,
		})
	}
	return c
}

// WriteText prints c for a person reading a terminal or a CI log.
func (c Check) WriteText(w io.Writer) error {
	var b strings.Builder
	formats := "none"
	if len(c.Formats) > 0 {
		formats = strings.Join(c.Formats, ", ")
	}
	fmt.Fprintf(&b, "context        %s (formats: %s)\n", c.Context, formats)
	if len(c.Reasons) > 0 {
		fmt.Fprintf(&b, "reasons        %s\n", strings.Join(c.Reasons, ", "))
	}
	if c.Baggage.Headers > 0 {
		state := ""
		switch {
		case c.OversizedBaggage:
			state = " OVERSIZED"
		case c.AtRiskBaggage:
			state = " at risk (over 4 KiB: some proxies and servers drop it)"
		}
		fmt.Fprintf(&b, "baggage        %d members, %d bytes in %d header(s)%s\n",
			c.Baggage.Members, c.Baggage.Bytes, c.Baggage.Headers, state)
	}
	var kinds []string
	for _, k := range pii.AllKinds() {
		if n := c.PIIByKind[k.String()]; n > 0 {
			kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		}
	}
	if len(kinds) > 0 {
		fmt.Fprintf(&b, "pii            %s\n", strings.Join(kinds, ", "))
		for _, f := range c.Findings {
			fmt.Fprintf(&b, "  %-13s in %s member %d %s (%d bytes)", f.Kind, f.Header, f.Member, f.Part, f.Length)
			if f.Fingerprint != "" {
				fmt.Fprintf(&b, " fingerprint %s", f.Fingerprint)
			}
			b.WriteByte('\n')
		}
		if c.FindingsDropped > 0 {
			fmt.Fprintf(&b, "  … and %d more\n", c.FindingsDropped)
		}
	}
	if c.SuspectKeys > 0 {
		fmt.Fprintf(&b, "suspect keys   %d (key names that suggest PII or secrets)\n", c.SuspectKeys)
	}
	if c.Truncated {
		fmt.Fprintf(&b, "truncated      the head ended after %d bytes without its empty line\n", c.HeadBytes)
	}
	if c.Problem {
		b.WriteString("result         problem found\n")
	} else {
		b.WriteString("result         ok\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
