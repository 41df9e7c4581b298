package audit

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes the audit as a terminal table: a summary line, the top
// worst pairs with a defect (all of them when top is 0 or less) with the
// nodes that saw them, each node's coverage, and the inputs that did not
// answer.
func (a *Audit) WriteText(w io.Writer, top int) error {
	var b strings.Builder
	m := &a.Merged
	fmt.Fprintf(&b, "propwatch audit: %d %s (%s), %s to %s: %d pairs, %d requests, %d pairs with defects",
		len(m.Hosts), plural(len(m.Hosts), "node", "nodes"), strings.Join(m.Hosts, ", "),
		m.Started.Format("2006-01-02 15:04:05Z07:00"), m.Ended.Format("2006-01-02 15:04:05Z07:00"),
		len(a.Pairs), a.Requests(), a.Defective())
	if len(a.Missing) > 0 {
		fmt.Fprintf(&b, "; %d %s did not answer", len(a.Missing), plural(len(a.Missing), "input", "inputs"))
	}
	b.WriteString("\n\n")

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "SOURCE -> DESTINATION\tPROTO\tREQUESTS\tMISSING\tBROKEN\tINVALID\tOVERSIZED\tPII\tNODES\n")
	shown, defective := 0, 0
	for i := range a.Pairs {
		p := &a.Pairs[i]
		if !p.Defective() {
			continue
		}
		defective++
		if top > 0 && shown == top {
			continue
		}
		shown++
		pii := strings.Join(p.PIIKinds(), " ")
		if pii == "" {
			pii = "-"
		}
		fmt.Fprintf(tw, "%s -> %s\t%s\t%d\t%s\t%s\t%s\t%d\t%s\t%s\n", p.SourceName(), p.DestinationName(), p.ShownProtocol(),
			p.Requests, pct(p.MissingRate()), pct(p.BrokenRate()), pct(p.InvalidRate()), p.OversizedBaggage,
			pii, strings.Join(p.Nodes, ","))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	switch {
	case defective == 0:
		b.WriteString("No pair has a defect.\n")
	case shown < defective:
		fmt.Fprintf(&b, "... and %d more pairs with defects (--top 0 for all, --json or --html for everything).\n", defective-shown)
	}

	b.WriteString("\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "NODE\tINPUT\tREQUESTS\tLOST EVENTS\tGAPS\tKERNEL ERRORS\tPARSE FAILURES\n")
	for _, n := range a.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\n", n.Host, n.Source, n.Requests, n.Report.LostEvents,
			n.Gaps, n.KernelErrors, n.ParseFailures)
	}
	for _, in := range a.Missing {
		fmt.Fprintf(tw, "-\t%s\tdid not answer: %v\n", in.Source, in.Err)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, h := range a.Duplicates {
		fmt.Fprintf(&b, "warning: more than one input is the report of %s: its counts are summed as often\n", h)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// pct prints a rate as a percentage with one decimal; "-" for none.
func pct(r float64) string {
	if r == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*r)
}
